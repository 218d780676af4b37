"""What each Kubeflow target can run, checked on the flags before compiling and on the
compiled pipeline spec after.

- kfp: open-source Kubeflow Pipelines 2.x. Its backend turns a run into an Argo workflow and
  implements only container and importer executors; it refuses `resolver` executors ("not
  implemented") and Vertex custom jobs ("Google Cloud only"). Accelerators are Kubernetes
  resource names (nvidia.com/gpu, amd.com/gpu).
- vertex: Vertex AI Pipelines. Also runs resolvers and Vertex training jobs (the Trainer on
  several workers); accelerators are Vertex machine-spec names (NVIDIA_TESLA_T4, NVIDIA_L4).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping

from cyclegan.config import batch_split_problem

KFP, VERTEX = "kfp", "vertex"
TARGETS = (KFP, VERTEX)
EXECUTOR_KINDS = {
    KFP: {"container", "importer"},
    VERTEX: {"container", "importer", "resolver", "customJob"},
}
# An executor class that starts a Vertex training job: needs Vertex AI's API.
VERTEX_ONLY_EXECUTOR = "google_cloud_ai_platform"
# The Trainer runs in the GPU image (the CPU image plus CUDA); every other step, none of which
# uses a GPU, in the CPU image. The key for "every other step" is TFX's own
# (KubeflowV2DagRunnerConfig's default_image map).
TRAINER = "Trainer"
OTHER_STEPS = "default_image_path"
_KUBERNETES_RESOURCE = re.compile(r"[a-z0-9.-]+/[a-z0-9._-]+")
_VERTEX_ACCELERATOR = re.compile(r"[A-Z][A-Z0-9_]+")


def step_images(image: str, gpu_image: str | None) -> Dict[str, str]:
    """Which image each step runs in: the Trainer in `gpu_image` (when given), the rest in
    `image`; in the form KubeflowV2DagRunnerConfig(default_image=...) takes."""
    return {OTHER_STEPS: image, TRAINER: gpu_image or image}


def flag_problems(
    target: str,
    *,
    workers: int,
    gpu_type: str | None,
    gpu_image: str | None,
    gpu_count: int,
    batch_size: int,
    vertex_flags: bool,
    endpoint: str | None,
) -> List[str]:
    """Why these kubeflow_runner flags cannot compile for the target, each with the fix."""
    problems = []
    if target == KFP:
        if workers > 1:
            problems.append(
                f"--workers {workers} runs the Trainer as a Vertex AI training job, which "
                "open-source Kubeflow Pipelines cannot run (custom jobs are Google Cloud "
                "only); use --target vertex, or train on several GPUs in one pod: "
                f"--gpu-type nvidia.com/gpu --gpu-count {workers}"
            )
        if vertex_flags:
            problems.append("--vertex-project/--vertex-region are for --target vertex")
        if gpu_type and not _KUBERNETES_RESOURCE.fullmatch(gpu_type):
            problems.append(
                f"--gpu-type {gpu_type}: Kubeflow Pipelines takes the Kubernetes resource "
                "name, e.g. nvidia.com/gpu (Vertex AI names like NVIDIA_TESLA_T4 need "
                "--target vertex)"
            )
    else:
        if gpu_type and not _VERTEX_ACCELERATOR.fullmatch(gpu_type):
            problems.append(
                f"--gpu-type {gpu_type}: Vertex AI takes an accelerator type such as "
                "NVIDIA_TESLA_T4 or NVIDIA_L4 (Kubernetes resource names like nvidia.com/gpu "
                "are for --target kfp)"
            )
        if endpoint:
            problems.append(
                "--endpoint uploads to a Kubeflow Pipelines API; for Vertex AI submit the "
                "written PipelineJob JSON, e.g. google.cloud.aiplatform.PipelineJob("
                "template_path=..., pipeline_root=...).submit()"
            )
    if gpu_type and not gpu_image:
        problems.append(
            f"--gpu-type {gpu_type} trains on GPU nodes, which needs the Trainer's GPU image "
            "(the CPU image plus CUDA): add --gpu-image REGISTRY/cyclegan-tfx-gpu:TAG "
            "(`make image` builds both)"
        )
    if gpu_type and gpu_count < 1:
        problems.append(f"--gpu-count must be >= 1 with --gpu-type, got {gpu_count}")
    devices = gpu_count if gpu_type else 1
    if devices >= 1:
        problem = batch_split_problem(
            batch_size, workers * devices, f"{workers} worker(s) x {devices} device(s)"
        )
        if problem:
            problems.append(problem)
    return problems


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def spec_problems(
    pipeline_spec: Dict[str, Any],
    target: str,
    images: Mapping[str, str],
    forbidden_paths: Iterable[str] = (),
) -> List[str]:
    """Why a compiled pipeline spec (the `pipelineSpec` dict) would be refused on the target,
    or would run code other than the images' (`images` from step_images()): the rules the KFP
    backend applies, and ours."""
    problems = []
    executors = pipeline_spec["deploymentSpec"]["executors"]
    for name, executor in sorted(executors.items()):
        kinds = set(executor) - EXECUTOR_KINDS[target]
        if kinds:
            problems.append(f"{name}: {'/'.join(sorted(kinds))} executors cannot run on {target}")
        container = executor.get("container")
        if container is None:
            continue
        step = name.removesuffix("_executor")
        image = images.get(step, images[OTHER_STEPS])
        if container.get("image") != image:
            problems.append(f"{name}: runs image {container.get('image')!r}, not {image!r}")
        if target == KFP and any(VERTEX_ONLY_EXECUTOR in arg for arg in container["args"]):
            problems.append(f"{name}: starts a Vertex AI training job, which needs Google Cloud")
        accelerator = container.get("resources", {}).get("accelerator", {})
        pattern = _KUBERNETES_RESOURCE if target == KFP else _VERTEX_ACCELERATOR
        if accelerator and not pattern.fullmatch(accelerator.get("type", "")):
            problems.append(
                f"{name}: accelerator {accelerator.get('type')!r} is not a "
                f"{target} accelerator name"
            )
    for path in forbidden_paths:
        if path and any(path in value for value in _strings(pipeline_spec)):
            problems.append(f"the spec holds a path of this machine: {path}")
    return problems
