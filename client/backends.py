"""Three ways to call a pushed CycleGAN generator, one interface: translate(images, direction).

  LocalBackend  a SavedModel directory, or a TF Serving base directory: a version, a label's
                version, or by default the `stable` one (the newest without labels)
  GrpcBackend   TF Serving's gRPC PredictionService (tensorflow-serving-api)
  RestBackend   TF Serving's REST API, POST /v1/models/<name>:predict with base64 images

Signature names and input/output keys come from cyclegan.serving_contract, which the export
writes and which needs no TensorFlow (the REST backend runs without it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.request
from typing import List, Optional, Sequence

from cyclegan import serving_contract

DIRECTIONS = serving_contract.DIRECTIONS


class TranslationError(RuntimeError):
    """The server (or model) rejected a request; the message says why."""

    def __init__(self, message: str):
        super().__init__(reason(message))


def reason(message: str) -> str:
    """The model's own words from a TensorFlow error: the request guard's check
    ("image 1 of the batch ...") without TensorFlow's wrapping around it."""
    found = re.search(r"assertion failed: \[(.*?)\]", message, re.DOTALL)
    return found.group(1) if found else message.splitlines()[0] if message else message


def _signature(direction: str) -> str:
    if direction not in serving_contract.SIGNATURES:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return serving_contract.SIGNATURES[direction]


def resolve_model_dir(path: str, version: Optional[int] = None, label: Optional[str] = None) -> str:
    """A SavedModel directory, or from a base directory: `version`, the version `label`
    points to, or the stable one."""
    from cyclegan import serving_dir  # TensorFlow: only the local backend pays for it

    if os.path.exists(os.path.join(path, serving_dir.SAVED_MODEL_FILE)):
        if version is not None or label:
            raise ValueError(f"{path!r} is one SavedModel: it has no versions or labels")
        return path
    if label:
        state = serving_dir.read_state(path)
        labels = state.labels if state else {}
        if label not in labels:
            raise ValueError(f"no version of {path!r} is labelled {label!r} (labels: {labels})")
        version = labels[label]
    if version is not None:
        chosen = serving_dir.servable(path, version)
        if chosen is None:
            raise ValueError(f"{path!r} has no version {version} ({serving_dir.versions(path)})")
        return chosen.path
    stable = serving_dir.stable_version(path)
    if stable is None:
        raise FileNotFoundError(
            f"{path!r} is neither a SavedModel nor a directory of numbered versions"
        )
    return stable.path


def _set_version(model_spec, version: Optional[int], label: Optional[str]) -> None:
    if version is not None:
        model_spec.version.value = version
    elif label:
        model_spec.version_label = label


class LocalBackend:
    def __init__(self, model_dir: str, version: Optional[int] = None, label: Optional[str] = None):
        import tensorflow as tf

        self._tf = tf
        self.model_dir = resolve_model_dir(model_dir, version, label)
        self._model = tf.saved_model.load(self.model_dir)

    def translate(self, images: Sequence[bytes], direction: str) -> List[bytes]:
        function = self._model.signatures[_signature(direction)]
        try:
            outputs = function(**{serving_contract.BYTES_INPUT: self._tf.constant(list(images))})
        except self._tf.errors.InvalidArgumentError as error:
            raise TranslationError(error.message) from None
        return list(outputs[serving_contract.BYTES_OUTPUT].numpy())


def build_predict_request(
    images: Sequence[bytes],
    direction: str,
    model_name: str,
    version: Optional[int] = None,
    label: Optional[str] = None,
):
    """A TF Serving PredictRequest for the bytes signature of `direction`, to a version or
    a label (default: the newest version the server has loaded)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    _set_version(request.model_spec, version, label)
    request.model_spec.signature_name = _signature(direction)
    request.inputs[serving_contract.BYTES_INPUT].CopyFrom(
        tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)])
    )
    return request


def parse_predict_response(response) -> List[bytes]:
    return list(response.outputs[serving_contract.BYTES_OUTPUT].string_val)


class GrpcBackend:
    def __init__(
        self,
        address: str,
        model_name: str,
        timeout_s: float = 60.0,
        version: Optional[int] = None,
        label: Optional[str] = None,
    ):
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
        self.version, self.label = version, label

    def translate(self, images: Sequence[bytes], direction: str) -> List[bytes]:
        request = build_predict_request(
            images, direction, self.model_name, self.version, self.label
        )
        try:
            response = self._stub.Predict(request, timeout=self.timeout_s)
        except self._grpc.RpcError as error:
            raise TranslationError(f"{error.code().name}: {reason(error.details())}") from None
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


def rest_endpoint(
    url: str, model_name: str, version: Optional[int] = None, label: Optional[str] = None
) -> str:
    """TF Serving's REST predict URL for the model, a version of it or a label."""
    model = f"{url.rstrip('/')}/v1/models/{model_name}"
    if version is not None:
        model += f"/versions/{version}"
    elif label:
        model += f"/labels/{label}"
    return model + ":predict"


class RestBackend:
    def __init__(
        self,
        url: str,
        model_name: str,
        timeout_s: float = 60.0,
        version: Optional[int] = None,
        label: Optional[str] = None,
    ):
        self.endpoint = rest_endpoint(url, model_name, version, label)
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
