"""The serving contract: what clients rely on, importable without TensorFlow."""

import os
import subprocess
import sys

from cyclegan import serving_contract
from tests.helpers import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_serving_info_describes_every_signature():
    info = serving_contract.serving_info(tiny_config())
    bytes_names = set(serving_contract.SIGNATURES.values())
    float_names = {name + serving_contract.FLOAT_SUFFIX for name in bytes_names}
    assert set(info["signatures"]) == bytes_names | float_names
    assert info[serving_contract.DEFAULT_SIGNATURE] == serving_contract.SIGNATURES["a_to_b"]
    assert info["image_size"] == tiny_config().data.crop_size
    assert set(serving_contract.DIRECTIONS) == set(serving_contract.SIGNATURES)


def test_a_rest_client_needs_no_tensorflow():
    code = (
        "import sys, client.backends, cyclegan.serving_contract; print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"
