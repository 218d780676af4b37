"""The translate client against a pushed model: locally, over gRPC and over REST."""

import base64
import io
import os
import shutil

import pytest
import tensorflow as tf
from PIL import Image

from client import backends, translate
from cyclegan import serving_contract
from cyclegan.model import CycleGan
from cyclegan.serving_dir import push
from tests.helpers import SHARED_DATA, encode, export_model, random_pixels, tiny_config
from tests.serving_stand_ins import serve_grpc, serve_rest


@pytest.fixture(scope="module")
def serving_base(tmp_path_factory):
    """A tiny model exported and pushed into <base>/cyclegan/<version>/."""
    root = tmp_path_factory.mktemp("serving")
    config = tiny_config()
    model = CycleGan(config)
    export_model(model, config, str(root / "export"))
    base = str(root / "cyclegan")
    push(str(root / "export"), base)
    return base


def _png_size(data: bytes):
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


@pytest.mark.skipif(
    not os.path.isdir(SHARED_DATA), reason=f"real horse2zebra images not found at {SHARED_DATA}"
)
def test_translate_real_test_images_locally(tmp_path, serving_base, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    names = sorted(os.listdir(os.path.join(SHARED_DATA, "testA")))[:4]
    for name in names:
        shutil.copy(os.path.join(SHARED_DATA, "testA", name), folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    code = translate.main(
        [str(folder), "--output", str(tmp_path / "out"), "--model-dir", serving_base]
    )
    assert code == 1  # one file failed...
    for name in names:  # ...and every other one was translated
        assert _png_size((tmp_path / "out" / (name[:-4] + ".png")).read_bytes()) == (32, 32)
    printed = capsys.readouterr()
    assert "[5/5]" in printed.out and "4 translated, 1 failed" in printed.out
    assert "broken.jpg" in printed.err
    assert "FAILED: image 0 of the batch (13 bytes) is not a JPEG, PNG, GIF or BMP" in printed.out


def test_local_backend_picks_the_newest_version(serving_base):
    backend = backends.LocalBackend(serving_base)
    assert os.path.dirname(backend.model_dir) == serving_base
    (png,) = backend.translate([encode(random_pixels(40, 50), "JPEG")], "b_to_a")
    assert _png_size(png) == (32, 32)


def test_a_version_or_a_label_chooses_the_model(tmp_path):
    from cyclegan import serving_dir

    config = tiny_config()
    base = str(tmp_path / "cyclegan")
    first = push(export_model(CycleGan(config), config, str(tmp_path / "one")), base).path
    second = push(export_model(CycleGan(config), config, str(tmp_path / "two")), base).path
    number = int(os.path.basename(first))
    assert backends.resolve_model_dir(base) == second  # stable
    serving_dir.move_label(base, "stable", number)
    assert backends.resolve_model_dir(base) == first
    assert backends.resolve_model_dir(base, label="stable") == first
    assert backends.resolve_model_dir(base, version=int(os.path.basename(second))) == second
    with pytest.raises(ValueError, match="labelled 'canary'"):
        backends.resolve_model_dir(base, label="canary")
    with pytest.raises(ValueError, match="has no version 3"):
        backends.resolve_model_dir(base, version=3)
    # Servers: the request names the version or label.
    request = backends.build_predict_request([b"x"], "a_to_b", "cyclegan", version=number)
    assert request.model_spec.version.value == number
    request = backends.build_predict_request([b"x"], "a_to_b", "cyclegan", label="canary")
    assert request.model_spec.version_label == "canary"
    assert backends.rest_endpoint("http://h:8501/", "m", label="stable") == (
        "http://h:8501/v1/models/m/labels/stable:predict"
    )
    assert backends.rest_endpoint("http://h:8501", "m", version=7) == (
        "http://h:8501/v1/models/m/versions/7:predict"
    )
    assert backends.rest_endpoint("http://h:8501", "m") == "http://h:8501/v1/models/m:predict"


def test_grpc_request_and_response_use_tf_serving_protos():
    request = backends.build_predict_request([b"one", b"two"], "b_to_a", "zebra")
    assert request.model_spec.name == "zebra"
    assert request.model_spec.signature_name == "translate_b_to_a"
    tensor = request.inputs[serving_contract.BYTES_INPUT]
    assert tensor.dtype == tf.string.as_datatype_enum
    assert [d.size for d in tensor.tensor_shape.dim] == [2]
    assert list(tensor.string_val) == [b"one", b"two"]


def test_grpc_round_trip_through_a_prediction_service(serving_base):
    # Stand-in for tensorflow_model_server (cannot be installed here): an in-process gRPC
    # PredictionService serving the pushed SavedModel.
    server, address = serve_grpc(backends.resolve_model_dir(serving_base))
    try:
        client = backends.GrpcBackend(address, "cyclegan")
        jpeg = encode(random_pixels(40, 50), "JPEG")
        pngs = client.translate([jpeg, encode(random_pixels(20, 20), "PNG", "L")], "a_to_b")
        assert [_png_size(p) for p in pngs] == [(32, 32), (32, 32)]
        with pytest.raises(backends.TranslationError, match="INVALID_ARGUMENT") as error:
            client.translate([jpeg, b"not an image"], "a_to_b")
        assert "image 1 of the batch (12 bytes) is not a JPEG" in str(error.value)
        assert client.translate([jpeg], "a_to_b") == pngs[:1]  # still serving
    finally:
        server.stop(None)


def test_rest_request_and_response_format():
    body = backends.build_rest_request([b"\x01\x02"], "a_to_b")
    assert body == {
        "signature_name": "translate_a_to_b",
        "instances": [{"b64": base64.b64encode(b"\x01\x02").decode()}],
    }
    assert backends.parse_rest_response({"predictions": [{"b64": "AAE="}]}) == [b"\x00\x01"]
    with pytest.raises(backends.TranslationError, match="bad image"):
        backends.parse_rest_response({"error": "bad image"})


def test_rest_round_trip(serving_base, tmp_path):
    # Stand-in for TF Serving's REST API on 127.0.0.1.
    server, url = serve_rest(backends.resolve_model_dir(serving_base), "cyclegan")
    try:
        image = tmp_path / "horse.png"
        image.write_bytes(encode(random_pixels(64, 64), "PNG", "RGBA"))
        assert (
            translate.main(
                [
                    str(image),
                    "--output",
                    str(tmp_path / "out"),
                    "--rest",
                    url,
                    "--direction",
                    "b_to_a",
                ]
            )
            == 0
        )
        assert _png_size((tmp_path / "out" / "horse.png").read_bytes()) == (32, 32)
        with pytest.raises(backends.TranslationError, match=r"^image 0 of the batch \(4 bytes"):
            backends.RestBackend(url, "cyclegan").translate([b"junk"], "a_to_b")
    finally:
        server.shutdown()
