"""Three ways to call a pushed CycleGAN generator, one interface: translate(images, direction).

  LocalBackend  a SavedModel directory (or a TF Serving base directory: its latest version)
  GrpcBackend   TF Serving's gRPC PredictionService (tensorflow-serving-api)
  RestBackend   TF Serving's REST API, POST /v1/models/<name>:predict with base64 images

Signature names and input/output keys come from cyclegan.serving_contract, which the export
writes and which needs no TensorFlow (the REST backend runs without it).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from typing import List, Sequence

from cyclegan import serving_contract

DIRECTIONS = serving_contract.DIRECTIONS


class TranslationError(RuntimeError):
    """The server (or model) rejected a request; the message says why."""


def _signature(direction: str) -> str:
    if direction not in serving_contract.SIGNATURES:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return serving_contract.SIGNATURES[direction]


def resolve_model_dir(path: str) -> str:
    """A SavedModel directory, or the version TF Serving would serve from a base directory."""
    from cyclegan import serving_dir  # TensorFlow: only the local backend pays for it

    if os.path.exists(os.path.join(path, serving_dir.SAVED_MODEL_FILE)):
        return path
    version = serving_dir.latest_servable(path)
    if version is None:
        raise FileNotFoundError(
            f"{path!r} is neither a SavedModel nor a directory of numbered versions"
        )
    return version.path


class LocalBackend:
    def __init__(self, model_dir: str):
        import tensorflow as tf

        self._tf = tf
        self.model_dir = resolve_model_dir(model_dir)
        self._model = tf.saved_model.load(self.model_dir)

    def translate(self, images: Sequence[bytes], direction: str) -> List[bytes]:
        function = self._model.signatures[_signature(direction)]
        try:
            outputs = function(**{serving_contract.BYTES_INPUT: self._tf.constant(list(images))})
        except self._tf.errors.InvalidArgumentError as error:
            raise TranslationError(error.message.splitlines()[0]) from None
        return list(outputs[serving_contract.BYTES_OUTPUT].numpy())


def build_predict_request(images: Sequence[bytes], direction: str, model_name: str):
    """A TF Serving PredictRequest for the bytes signature of `direction`."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = _signature(direction)
    request.inputs[serving_contract.BYTES_INPUT].CopyFrom(
        tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)])
    )
    return request


def parse_predict_response(response) -> List[bytes]:
    return list(response.outputs[serving_contract.BYTES_OUTPUT].string_val)


class GrpcBackend:
    def __init__(self, address: str, model_name: str, timeout_s: float = 60.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self._grpc = grpc
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_send_message_length", 64 << 20),
                ("grpc.max_receive_message_length", 64 << 20),
            ],
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.model_name = model_name
        self.timeout_s = timeout_s

    def translate(self, images: Sequence[bytes], direction: str) -> List[bytes]:
        request = build_predict_request(images, direction, self.model_name)
        try:
            response = self._stub.Predict(request, timeout=self.timeout_s)
        except self._grpc.RpcError as error:
            raise TranslationError(f"{error.code().name}: {error.details()}") from None
        return parse_predict_response(response)


def build_rest_request(images: Sequence[bytes], direction: str) -> dict:
    """The JSON body of POST /v1/models/<name>:predict (row format, base64 images)."""
    return {
        "signature_name": _signature(direction),
        "instances": [{"b64": base64.b64encode(image).decode()} for image in images],
    }


def parse_rest_response(body: dict) -> List[bytes]:
    """TF Serving base64-encodes outputs whose key ends in _bytes: {"b64": ...} per row."""
    if "error" in body:
        raise TranslationError(body["error"])
    output = serving_contract.BYTES_OUTPUT
    return [
        base64.b64decode(row["b64"] if isinstance(row, dict) else row[output]["b64"])
        for row in body["predictions"]
    ]


class RestBackend:
    def __init__(self, url: str, model_name: str, timeout_s: float = 60.0):
        self.endpoint = f"{url.rstrip('/')}/v1/models/{model_name}:predict"
        self.timeout_s = timeout_s

    def translate(self, images: Sequence[bytes], direction: str) -> List[bytes]:
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps(build_rest_request(images, direction)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = json.loads(error.read() or b"{}")
            raise TranslationError(body.get("error", f"HTTP {error.code}")) from None
        return parse_rest_response(body)
