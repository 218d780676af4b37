"""TF Serving's model directory, `<base>/<numeric version>/saved_model.pb`: what the Pusher
writes and what the Evaluator takes its baseline from. Works on any tf.io.gfile path (local,
gs://, s3://, ...)."""

from __future__ import annotations

import hashlib
import os
import time
from typing import List, NamedTuple, Optional

import tensorflow as tf

SAVED_MODEL_FILE = "saved_model.pb"


class Version(NamedTuple):
    number: int
    path: str


def versions(base: str) -> List[int]:
    """The numeric version directories under base, ascending; anything else is ignored, as TF
    Serving ignores it."""
    if not tf.io.gfile.isdir(base):
        return []
    return sorted(
        int(name.rstrip("/")) for name in tf.io.gfile.listdir(base) if name.rstrip("/").isdigit()
    )


def latest_servable(base: str) -> Optional[Version]:
    """The newest version that holds a saved_model.pb: the model TF Serving serves now.

    A version without one (an object-store push cut short) cannot be loaded, so it is
    skipped here as it is by the server."""
    for number in reversed(versions(base)):
        path = os.path.join(base, str(number))
        if tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE)):
            return Version(number, path)
    return None


def directory_fingerprint(path: str) -> str:
    """sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for root, _, files in sorted(tf.io.gfile.walk(path)):
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode() + b"\0")
            with tf.io.gfile.GFile(full, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()


def _is_posix(path: str) -> bool:
    """Local paths (and file://) rename atomically; any other scheme is an object store or
    a remote filesystem whose rename gfile emulates by copying."""
    return "://" not in path or path.startswith("file://")


def copy_saved_model_last(source: str, destination: str) -> None:
    """Copies a SavedModel directory file by file, saved_model.pb last."""
    files = [
        os.path.join(root, name) for root, _, names in tf.io.gfile.walk(source) for name in names
    ]
    files.sort(key=lambda path: (os.path.basename(path) == SAVED_MODEL_FILE, path))
    for path in files:
        target = os.path.join(destination, os.path.relpath(path, source))
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(path, target, overwrite=True)


def push(model_dir: str, base: str) -> tuple[str, bool]:
    """Pushes model_dir under base; returns (version directory, whether it is new).

    TF Serving never loads a half-written version: on a local (POSIX) filesystem the model is
    copied to a hidden, non-numeric directory (which TF Serving ignores) and renamed into
    place in one atomic step; on an object store, where a rename is a copy, straight into the
    version directory with saved_model.pb last. A model already there, byte for byte, is not
    pushed again. Versions are the push time in seconds, or one more than the latest."""
    fingerprint = directory_fingerprint(model_dir)
    existing = versions(base)
    for version in reversed(existing):
        if directory_fingerprint(os.path.join(base, str(version))) == fingerprint:
            return os.path.join(base, str(version)), False
    version = max([int(time.time())] + [v + 1 for v in existing])
    final = os.path.join(base, str(version))
    if not _is_posix(base):
        copy_saved_model_last(model_dir, final)
        return final, True
    staging = os.path.join(base, f".incoming-{version}")
    if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)
    copy_saved_model_last(model_dir, staging)
    tf.io.gfile.rename(staging, final)
    return final, True
