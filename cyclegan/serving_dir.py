"""TF Serving's model directory, what the Pusher writes and the Evaluator reads its baseline
from. Works on any tf.io.gfile path (local, gs://, s3://, ...).

  <base>/<numeric version>/     a SavedModel (TF Serving ignores every other name)
  <base>/models.config          TF Serving's --model_config_file: the versions to serve and
                                their labels, `stable` (the served model, the Evaluator's
                                baseline) and `canary` (a version on trial)
  <base>/versions.json          per pushed version: when, from which model, its metrics
  <base>/.incoming-<version>/   a push in progress (local filesystems), removed if it fails
  <base>/.push.lock             pushes into one local directory take turns
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import json
import os
import shutil
import time
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import tensorflow as tf

from cyclegan.entry import StepError

SAVED_MODEL_FILE = "saved_model.pb"
MODEL_CONFIG_FILE = "models.config"
VERSIONS_FILE = "versions.json"
STAGING_PREFIX = ".incoming-"
LOCK_FILE = ".push.lock"
STABLE, CANARY = "stable", "canary"


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


def servable(base: str, number: int) -> Optional[Version]:
    path = os.path.join(base, str(number))
    if tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE)):
        return Version(number, path)
    return None


def latest_servable(base: str) -> Optional[Version]:
    """The newest version that holds a saved_model.pb: the model TF Serving serves now.

    A version without one (an object-store push cut short) cannot be loaded, so it is
    skipped here as it is by the server."""
    for number in reversed(versions(base)):
        if servable(base, number):
            return servable(base, number)
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


def _local(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


def _write_atomically(path: str, text: str) -> None:
    """Readers (TF Serving polling its config) see the old file or the new one, never a part:
    written beside it, then renamed over it (on an object store a rename is a server-side
    copy, which replaces the object whole)."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(temporary, "w") as file:
        file.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)


# --- labels: TF Serving's model config file -----------------------------------------------


class ServingState(NamedTuple):
    model_name: str
    labels: Dict[str, int]  # label -> version


def read_state(base: str) -> Optional[ServingState]:
    """The model config file's model name and labels, or None if there is none."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    path = os.path.join(base, MODEL_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as file:
        config = text_format.Parse(file.read(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    return ServingState(model.name, dict(model.version_labels))


def write_state(base: str, state: ServingState) -> str:
    """Writes the model config file: serve the labelled versions, under their labels.

    Serve it with `tensorflow_model_server --model_config_file=<base>/models.config
    --model_config_file_poll_wait_seconds=30 --allow_version_labels_for_unavailable_models`:
    the server re-reads it, so moving a label (rollback) takes effect without a restart; the
    last flag lets a label name a version in the same change that adds it."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = state.model_name
    # Absolute: TF Serving resolves a relative path against its own working directory.
    model.base_path = os.path.abspath(_local(base)) if _is_posix(base) else base
    model.model_platform = "tensorflow"
    model.model_version_policy.specific.versions.extend(sorted(set(state.labels.values())))
    for label, number in sorted(state.labels.items()):
        model.version_labels[label] = number
    path = os.path.join(base, MODEL_CONFIG_FILE)
    _write_atomically(path, text_format.MessageToString(config))
    return path


def stable_version(base: str) -> Optional[Version]:
    """The version TF Serving serves as `stable` (the newest servable one without a model
    config file): the Evaluator's baseline."""
    state = read_state(base)
    if state and STABLE in state.labels:
        return servable(base, state.labels[STABLE])
    return latest_servable(base)


def move_label(base: str, label: str, number: Optional[int], model_name: str = "") -> ServingState:
    """Points `label` at version `number` (None removes the label) and rewrites the config."""
    if number is not None and not servable(base, number):
        raise ValueError(f"version {number} is not in {base} (servable versions: {versions(base)})")
    state = read_state(base) or ServingState(model_name or os.path.basename(base.rstrip("/")), {})
    labels = dict(state.labels)
    if number is None:
        labels.pop(label, None)
    else:
        labels[label] = number
    state = ServingState(model_name or state.model_name, labels)
    write_state(base, state)
    return state


# --- metrics per version -------------------------------------------------------------------


def read_records(base: str) -> Dict[int, Dict[str, Any]]:
    path = os.path.join(base, VERSIONS_FILE)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as file:
        return {int(number): record for number, record in json.load(file).items()}


def _write_records(base: str, records: Dict[int, Dict[str, Any]]) -> None:
    text = json.dumps({str(n): records[n] for n in sorted(records)}, indent=2, sort_keys=True)
    _write_atomically(os.path.join(base, VERSIONS_FILE), text)


# --- pruning --------------------------------------------------------------------------------


def prune(base: str, keep: int) -> List[int]:
    """Removes all but the newest `keep` versions, never one a label points to; returns
    the versions removed."""
    state = read_state(base)
    labelled = set(state.labels.values()) if state else set()
    numbers = versions(base)
    removed = [n for n in numbers[: max(0, len(numbers) - keep)] if n not in labelled]
    for number in removed:
        tf.io.gfile.rmtree(os.path.join(base, str(number)))
    records = read_records(base)
    if any(n in records for n in removed):
        _write_records(base, {n: r for n, r in records.items() if n not in removed})
    return removed


# --- pushing --------------------------------------------------------------------------------


class PushError(StepError):
    """A push that could not be made; nothing of it is left in the serving directory."""


class Pushed(NamedTuple):
    path: str  # the version directory
    new: bool  # False: the same model was there already
    labels: Dict[str, int]
    pruned: List[int]


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


def _size_bytes(path: str) -> int:
    return sum(
        tf.io.gfile.stat(os.path.join(root, name)).length
        for root, _, names in tf.io.gfile.walk(path)
        for name in names
    )


def _volume(path: str) -> str:
    """The mount point holding path."""
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(error, tf.errors.ResourceExhaustedError) or "No space left" in str(error)


def _disk_full(base: str, needed: int) -> PushError:
    local = _local(base)
    free = shutil.disk_usage(local).free
    return PushError(
        f"not pushed: no space left on {_volume(local)} (the volume of {local}): the model "
        f"needs {needed / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free"
    )


@contextlib.contextmanager
def push_lock(base: str) -> Iterator[None]:
    """One change at a time to a local base directory: pushes, and label changes (two runs
    pushing at once, a rollback during a push)."""
    if not _is_posix(base):
        yield
        return
    import fcntl

    with open(os.path.join(_local(base), LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_staging(base: str) -> List[str]:
    """Removes what pushes cut short (killed) left; call under the push lock."""
    removed = []
    for name in tf.io.gfile.listdir(base):
        if name.rstrip("/").startswith(STAGING_PREFIX):
            tf.io.gfile.rmtree(os.path.join(base, name.rstrip("/")))
            removed.append(name.rstrip("/"))
    return removed


def push(
    model_dir: str,
    base: str,
    *,
    label: str = STABLE,
    keep_versions: Optional[int] = None,
    record: Optional[Dict[str, Any]] = None,
    model_name: str = "",
) -> Pushed:
    """Pushes model_dir under base as a new version, points `label` at it, records `record`
    (metrics, source) in versions.json and prunes to `keep_versions` (None: keep all).

    TF Serving never loads a half-written version: on a local (POSIX) filesystem the model is
    copied to a hidden, non-numeric directory (which TF Serving ignores) and renamed into
    place in one atomic step; on an object store, where a rename is a copy, straight into the
    version directory with saved_model.pb last. A push that fails removes its copy; a full
    disk is one PushError line. A model already there, byte for byte, is not copied again
    (the label still moves to it). Versions are the push time in seconds, or one more than
    the latest. A `canary` push also makes the version `stable` when nothing is."""
    tf.io.gfile.makedirs(base)
    with push_lock(base):
        if _is_posix(base):
            remove_staging(base)
        fingerprint = directory_fingerprint(model_dir)
        existing = versions(base)
        records = read_records(base)

        def stored_fingerprint(n: int) -> str:  # recorded at push; read only for older pushes
            return records.get(n, {}).get("fingerprint") or directory_fingerprint(
                os.path.join(base, str(n))
            )

        number = next((n for n in reversed(existing) if stored_fingerprint(n) == fingerprint), None)
        new = number is None
        if new:
            number = max([int(time.time())] + [v + 1 for v in existing])
            _copy_in(model_dir, base, number)
        records[number] = {
            "pushed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "fingerprint": fingerprint,
            **(record or {}),
        }
        _write_records(base, records)
        state = move_label(base, label, number, model_name)
        if label == CANARY and STABLE not in state.labels:
            state = move_label(base, STABLE, number, model_name)
        pruned = prune(base, keep_versions) if keep_versions else []
    return Pushed(os.path.join(base, str(number)), new, state.labels, pruned)


def _copy_in(model_dir: str, base: str, number: int) -> None:
    final = os.path.join(base, str(number))
    if not _is_posix(base):
        try:
            copy_saved_model_last(model_dir, final)
        except BaseException:
            if tf.io.gfile.exists(final):  # no saved_model.pb yet: nothing could load it
                tf.io.gfile.rmtree(final)
            raise
        return
    needed = _size_bytes(model_dir)
    if shutil.disk_usage(_local(base)).free < needed:
        raise _disk_full(base, needed)
    staging = os.path.join(base, f"{STAGING_PREFIX}{number}")
    try:
        copy_saved_model_last(model_dir, staging)
        tf.io.gfile.rename(staging, final)
    except BaseException as error:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        if _is_disk_full(error):
            raise _disk_full(base, needed) from None
        raise
