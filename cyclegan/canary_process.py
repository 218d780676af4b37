"""The canary's process: a candidate SavedModel loaded as TF Serving loads it, in a process
that imports TensorFlow, tensorflow-serving-api and nothing of this project, then asked what
clients ask it: its own warm-up requests (TF Serving's assets.extra file), each answer
checked. canary.py starts it; it prints one JSON line: {"ok": bool, "reason": "...",
"requests": N}.

    python -I canary_process.py MODEL_DIR IMAGE_SIZE                 # tf.saved_model.load
    python -I canary_process.py MODEL_DIR IMAGE_SIZE --server H:P NAME  # a running TF Serving
"""

import json
import os
import sys

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")  # TF Serving's name
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Refused(Exception):
    pass


def local_caller(model_dir):
    import tensorflow as tf

    model = tf.saved_model.load(model_dir, tags=["serve"])

    def call(request):
        name = request.model_spec.signature_name or "serving_default"
        if name not in model.signatures:
            raise Refused(
                f"the model has no signature {name!r} (it has {sorted(model.signatures)})"
            )
        inputs = {key: tf.make_ndarray(value) for key, value in request.inputs.items()}
        try:
            outputs = model.signatures[name](**inputs)
        except tf.errors.OpError as error:
            raise Refused(f"{name}: {error.message.splitlines()[0]}") from None
        return {key: value.numpy() for key, value in outputs.items()}

    return call


def server_caller(address, model_name, timeout_s):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))

    def call(request):
        request.model_spec.name = model_name
        try:
            response = stub.Predict(request, timeout=timeout_s)
        except grpc.RpcError as error:
            raise Refused(f"TF Serving: {error.code().name}: {error.details()}") from None
        return {key: tf.make_ndarray(value) for key, value in response.outputs.items()}

    return call


def check_answer(request, outputs, size):
    import numpy as np
    import tensorflow as tf

    name = request.model_spec.signature_name or "serving_default"
    batch = next(iter(request.inputs.values())).tensor_shape.dim[0].size
    for key, value in outputs.items():
        if value.shape[0] != batch:
            raise Refused(f"{name}: {value.shape[0]} answers to a batch of {batch}")
        if value.dtype == object:  # encoded images
            for index, encoded in enumerate(value):
                if not encoded.startswith(PNG_MAGIC):
                    raise Refused(f"{name}: answer {index} is not a PNG")
                shape = tuple(tf.io.decode_png(encoded).shape)
                if shape != (size, size, 3):
                    raise Refused(f"{name}: answer {index} is {shape}, not ({size}, {size}, 3)")
        elif value.shape[1:] != (size, size, 3) or not np.isfinite(value).all():
            raise Refused(f"{name}: {key} has shape {value.shape} or values that are not finite")


def main(argv):
    model_dir, size = argv[0], int(argv[1])
    result = {"ok": False, "reason": "", "requests": 0}
    try:
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_log_pb2

        path = os.path.join(model_dir, WARMUP_FILE)
        if not tf.io.gfile.exists(path):
            raise Refused(f"no warm-up requests at {path}")
        if len(argv) > 2 and argv[2] == "--server":
            call = server_caller(argv[3], argv[4], timeout_s=600)
        else:
            call = local_caller(model_dir)
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
            check_answer(request, call(request), size)
            result["requests"] += 1
        if not result["requests"]:
            raise Refused(f"{path} holds no requests")
        result["ok"] = True
    except Refused as refusal:
        result["reason"] = str(refusal)
    except Exception as error:  # a model that cannot load, say: the reason is the result
        result["reason"] = (
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
