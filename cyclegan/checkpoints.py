"""Which checkpoints a training continues, and what a fine-tune starts from.

A training's checkpoints live in a folder named after its identity: what decides the path the
weights take (the training data, the networks, losses, optimiser, batch, seed, the crop size,
a warm start). How long it trains (epochs, decay_epochs, steps_per_epoch), how fast
(jit_compile) and how it is observed (summaries, checkpoint cadence) are not part of it, so
raising `epochs` resumes where the last run stopped instead of starting over.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence

import tensorflow as tf

from cyclegan import logger, precision
from cyclegan.config import Config, TrainConfig
from cyclegan.serving_contract import CONFIG_ASSET

IDENTITY_FILE = "identity.json"  # in each checkpoint folder: what it is the training of
_CHUNK = 4 << 20


def data_fingerprint(patterns: Sequence[str]) -> str:
    """SHA-256 of the bytes of the files matching `patterns` (each pattern's files sorted):
    the same data gives the same fingerprint wherever its artifact folder is."""
    digest = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(tf.io.gfile.glob(pattern)):
            with tf.io.gfile.GFile(path, "rb") as file:
                while chunk := file.read(_CHUNK):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def identity(config: Config, fingerprint: str) -> Dict[str, Any]:
    train = {
        key: value
        for key, value in dataclasses.asdict(config.train).items()
        if key not in TrainConfig.OUTSIDE_IDENTITY
    }
    # What `auto` is on this machine: float16's loss scaling checkpoints state of its own, and
    # a training moved to other hardware would change its numerics mid-way.
    train["precision"] = precision.resolve(config.train.precision).policy
    return {"data": fingerprint, "crop_size": config.data.crop_size, "train": train}


def checkpoint_dir(root: str, config: Config, train_patterns: Sequence[str]) -> str:
    """<root>/<identity hash>/, created, with identity.json in it."""
    ident = identity(config, data_fingerprint(train_patterns))
    text = json.dumps(ident, sort_keys=True, indent=2)
    path = os.path.join(root, hashlib.sha256(text.encode()).hexdigest()[:16])
    tf.io.gfile.makedirs(path)
    with tf.io.gfile.GFile(os.path.join(path, IDENTITY_FILE), "w") as file:
        file.write(text)
    return path


# What two models must share for weights to move from one to the other: the generators
# (all a SavedModel holds), and the discriminators too for a checkpoint.
_GENERATOR_ARCHITECTURE = (
    "generator",
    "generator_filters",
    "resnet_blocks",
    "norm_affine",
    "conv_bias",
)
_ARCHITECTURE = _GENERATOR_ARCHITECTURE + ("discriminator_filters", "discriminator_layers")


def _architecture(train: Dict[str, Any], crop_size: int) -> str:
    blocks = f", {train['resnet_blocks']} blocks" if train["generator"] == "resnet" else ""
    return (
        f"a {train['generator']} generator ({train['generator_filters']} filters{blocks}, "
        f"norm_affine={train['norm_affine']}, conv_bias={train['conv_bias']}) and "
        f"{train['discriminator_layers']}-layer discriminators "
        f"({train['discriminator_filters']} filters) at {crop_size} px"
    )


def _source(path: str):
    """(kind, the file to read weights from, its train section, its crop size)."""
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        with tf.io.gfile.GFile(os.path.join(path, CONFIG_ASSET)) as file:
            source = Config.from_dict(json.load(file))
        train, crop = dataclasses.asdict(source.train), source.data.crop_size
        return "SavedModel", os.path.join(path, "variables", "variables"), train, crop
    prefix = tf.train.latest_checkpoint(path) if tf.io.gfile.isdir(path) else path
    folder = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
    identity_path = os.path.join(folder, IDENTITY_FILE)
    if not prefix or not tf.io.gfile.exists(identity_path):
        raise ValueError(
            f"train.init_from {path}: neither a SavedModel (no saved_model.pb) nor a checkpoint "
            f"folder of this project (with {IDENTITY_FILE})"
        )
    with tf.io.gfile.GFile(identity_path) as file:
        ident = json.load(file)
    return "checkpoint", prefix, ident["train"], ident["crop_size"]


def warm_start(model, path: str) -> str:
    """Loads both generators of `model` from a pushed SavedModel version or a checkpoint of
    this project (then the discriminators too); returns what was loaded, for the log. Another
    architecture or image size is a ValueError naming both."""
    kind, weights, train, crop_size = _source(path)
    config = model.config
    ours = dataclasses.asdict(config.train)
    compared = _ARCHITECTURE if kind == "checkpoint" else _GENERATOR_ARCHITECTURE
    if crop_size != config.data.crop_size or any(train[k] != ours[k] for k in compared):
        raise ValueError(
            f"train.init_from {path} holds {_architecture(train, crop_size)}; this config "
            f"trains {_architecture(ours, config.data.crop_size)}: the weights cannot move"
        )
    networks = tf.Module()
    networks.g_ab, networks.g_ba = model.g_ab, model.g_ba
    if kind == "checkpoint":
        networks.d_a, networks.d_b = model.d_a, model.d_b
        tf.train.Checkpoint(model=networks).read(weights).assert_existing_objects_matched()
        return f"Started both generators and both discriminators from checkpoint {weights}"
    tf.train.Checkpoint(root=networks).read(weights).assert_existing_objects_matched()
    return f"Started both generators from SavedModel {path}; the discriminators start fresh"


class CheckpointsUnreadable(RuntimeError):
    """No checkpoint of a training's folder can be read; the message says what to do."""


def _first_line(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}: {text.strip().splitlines()[0]}"


def restore_newest_readable(
    checkpoint: tf.train.Checkpoint, folder: str, owner: bool = True
) -> Optional[str]:
    """Restores the newest checkpoint of `folder` that can be read, trying the older ones
    the checkpoint state lists when the newest is damaged (each skipped one is a warning
    naming it and the error); None when the folder holds none. When none can be read:
    CheckpointsUnreadable naming the folder and how to start over. Never starts over
    silently. The owner of the folder (the chief of several workers) also removes the damaged
    ones it skipped."""
    state = tf.train.get_checkpoint_state(folder)
    if state is None or not state.model_checkpoint_path:
        return None
    candidates = [state.model_checkpoint_path] + [
        path
        for path in reversed(state.all_model_checkpoint_paths)
        if path != state.model_checkpoint_path
    ]
    candidates = [
        path if os.path.isabs(path) or "://" in path else os.path.join(folder, path)
        for path in candidates
    ]
    problems = []
    for index, path in enumerate(candidates):
        try:
            checkpoint.restore(path).expect_partial()
        except (tf.errors.OpError, IndexError, ValueError) as error:
            logger.warning("Skipped the damaged checkpoint %s: %s", path, _first_line(error))
            problems.append(os.path.basename(path))
            continue
        if index and owner:  # the damaged ones go, so that nothing tries them again
            for damaged in candidates[:index]:
                for file in tf.io.gfile.glob(damaged + ".*"):
                    tf.io.gfile.remove(file)
            tf.compat.v1.train.update_checkpoint_state(
                folder, path, all_model_checkpoint_paths=candidates[index:][::-1]
            )
        return path
    raise CheckpointsUnreadable(
        f"none of the checkpoints in {folder} can be read ({', '.join(problems)}; see the "
        f"warnings above). To start this training over from step 0, remove that folder; to "
        f"train beside it, change train.seed"
    )


_TEMP = re.compile(r".*-(\d+)_temp.*")


def remove_leftovers(folder: str, latest_step: int) -> List[str]:
    """Removes the `<prefix>-N_temp*` folders a killed save leaves, for N up to the latest
    complete checkpoint's step; returns what it removed."""
    removed = []
    for name in tf.io.gfile.listdir(folder) if tf.io.gfile.isdir(folder) else []:
        match = _TEMP.fullmatch(name.rstrip("/"))
        if match and int(match.group(1)) <= latest_step:
            path = os.path.join(folder, name.rstrip("/"))
            tf.io.gfile.rmtree(path)
            removed.append(path)
    if removed:
        logger.info("Removed what interrupted saves left: %s", ", ".join(removed))
    return removed


LOCK_FILE = "trainer.lock"


class TrainerLocked(RuntimeError):
    """Another live trainer holds the folder and this one was asked not to wait."""


class TrainerLock:
    """One trainer per checkpoint folder: <folder>/trainer.lock names the holder (host, PID)
    and carries a heartbeat that a thread refreshes every `heartbeat_s`. A second trainer of
    the same identity waits for it, saying whom it waits for, or refuses (`wait=False`). A lock
    whose heartbeat is older than `stale_after_s` belongs to a holder that is gone (killed,
    its node lost) and is taken over. On a local filesystem the lock appears atomically
    (a hard link of a complete file); on an object store, which has no exclusive create, it is
    written when absent and read back."""

    def __init__(
        self,
        folder: str,
        wait: bool = True,
        heartbeat_s: float = 10.0,
        stale_after_s: float = 60.0,
        poll_s: float = 1.0,
    ):
        self.folder, self.path = folder, os.path.join(folder, LOCK_FILE)
        self.wait, self.heartbeat_s, self.stale_after_s = wait, heartbeat_s, stale_after_s
        self.poll_s = poll_s
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _text(self) -> str:
        return json.dumps({**self.me, "heartbeat": time.time()})

    def _local(self) -> bool:
        return "://" not in self.path

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            with tf.io.gfile.GFile(self.path) as file:
                return json.loads(file.read())
        except (tf.errors.NotFoundError, json.JSONDecodeError):
            return None

    def _write_whole(self, path: str) -> None:
        with tf.io.gfile.GFile(path, "w") as file:
            file.write(self._text())

    def _create(self) -> bool:
        if not self._local():
            if tf.io.gfile.exists(self.path):
                return False
            self._write_whole(self.path)
            return (self._read() or {}).get("token") == self.me["token"]
        draft = f"{self.path}.{self.me['token']}"
        self._write_whole(draft)
        try:
            os.link(draft, self.path)  # fails if the lock exists: never half-written
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(draft)

    def _gone(self, holder: Optional[Dict[str, Any]]) -> bool:
        """Whether the holder is a process of this host that no longer runs."""
        if not holder or holder.get("host") != self.me["host"]:
            return False
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # runs, as another user
            return False
        return False

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if (self._read() or {}).get("token") != self.me["token"]:
                logger.warning("The lock %s is no longer this trainer's", self.path)
                return
            draft = f"{self.path}.{self.me['token']}"
            self._write_whole(draft)
            tf.io.gfile.rename(draft, self.path, overwrite=True)

    def __enter__(self) -> "TrainerLock":
        tf.io.gfile.makedirs(self.folder)
        announced = False
        while not self._create():
            holder = self._read()
            age = time.time() - holder["heartbeat"] if holder else float("inf")
            who = f"{holder['host']} (pid {holder['pid']})" if holder else "an unknown trainer"
            if age > self.stale_after_s or self._gone(holder):
                logger.warning(
                    "Taking over %s from %s, gone (heartbeat %.0f s ago)", self.path, who, age
                )
                if self._read() == holder:
                    tf.io.gfile.remove(self.path)
                continue
            if not self.wait:
                raise TrainerLocked(
                    f"another trainer, {who}, is training this model in {self.folder} "
                    f"(heartbeat {age:.0f} s ago); to wait for it instead, "
                    f"--set train.when_locked=wait"
                )
            if not announced:
                logger.info(
                    "Waiting for the trainer %s, which holds %s (heartbeat %.0f s ago)",
                    who,
                    self.path,
                    age,
                )
                announced = True
            time.sleep(self.poll_s)
        self._thread = threading.Thread(target=self._beat, name="trainer-lock", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        if (self._read() or {}).get("token") == self.me["token"]:
            tf.io.gfile.remove(self.path)
