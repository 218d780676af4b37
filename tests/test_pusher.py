import os

import pytest
import tensorflow as tf

from cyclegan import serving_dir
from cyclegan.serving_dir import directory_fingerprint, push


def _model(path, content: bytes):
    path = str(path)
    tf.io.gfile.makedirs(os.path.join(path, "variables"))
    for name, data in (
        ("saved_model.pb", content),
        ("fingerprint.pb", content[:1]),
        ("variables/variables.index", content * 2),
        ("variables/variables.data-00000-of-00001", content * 3),
    ):
        with tf.io.gfile.GFile(os.path.join(path, name), "wb") as file:
            file.write(data)
    return path


def test_push_renames_a_complete_version_into_place(tmp_path):
    base = str(tmp_path / "serving" / "cyclegan")
    version_dir, new = push(_model(tmp_path / "m1", b"one"), base)
    assert new and os.path.dirname(version_dir) == base
    assert os.listdir(base) == [os.path.basename(version_dir)]  # no staging left behind
    assert directory_fingerprint(version_dir) == directory_fingerprint(str(tmp_path / "m1"))


def test_repush_of_the_same_model_creates_no_new_version(tmp_path):
    base = str(tmp_path / "cyclegan")
    first, _ = push(_model(tmp_path / "m1", b"one"), base)
    again, new = push(_model(tmp_path / "copy", b"one"), base)
    assert (again, new) == (first, False)
    second, new = push(_model(tmp_path / "m2", b"two"), base)
    assert new and int(os.path.basename(second)) > int(os.path.basename(first))
    assert serving_dir.versions(base) == [
        int(os.path.basename(first)),
        int(os.path.basename(second)),
    ]


def test_object_store_push_writes_saved_model_pb_last(monkeypatch):
    """On an object store (TF's in-memory ram:// filesystem stands in for gs://) there is no
    atomic rename: whenever a poller could see saved_model.pb, every other file is complete."""
    model = _model("ram://source/m1", b"model bytes")
    base = "ram://bucket/serving/cyclegan"
    copied, real_copy = [], tf.io.gfile.copy

    def observed_copy(source, target, overwrite=False):
        version = serving_dir.latest_servable(base)  # what TF Serving would load right now
        if version:
            assert directory_fingerprint(version.path) == directory_fingerprint(model)
        copied.append(os.path.relpath(target, base).split("/", 1)[1])
        real_copy(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", observed_copy)
    monkeypatch.setattr(tf.io.gfile, "rename", pytest.fail)  # a copy in disguise there
    version_dir, new = push(model, base)
    assert new and copied[-1] == "saved_model.pb" and len(copied) == 4
    assert serving_dir.latest_servable(base).path == version_dir
    assert directory_fingerprint(version_dir) == directory_fingerprint(model)
    assert push(model, base) == (version_dir, False)


def test_paths_that_rename_atomically():
    assert serving_dir._is_posix("/srv/models/cyclegan")
    assert serving_dir._is_posix("file:///srv/models")
    assert not serving_dir._is_posix("gs://bucket/models")
    assert not serving_dir._is_posix("s3://bucket/models")
