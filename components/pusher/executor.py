"""Pusher executor: TFX's Pusher, made safe for a TF Serving that polls the base directory.

- TF Serving never loads a half-written version. On a local (POSIX) filesystem the model is
  copied to a hidden, non-numeric directory next to the versions (TF Serving ignores those)
  and renamed into place, `<base>/<version>/`, in one atomic step. On an object store
  (gs://, s3://, ...) a rename is a copy object by object, so nothing is atomic: the files
  are copied straight into the version directory with saved_model.pb last. Until that last
  object exists the server cannot load the version (it may log a failed attempt and retry);
  once it exists every other file is already complete.
- Re-pushing a model already there (same files, byte for byte) creates no new version; the
  existing one is recorded as pushed.
- Versions are numeric and increasing: the push time in seconds, or one more than the latest.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from cyclegan import logger, serving_dir


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
    files.sort(key=lambda path: (os.path.basename(path) == serving_dir.SAVED_MODEL_FILE, path))
    for path in files:
        target = os.path.join(destination, os.path.relpath(path, source))
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(path, target, overwrite=True)


def push(model_dir: str, base: str) -> tuple[str, bool]:
    """Pushes model_dir under base; returns (version directory, whether it is new)."""
    fingerprint = directory_fingerprint(model_dir)
    existing = serving_dir.versions(base)
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
    io_utils.copy_dir(model_dir, staging)
    tf.io.gfile.rename(staging, final)
    return final, True


class Executor(tfx_pusher.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            blessing: Optional[Any] = (
                input_dict.get(standard_component_specs.MODEL_BLESSING_KEY) or [None]
            )[0]
            reason = blessing.get_string_custom_property("failed_checks") if blessing else ""
            logger.warning(
                "Not pushed: the model was not blessed%s", f": {reason}" if reason else ""
            )
            self._MarkNotPushed(pushed_model)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination
        )
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("only filesystem push destinations are supported")
        model_dir = self.GetModelPath(input_dict)
        version_dir, new = push(model_dir, destination.filesystem.base_directory)
        logger.info("%s %s", "Pushed the model to" if new else "Already pushed as", version_dir)
        io_utils.copy_dir(model_dir, pushed_model.uri)  # TFX's archive copy
        self._MarkPushed(
            pushed_model,
            pushed_destination=version_dir,
            pushed_version=os.path.basename(version_dir),
        )
