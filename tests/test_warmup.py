"""TF Serving's warm-up requests, written by the export."""

import os

import tensorflow as tf

from cyclegan import serving_contract


def test_warmup_requests_are_tf_servings_format_and_each_one_runs(tiny_export):
    from tensorflow_serving.apis import prediction_log_pb2

    loaded = tf.saved_model.load(tiny_export)
    path = os.path.join(tiny_export, serving_contract.WARMUP_ASSET)
    seen = set()
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        (key,) = request.inputs
        inputs = tf.make_ndarray(request.inputs[key])
        outputs = loaded.signatures[request.model_spec.signature_name](**{key: inputs})
        (result,) = outputs.values()
        assert result.shape[0] == inputs.shape[0]
        if key == serving_contract.BYTES_INPUT:
            for png in result.numpy():
                assert tf.io.decode_png(png).shape == (32, 32, 3)
        seen.add((request.model_spec.signature_name, inputs.shape[0]))
    # Every signature, at batch 1 and at export.warmup_batch_size (8).
    assert seen == {(name, batch) for name in loaded.signatures for batch in (1, 8)}
