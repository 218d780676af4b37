"""Checkpoint identity: what decides the weights names the folder; length and cadence do not."""

import glob
import json
import logging
import os
import socket
import threading

import pytest
import tensorflow as tf

from cyclegan import checkpoints
from tests.helpers import write_pixel_records


@pytest.fixture
def train_files(tmp_path):
    return [
        write_pixel_records(str(tmp_path / "trainA" / "d"), 36, 3, 1),
        write_pixel_records(str(tmp_path / "trainB" / "d"), 36, 3, 2),
    ]


def test_the_data_fingerprint_follows_the_bytes_not_the_folder(tmp_path, train_files):
    fingerprint = checkpoints.data_fingerprint(train_files)
    moved = tmp_path / "elsewhere"
    os.makedirs(moved)
    copies = []
    for index, path in enumerate(train_files):
        copy = moved / f"{index}.tfrecord"
        with open(path, "rb") as file:
            copy.write_bytes(file.read())
        copies.append(str(copy))
    assert checkpoints.data_fingerprint(copies) == fingerprint
    assert checkpoints.data_fingerprint(copies[::-1]) != fingerprint
    write_pixel_records(str(tmp_path / "trainB" / "d"), 36, 4, 2)  # one image more
    assert checkpoints.data_fingerprint(train_files) != fingerprint


def test_the_folder_says_what_it_is_the_training_of(tmp_path, tiny_config, train_files):
    folder = checkpoints.checkpoint_dir(str(tmp_path / "root"), tiny_config, train_files)
    with open(os.path.join(folder, checkpoints.IDENTITY_FILE)) as file:
        identity = json.load(file)
    assert identity["crop_size"] == 32 and identity["train"]["generator_filters"] == 4
    assert "epochs" not in identity["train"] and "jit_compile" not in identity["train"]
    longer = tiny_config.replace(epochs=9, decay_epochs=2, steps_per_epoch=1, jit_compile=True)
    assert checkpoints.checkpoint_dir(str(tmp_path / "root"), longer, train_files) == folder
    other = tiny_config.replace(lambda_cycle=5.0)
    assert checkpoints.checkpoint_dir(str(tmp_path / "root"), other, train_files) != folder


def _two_checkpoints(folder):
    """Checkpoints 1 and 2 of a variable that holds its step."""
    variable = tf.Variable(0.0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=variable), folder, max_to_keep=2)
    for step in (1, 2):
        variable.assign(float(step))
        manager.save(checkpoint_number=step)
    return os.path.join(folder, "ckpt-2")


def _damage(prefix, how):
    (data,) = glob.glob(prefix + ".data-*")
    if how == "truncated":
        with open(data, "r+b") as file:
            file.truncate(os.path.getsize(data) // 2)
    elif how == "deleted":
        os.remove(data)
    else:
        os.remove(prefix + ".index")


@pytest.mark.parametrize("how", ["truncated", "deleted", "index deleted"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_older_one(tmp_path, how, caplog):
    folder = str(tmp_path / "ckpts")
    newest = _two_checkpoints(folder)
    _damage(newest, how)
    restored = tf.Variable(-1.0)
    path = checkpoints.restore_newest_readable(tf.train.Checkpoint(v=restored), folder)
    assert path == os.path.join(folder, "ckpt-1") and float(restored.numpy()) == 1.0
    (warning,) = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "cyclegan"
    ]
    assert warning.startswith(f"Skipped the damaged checkpoint {newest}: ")
    # The damaged one is gone, so that nothing tries it again.
    assert tf.train.latest_checkpoint(folder) == path and not glob.glob(newest + ".*")


def test_when_no_checkpoint_reads_the_run_stops_and_says_how_to_start_over(tmp_path):
    folder = str(tmp_path / "ckpts")
    newest = _two_checkpoints(folder)
    _damage(newest, "truncated")
    _damage(os.path.join(folder, "ckpt-1"), "deleted")
    with pytest.raises(checkpoints.CheckpointsUnreadable) as error:
        checkpoints.restore_newest_readable(tf.train.Checkpoint(v=tf.Variable(0.0)), folder)
    assert str(error.value).startswith(
        f"none of the checkpoints in {folder} can be read (ckpt-2, ckpt-1; see the warnings "
        "above). To start this training over from step 0, remove that folder"
    )
    assert glob.glob(newest + ".*")  # nothing removed when nothing could be read


def test_leftovers_of_interrupted_saves_are_removed(tmp_path):
    for name in ("ckpt-2_temp", "ckpt-5_temp", "ckpt-3.index"):
        os.makedirs(tmp_path / name) if name.endswith("_temp") else (tmp_path / name).touch()
    removed = checkpoints.remove_leftovers(str(tmp_path), latest_step=3)
    assert removed == [str(tmp_path / "ckpt-2_temp")]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-3.index", "ckpt-5_temp"]


class _Seen(logging.Handler):
    """Sets an event when a record with `text` is logged (from any thread)."""

    def __init__(self, text):
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record):
        if self.text in record.getMessage():
            self.event.set()


def test_one_trainer_per_folder_the_second_waits_refuses_or_takes_over(tmp_path, caplog):
    folder = str(tmp_path / "ckpts")
    holder = checkpoints.TrainerLock(folder, poll_s=0.01)
    with holder:
        lock = json.loads((tmp_path / "ckpts" / checkpoints.LOCK_FILE).read_text())
        assert (lock["host"], lock["pid"]) == (socket.gethostname(), os.getpid())
        refused = pytest.raises(checkpoints.TrainerLocked, match=rf"\(pid {os.getpid()}\)")
        with refused, checkpoints.TrainerLock(folder, wait=False):
            pass
        seen = _Seen("Waiting for the trainer")
        logging.getLogger("cyclegan").addHandler(seen)
        acquired = threading.Event()

        def second():
            with checkpoints.TrainerLock(folder, poll_s=0.01):
                acquired.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert seen.event.wait(60)
        assert not acquired.is_set()
    thread.join(60)
    assert acquired.is_set()
    logging.getLogger("cyclegan").removeHandler(seen)

    # A holder gone silent (another host, heartbeat older than stale_after_s) is taken over.
    (tmp_path / "ckpts" / checkpoints.LOCK_FILE).write_text(
        json.dumps({"host": "elsewhere", "pid": 7, "token": "x", "heartbeat": 0})
    )
    caplog.set_level(logging.INFO, logger="cyclegan")
    with checkpoints.TrainerLock(folder):
        pass
    assert any(m.startswith("Taking over") and "elsewhere (pid 7)" in m for m in caplog.messages)
    assert not os.path.exists(tmp_path / "ckpts" / checkpoints.LOCK_FILE)


def test_auto_precision_names_what_it_resolved_to(tmp_path, tiny_config, train_files, monkeypatch):
    from cyclegan import precision

    root = str(tmp_path / "root")
    pinned = checkpoints.checkpoint_dir(
        root, tiny_config.replace(precision="mixed_bfloat16"), train_files
    )
    for choice, same in (("mixed_bfloat16", True), ("mixed_float16", False)):
        monkeypatch.setattr(
            precision, "_detected", lambda choice=choice: precision.Choice(choice, "faked")
        )
        auto = checkpoints.checkpoint_dir(root, tiny_config.replace(precision="auto"), train_files)
        assert (auto == pinned) is same, choice
    with open(os.path.join(pinned, checkpoints.IDENTITY_FILE)) as file:
        assert json.load(file)["train"]["precision"] == "mixed_bfloat16"
