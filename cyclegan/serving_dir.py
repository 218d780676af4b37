"""TF Serving's model directory, `<base>/<numeric version>/saved_model.pb`: what the Pusher
writes and what the Evaluator takes its baseline from. Works on any tf.io.gfile path (local,
gs://, s3://, ...)."""

from __future__ import annotations

import os
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
