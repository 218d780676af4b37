"""What a client of the pushed SavedModel relies on: signature names, tensor keys, the files
beside the model. Pure Python (no TensorFlow), so a REST client needs nothing heavy; the
export writes exactly these (see export.py for the signatures' behaviour)."""

from __future__ import annotations

from cyclegan.config import Config

# Bytes signatures: encoded images in, PNGs out. Keys end in "_bytes" so TF Serving's REST
# API base64-encodes them ({"b64": ...}).
BYTES_INPUT, BYTES_OUTPUT = "image_bytes", "png_bytes"
DIRECTIONS = ("a_to_b", "b_to_a")
SIGNATURES = {"a_to_b": "translate_a_to_b", "b_to_a": "translate_b_to_a"}
DEFAULT_SIGNATURE = "serving_default"  # = SIGNATURES["a_to_b"]
# Float signatures (<name>_float): images in [-1, 1] in and out, for callers that
# preprocess themselves, and for the Evaluator.
FLOAT_KEY = "images"
FLOAT_SUFFIX = "_float"
# TF Serving ignores assets.extra/.
CONFIG_ASSET = "assets.extra/cyclegan_config.json"
INFO_ASSET = "assets.extra/serving_info.json"
# TF Serving replays these requests when it loads a version (the name is TF Serving's).
WARMUP_ASSET = "assets.extra/tf_serving_warmup_requests"


def serving_info(config: Config) -> dict:
    """serving_info.json: these conventions, for a person or a client reading the model."""
    return {
        "image_size": config.data.crop_size,
        "resize": f"shorter side to image_size ({config.data.resize_method}), centre crop",
        "directions": {"a_to_b": "domain A -> domain B", "b_to_a": "domain B -> domain A"},
        "signatures": {
            name: {
                "input": f"{BYTES_INPUT}: string [batch] of encoded images",
                "output": f"{BYTES_OUTPUT}: string [batch] of PNG images",
            }
            for name in SIGNATURES.values()
        }
        | {
            name + FLOAT_SUFFIX: {
                "input": f"{FLOAT_KEY}: float32 [batch, size, size, 3] in [-1, 1]",
                "output": f"{FLOAT_KEY}: the same",
            }
            for name in SIGNATURES.values()
        },
        DEFAULT_SIGNATURE: SIGNATURES["a_to_b"],
    }
