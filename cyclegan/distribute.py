"""The choice of tf.distribute strategy, and what a training process is within a cluster."""

from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Mapping, Sequence

import tensorflow as tf

# A collective still waiting after this long means a peer is gone without a word (a dead
# node, a partition); far above any step, including the first one's tracing.
COLLECTIVE_TIMEOUT_S = 600
# How a lost peer surfaces in a collective: a reset connection, a missed heartbeat, a timeout.
CLUSTER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
)
_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def _cluster() -> Dict[str, list]:
    return json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})


def choose_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers (Kubeflow, Vertex); else
    Mirrored over the local GPUs, or over the local CPU devices when there are none."""
    cluster = _cluster()
    if sum(len(cluster.get(role, [])) for role in ("chief", "worker")) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=COLLECTIVE_TIMEOUT_S
            )
        )
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])


GPU_HINT = (
    "on a machine with an NVIDIA driver, `make install GPU=1` adds the locked CUDA libraries "
    "to .venv; on Kubeflow, kubeflow_runner.py --gpu-image runs the Trainer in the GPU image"
)


def devices_line(gpus: Sequence[Mapping[str, object]], cpu_cores: int, cpu_replicas: int) -> str:
    """One line naming the devices training runs on. `gpus`: TF's details of each visible GPU
    (`device_name`, `compute_capability`), in order."""
    if not gpus:
        replicas = f", {cpu_replicas} replicas" if cpu_replicas > 1 else ""
        return (
            f"No GPU visible: training on the CPU ({cpu_cores} cores{replicas}); "
            f"to use GPUs: {GPU_HINT}"
        )
    names: List[str] = []
    for index, details in enumerate(gpus):
        name = str(details.get("device_name") or "unnamed")
        capability = details.get("compute_capability")
        if capability:
            name += f", compute capability {'.'.join(map(str, capability))}"
        names.append(f"GPU:{index} ({name})")
    plural = "s" if len(gpus) > 1 else ""
    return f"Training on {len(gpus)} GPU{plural}: {', '.join(names)}"


def visible_devices_line(cpu_replicas: int = 1) -> str:
    """devices_line() for this process, as TensorFlow sees it. Reads the physical devices
    only: it does not start TF's runtime, which MultiWorkerMirroredStrategy must configure."""
    gpus = [
        tf.config.experimental.get_device_details(gpu)
        for gpu in tf.config.list_physical_devices("GPU")
    ]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return devices_line(gpus, cores or 1, cpu_replicas)


def worker_role() -> tuple[bool, str]:
    """(whether this process is the chief, a name for it) under TF_CONFIG; chief alone."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    kind, index = task.get("type", "chief"), task.get("index", 0)
    has_chief = "chief" in config.get("cluster", {})
    chief = kind == "chief" or (not has_chief and kind == "worker" and index == 0)
    return chief, f"{kind}-{index}"


def lost_peer_message(error: tf.errors.OpError, step: int, checkpoint_dir: str) -> str:
    """What to tell the user when a collective fails because another worker is gone."""
    match = _TASK.search(error.message)
    peer = "a worker"
    if match:
        kind, index = match.group(1), int(match.group(2))
        addresses = _cluster().get(kind, [])
        peer = f"{kind}-{index}" + (f" ({addresses[index]})" if index < len(addresses) else "")
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    return (
        f"lost contact with {peer} of the training cluster after step {step} "
        f"({error.message.strip().splitlines()[0]}). Training stopped; restart every "
        f"worker of the job: it resumes from "
        f"{latest or 'the start (no checkpoint yet)'}"
    )
