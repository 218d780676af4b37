"""The serving directory: the Evaluator's baseline is the newest version serving can load."""

import os

import pytest

from cyclegan import serving_dir


def _version(base, name, loadable=True):
    path = os.path.join(base, name)
    os.makedirs(os.path.join(path, "variables"))
    if loadable:
        open(os.path.join(path, serving_dir.SAVED_MODEL_FILE), "wb").close()
    return path


@pytest.mark.parametrize("make_base", [False, True])
def test_no_version_no_baseline(tmp_path, make_base):
    base = str(tmp_path / "cyclegan")
    if make_base:
        os.makedirs(base)
    assert serving_dir.versions(base) == []
    assert serving_dir.latest_servable(base) is None


def test_one_version_is_the_baseline(tmp_path):
    path = _version(str(tmp_path), "1700000000")
    assert serving_dir.latest_servable(str(tmp_path)) == (1700000000, path)


def test_the_newest_numeric_version_wins_over_everything_beside_it(tmp_path):
    base = str(tmp_path)
    for name in ("7", "12", "9"):
        _version(base, name)
    newest = _version(base, "100")  # numerically newest, though "9" sorts after it as text
    _version(base, ".incoming-200")  # a staging folder of a push in progress
    _version(base, "notes")
    assert serving_dir.versions(base) == [7, 9, 12, 100]
    open(os.path.join(base, "300"), "w").close()  # a file, not a version directory
    assert serving_dir.latest_servable(base) == (100, newest)


def test_a_version_without_saved_model_is_not_what_serving_has(tmp_path):
    base = str(tmp_path)
    older = _version(base, "5")
    _version(base, "6", loadable=False)  # an object-store push cut short
    assert serving_dir.latest_servable(base) == (5, older)
