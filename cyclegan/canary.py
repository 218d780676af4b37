"""The canary before a push (the idea of TFX's InfraValidator in LOAD_AND_QUERY mode): the
candidate SavedModel is loaded in a fresh process that has only TensorFlow, as TF Serving
loads it, and answers its warm-up requests, the requests a client sends; every answer must
decode as a PNG (or float images) of the model's size, all within a time budget. With
`tensorflow_model_server` on PATH, the same requests also go to a real TF Serving over gRPC.
The Evaluator runs it; a failure withholds the blessing, which names the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import List, NamedTuple, Optional

from cyclegan import logger

MODEL_SERVER = "tensorflow_model_server"
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "canary_process.py")


class Result(NamedTuple):
    where: str  # "a fresh TensorFlow process" or "tensorflow_model_server"
    ok: bool
    reason: str
    requests: int
    seconds: float

    def line(self) -> str:
        if self.ok:
            return (
                f"canary passed in {self.where}: {self.requests} requests in {self.seconds:.1f} s"
            )
        return f"canary failed in {self.where}: {self.reason}"


def run(model_dir: str, image_size: int, timeout_s: float) -> List[Result]:
    """The canary in a fresh process, then in TF Serving when its binary is on PATH and the
    model is on a local disk; all within timeout_s."""
    deadline = time.monotonic() + timeout_s
    results = [_replay(model_dir, image_size, timeout_s, [], "a fresh TensorFlow process")]
    binary = shutil.which(MODEL_SERVER)
    if binary and "://" in model_dir:
        logger.info("%s not asked: %s is not on a local disk", MODEL_SERVER, model_dir)
    elif binary:
        results.append(_with_model_server(binary, model_dir, image_size, deadline))
    for result in results:
        (logger.info if result.ok else logger.warning)("%s", result.line())
    return results


def _replay(model_dir: str, size: int, timeout_s: float, extra: List[str], where: str) -> Result:
    # -I: no PYTHONPATH, no user site, not even the script's folder on sys.path.
    command = [sys.executable, "-I", SCRIPT, model_dir, str(size), *extra]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Result(
            where,
            False,
            f"no answer within {timeout_s:g} s (evaluation.canary_timeout_s)",
            0,
            time.monotonic() - started,
        )
    seconds = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Result(
            where, False, f"the process ended with code {done.returncode}: {last}", 0, seconds
        )
    return Result(where, answer["ok"], answer["reason"], answer["requests"], seconds)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_available(port: int, server: subprocess.Popen, deadline: float) -> Optional[str]:
    """None once TF Serving reports the model AVAILABLE; why not otherwise."""
    import grpc
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "canary"
    available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return f"{MODEL_SERVER} exited with code {server.returncode}"
        try:
            status = stub.GetModelStatus(request, timeout=5).model_version_status
            if any(version.state == available for version in status):
                return None
            errors = [v.status.error_message for v in status if v.status.error_message]
            if errors:
                return f"{MODEL_SERVER} could not load it: {errors[0]}"
        except grpc.RpcError:
            pass  # not listening yet, or the model not known yet
        time.sleep(0.5)  # polling a server that has no push notification
    return "not AVAILABLE within evaluation.canary_timeout_s"


def _with_model_server(binary: str, model_dir: str, size: int, deadline: float) -> Result:
    where = MODEL_SERVER
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as base:
        os.symlink(os.path.abspath(model_dir), os.path.join(base, "1"))
        port = _free_port()
        with open(os.path.join(base, "server.log"), "w") as log:
            server = subprocess.Popen(
                [binary, f"--port={port}", "--model_name=canary", f"--model_base_path={base}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            problem = _wait_available(port, server, deadline)
            if problem:
                with open(os.path.join(base, "server.log")) as log:
                    last = (log.read().strip().splitlines() or [""])[-1]
                reason = f"{problem}; its log ends: {last}" if last else problem
                return Result(where, False, reason, 0, time.monotonic() - started)
            remaining = max(1.0, deadline - time.monotonic())
            extra = ["--server", f"127.0.0.1:{port}", "canary"]
            return _replay(model_dir, size, remaining, extra, where)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
