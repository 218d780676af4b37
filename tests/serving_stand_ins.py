"""Stand-ins for the TF Serving binary, which cannot be installed on this machine.

Both serve a SavedModel the way TF Serving does (tf.saved_model.load + the named signature),
on 127.0.0.1 only: a gRPC PredictionService (tensorflow-serving-api's own protos and service
definition) and the REST predict endpoint with base64 for *_bytes keys.
"""

from __future__ import annotations

import base64
import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def _run_signature(model, signature_name: str, inputs: dict) -> dict:
    function = model.signatures[signature_name or "serving_default"]
    return {key: value.numpy() for key, value in function(**inputs).items()}


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model):
        self._model = model

    def Predict(self, request, context):
        inputs = {key: tf.constant(tf.make_ndarray(proto)) for key, proto in request.inputs.items()}
        try:
            outputs = _run_signature(self._model, request.model_spec.signature_name, inputs)
        except tf.errors.InvalidArgumentError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message.splitlines()[0])
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


def serve_grpc(model_dir: str):
    """Starts the gRPC stand-in; returns (server, 'host:port'). Call server.stop(None)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(tf.saved_model.load(model_dir)), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def serve_rest(model_dir: str, model_name: str):
    """Starts the REST stand-in; returns (server, base URL). Call server.shutdown()."""
    model = tf.saved_model.load(model_dir)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            if self.path != f"/v1/models/{model_name}:predict":
                return self._reply(404, {"error": f"no model at {self.path}"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            signature = model.signatures[body.get("signature_name", "serving_default")]
            (key,) = signature.structured_input_signature[1]
            rows = [
                base64.b64decode(row["b64"]) if isinstance(row, dict) else row
                for row in body["instances"]
            ]
            try:
                outputs = _run_signature(
                    model, body.get("signature_name"), {key: tf.constant(rows)}
                )
            except tf.errors.InvalidArgumentError as error:
                return self._reply(400, {"error": error.message.splitlines()[0]})
            ((name, values),) = outputs.items()
            encode = name.endswith("_bytes")
            self._reply(
                200,
                {
                    "predictions": [
                        {"b64": base64.b64encode(v).decode()} if encode else v.tolist()
                        for v in values
                    ]
                },
            )

        def _reply(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
