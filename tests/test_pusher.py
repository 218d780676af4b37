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


def _fail_copies_after(count, error, monkeypatch):
    """tf.io.gfile.copy copies `count` files, then raises `error`; returns the targets
    copied."""
    real_copy, copies = tf.io.gfile.copy, []

    def copy(source, target, overwrite=False):
        if len(copies) == count:
            raise error
        copies.append(target)
        real_copy(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", copy)
    return copies


SERVING_FILES = {serving_dir.MODEL_CONFIG_FILE, serving_dir.VERSIONS_FILE, serving_dir.LOCK_FILE}


def test_push_renames_a_complete_version_into_place(tmp_path):
    base = str(tmp_path / "serving" / "cyclegan")
    version_dir, new, labels, pruned = push(_model(tmp_path / "m1", b"one"), base)
    assert new and os.path.dirname(version_dir) == base
    # No staging left behind.
    assert set(os.listdir(base)) == {os.path.basename(version_dir)} | SERVING_FILES
    assert directory_fingerprint(version_dir) == directory_fingerprint(str(tmp_path / "m1"))
    assert labels == {"stable": int(os.path.basename(version_dir))} and pruned == []


def test_repush_of_the_same_model_creates_no_new_version(tmp_path):
    base = str(tmp_path / "cyclegan")
    first = push(_model(tmp_path / "m1", b"one"), base).path
    again, new, _, _ = push(_model(tmp_path / "copy", b"one"), base)
    assert (again, new) == (first, False)
    second, new, _, _ = push(_model(tmp_path / "m2", b"two"), base)
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
    real_rename = tf.io.gfile.rename

    def rename_files_only(source, target, overwrite=False):
        assert not tf.io.gfile.isdir(source)  # a model's rename is a copy in disguise there
        real_rename(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", rename_files_only)
    version_dir, new, _, _ = push(model, base)
    assert new and copied[-1] == "saved_model.pb" and len(copied) == 4
    assert serving_dir.latest_servable(base).path == version_dir
    assert directory_fingerprint(version_dir) == directory_fingerprint(model)
    assert push(model, base)[:2] == (version_dir, False)
    assert serving_dir.stable_version(base).path == version_dir  # labels on ram:// too


def test_paths_that_rename_atomically():
    assert serving_dir._is_posix("/srv/models/cyclegan")
    assert serving_dir._is_posix("file:///srv/models")
    assert not serving_dir._is_posix("gs://bucket/models")
    assert not serving_dir._is_posix("s3://bucket/models")


def _model_server_config(base):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    with open(os.path.join(base, serving_dir.MODEL_CONFIG_FILE)) as file:
        return text_format.Parse(file.read(), model_server_config_pb2.ModelServerConfig())


def test_labels_are_tf_servings_model_config_and_the_baseline_follows_stable(tmp_path):
    base = str(tmp_path / "cyclegan")
    first = push(_model(tmp_path / "m1", b"one"), base, model_name="h2z").path
    second = push(_model(tmp_path / "m2", b"two"), base).path
    v1, v2 = (int(os.path.basename(p)) for p in (first, second))
    (model,) = _model_server_config(base).model_config_list.config
    assert (model.name, model.base_path) == ("h2z", base)
    assert dict(model.version_labels) == {"stable": v2}
    assert list(model.model_version_policy.specific.versions) == [v2]
    assert serving_dir.stable_version(base).path == second

    # A canary push leaves stable where it is; both versions are served.
    third = push(_model(tmp_path / "m3", b"three"), base, label="canary").path
    v3 = int(os.path.basename(third))
    (model,) = _model_server_config(base).model_config_list.config
    assert dict(model.version_labels) == {"stable": v2, "canary": v3}
    assert list(model.model_version_policy.specific.versions) == [v2, v3]
    assert serving_dir.stable_version(base).path == second

    serving_dir.move_label(base, "stable", v1)  # a rollback
    assert serving_dir.stable_version(base).path == first
    with pytest.raises(ValueError, match="version 12 is not in"):
        serving_dir.move_label(base, "stable", 12)
    records = serving_dir.read_records(base)
    assert sorted(records) == [v1, v2, v3] and all("pushed_at" in r for r in records.values())


def test_pruning_keeps_the_newest_and_every_labelled_version(tmp_path):
    base = str(tmp_path / "cyclegan")
    paths = [push(_model(tmp_path / f"m{i}", bytes([65 + i])), base).path for i in range(3)]
    numbers = [int(os.path.basename(p)) for p in paths]
    serving_dir.move_label(base, "stable", numbers[0])  # rolled back to the oldest
    pushed = push(_model(tmp_path / "m3", b"D"), base, label="canary", keep_versions=2)
    newest = int(os.path.basename(pushed.path))
    # numbers[1] goes: neither among the 2 newest nor labelled.
    assert pushed.pruned == [numbers[1]]
    assert serving_dir.versions(base) == [numbers[0], numbers[2], newest]
    assert pushed.labels == {"stable": numbers[0], "canary": newest}
    assert sorted(serving_dir.read_records(base)) == [numbers[0], numbers[2], newest]


def test_a_push_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch):
    base = str(tmp_path / "cyclegan")
    kept = push(_model(tmp_path / "m1", b"one"), base).path
    copies = _fail_copies_after(
        2, tf.errors.ResourceExhaustedError(None, None, "No space left on device"), monkeypatch
    )
    with pytest.raises(serving_dir.PushError) as error:
        push(_model(tmp_path / "m2", b"two"), base)
    message = str(error.value)
    assert message.startswith("not pushed: no space left on /") and "the model needs" in message
    assert "\n" not in message
    assert any(target.startswith(os.path.join(base, ".incoming-")) for target in copies)
    assert set(os.listdir(base)) == {os.path.basename(kept)} | SERVING_FILES
    assert serving_dir.stable_version(base).path == kept


def test_a_full_disk_is_refused_before_copying(tmp_path, monkeypatch):
    base = str(tmp_path / "cyclegan")
    os.makedirs(base)
    monkeypatch.setattr(
        serving_dir.shutil, "disk_usage", lambda path: serving_dir.shutil._ntuple_diskusage(1, 1, 0)
    )
    monkeypatch.setattr(tf.io.gfile, "copy", pytest.fail)
    with pytest.raises(serving_dir.PushError, match="MiB are free"):
        push(_model(tmp_path / "m1", b"one" * 1000), base)
    assert serving_dir.versions(base) == []


def test_the_next_push_removes_what_a_killed_push_left(tmp_path):
    base = str(tmp_path / "cyclegan")
    leftover = os.path.join(base, ".incoming-1700000000")
    _model(leftover, b"half")
    pushed = push(_model(tmp_path / "m1", b"one"), base)
    assert set(os.listdir(base)) == {os.path.basename(pushed.path)} | SERVING_FILES


def test_pushes_into_one_directory_take_turns(tmp_path):
    import threading

    base = str(tmp_path / "cyclegan")
    os.makedirs(base)
    model = _model(tmp_path / "m1", b"one")
    with serving_dir.push_lock(base):
        pusher = threading.Thread(target=push, args=(model, base))
        pusher.start()
        pusher.join(timeout=2)
        assert pusher.is_alive() and serving_dir.versions(base) == []
    pusher.join()
    assert len(serving_dir.versions(base)) == 1


def test_a_failed_object_store_push_leaves_no_version(monkeypatch):
    model = _model("ram://source/m2", b"model two")
    base = "ram://bucket/failing/cyclegan"
    _fail_copies_after(2, tf.errors.UnavailableError(None, None, "connection reset"), monkeypatch)
    with pytest.raises(tf.errors.UnavailableError):
        push(model, base)
    assert serving_dir.versions(base) == []
