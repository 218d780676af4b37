"""Runs a pipeline spec written by kubeflow_runner.py with KFP's own local runner (kfp.local),
task by task, each task's container command in a subprocess of this Python: a smoke test of
a spec before uploading it, and what the end-to-end Kubeflow test runs.

    python -m tests.kfp_local cyclegan.pipeline.yaml --pipeline-root runs/kfp-local
    python -m tests.kfp_local cyclegan.pipeline.yaml \\
        --param training_config='{"train": {"epochs": 2}}'

The container image is not used: `python` is this interpreter, which must have the project
installed, as the image has (`make install`). Paths in the spec (--pipeline-root, serving
dir, data) must be reachable from this machine, so compile with local ones for this.

kfp.local's SubprocessRunner was built for lightweight Python components; with TFX's
Kubeflow v2 container entrypoint it has two gaps (measured on kfp 2.16.1), bridged here in
the harness and nowhere else:

1. It refuses any command that does not mention `kfp.dsl.executor_main`
   (SubprocessTaskHandler.validate_not_container_component). TFX's entrypoint is a plain
   container command; the check is skipped.
2. It hands each input artifact over typed as it read the producer's output back: TFX
   declares types by instanceSchema, which kfp.dsl does not read, so they arrive as
   `system.Artifact`, and TFX's entrypoint, which imports the class the type names, fails.
   The consumer's declared input type (its component spec, what the KFP backend passes) is
   put back.

Both are checked against the pinned kfp version, so an upgrade fails loudly here instead of
silently running something else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from typing import Any, Dict, Iterator

import kfp
from kfp import components, local
from kfp.local import executor_input_utils, subprocess_task_handler

KFP_VERSION = "2.16.1"  # requirements/requirements.lock


@contextlib.contextmanager
def tfx_entrypoint_bridge() -> Iterator[None]:
    """kfp.local patched for the two gaps above, for the duration of the block."""
    if kfp.__version__ != KFP_VERSION:
        raise RuntimeError(
            f"tests/kfp_local.py bridges kfp.local {KFP_VERSION}'s gaps with TFX entrypoints; "
            f"this is kfp {kfp.__version__}: re-check both gaps, then update KFP_VERSION"
        )
    handler = subprocess_task_handler.SubprocessTaskHandler
    original_validate = handler.validate_not_container_component
    original_construct = executor_input_utils.construct_executor_input

    def construct_with_declared_types(component_spec, arguments, task_root, block_input_artifact):
        executor_input = original_construct(
            component_spec, arguments, task_root, block_input_artifact
        )
        for name, artifacts in executor_input.inputs.artifacts.items():
            declared = component_spec.input_definitions.artifacts[name].artifact_type
            for artifact in artifacts.artifacts:
                artifact.type.CopyFrom(declared)
        return executor_input

    handler.validate_not_container_component = lambda self, command: None
    executor_input_utils.construct_executor_input = construct_with_declared_types
    try:
        yield
    finally:
        handler.validate_not_container_component = original_validate
        executor_input_utils.construct_executor_input = original_construct


def run_spec(spec_path: str, pipeline_root: str, arguments: Dict[str, Any]) -> None:
    """Executes every task of the spec; raises RuntimeError naming the first that fails."""
    # The containers run `python -m tfx...`: make that this interpreter, in the image's
    # environment (Dockerfile).
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=pipeline_root,
        raise_on_error=True,
    )
    pipeline = components.load_component_from_file(spec_path)
    with tfx_entrypoint_bridge(), warnings.catch_warnings():
        # The image is not used here (see the module docstring); kfp.local warns about it.
        warnings.filterwarnings("ignore", message="You may be attemping", category=RuntimeWarning)
        pipeline(**arguments)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a pipeline spec from kubeflow_runner.py with kfp.local, each task in "
        "a subprocess of this Python (a smoke test before uploading it)."
    )
    parser.add_argument("spec", help="the .yaml pipeline spec kubeflow_runner.py wrote")
    parser.add_argument(
        "--pipeline-root",
        default="runs/kfp-local",
        help="where kfp.local writes each task's outputs (default: %(default)s)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a runtime parameter, e.g. data_root=/data/horse2zebra; repeatable",
    )
    args = parser.parse_args(argv)
    arguments = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param takes NAME=VALUE, got {item!r}")
        arguments[name] = value
    run_spec(args.spec, os.path.abspath(args.pipeline_root), arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
