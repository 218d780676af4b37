"""What kubeflow_runner.py adds to TFX's compiled spec: per-step resources, the Vertex
training job of a multi-worker Trainer, and the fixes TFX 1.21's compiler needs."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional

from cyclegan.entry import UsageError

EXAMPLE_GEN_ALIAS = "ExampleGen"  # whichever ExampleGen the data source builds
RESOURCE_COMPONENTS = (
    EXAMPLE_GEN_ALIAS,
    "Preprocess",
    "DomainClassifier",
    "TrainingConfig",
    "Trainer",
    "Evaluator",
    "Pusher",
    "Report",
)
# The suffixes Kubernetes accepts in a quantity (k, not K; Ki, Mi, ...), or an exponent.
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?((k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)|[eE][0-9]+)?")


def memory_gb(text: str) -> float:
    """A Kubernetes memory quantity ('16G', '512Mi'), in GB as KFP's ResourceSpec wants it."""
    from kubernetes.utils import parse_quantity

    if not _QUANTITY.fullmatch(text.strip()):
        raise UsageError(
            f"memory size {text!r}: use a Kubernetes quantity, e.g. 512M, 16G, 16Gi "
            "(suffixes k, M, G, T, Ki, Mi, Gi, Ti)"
        )
    return float(parse_quantity(text.strip())) / 1e9


def _assignments(values: List[str], flag: str) -> Dict[str, str]:
    result = {}
    for value in values:
        component, sep, amount = value.partition("=")
        if not sep or not amount:
            raise UsageError(f"{flag} takes COMPONENT=VALUE, got {value!r}")
        if component not in RESOURCE_COMPONENTS:
            raise UsageError(
                f"{flag}: unknown component {component!r}; choose from "
                f"{', '.join(RESOURCE_COMPONENTS)}"
            )
        result[component] = amount
    return result


def resource_specs(
    cpu: List[str],
    memory: List[str],
    gpu_type: Optional[str],
    gpu_count: int,
    workers: int,
    example_gen_id: str,
):
    """KFP ResourceSpecs per component id, from --cpu and --memory (COMPONENT=VALUE) and the
    Trainer's GPUs (in its pod when it trains on one machine)."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    cpus, memories = _assignments(cpu, "--cpu"), _assignments(memory, "--memory")
    specs = {}
    for component in RESOURCE_COMPONENTS:
        spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
        if component in cpus:
            spec.cpu_limit = spec.cpu_request = float(cpus[component])
            spec.resource_cpu_limit = spec.resource_cpu_request = cpus[component]
        if component in memories:
            spec.memory_limit = spec.memory_request = memory_gb(memories[component])
            spec.resource_memory_limit = spec.resource_memory_request = memories[component]
        if component == "Trainer" and gpu_type and workers == 1:
            spec.accelerator.type = spec.accelerator.resource_type = gpu_type
            spec.accelerator.count = gpu_count
            spec.accelerator.resource_count = str(gpu_count)
        if spec.ByteSize():
            specs[example_gen_id if component == EXAMPLE_GEN_ALIAS else component] = spec
    return specs


def vertex_training(
    workers: int,
    project: Optional[str],
    region: Optional[str],
    machine_type: str,
    gpu_type: Optional[str],
    gpu_count: int,
    image: str,
) -> Optional[Dict[str, Any]]:
    """Worker pool specs for a multi-worker Vertex training job, or None for one replica."""
    if workers < 2:
        return None
    if not (project and region):
        raise UsageError("--workers > 1 needs --vertex-project and --vertex-region")
    machine: Dict[str, Any] = {"machine_type": machine_type}
    if gpu_type:
        machine.update(accelerator_type=gpu_type, accelerator_count=gpu_count)
    pool = {"machine_spec": machine, "container_spec": {"image_uri": image}}
    return {
        "project": project,
        "region": region,
        "worker_pool_specs": [
            dict(pool, replica_count=1),  # the chief
            dict(pool, replica_count=workers - 1),
        ],
    }


def runtime_defaults(pipeline) -> Dict[str, object]:
    """Each RuntimeParameter of the pipeline's components, with its default value."""
    from tfx.orchestration import data_types

    return {
        value.name: value.default
        for component in pipeline.components
        for value in component.exec_properties.values()
        if isinstance(value, data_types.RuntimeParameter)
    }


def _kfp_system_type(artifact_type: Dict[str, str]) -> None:
    import yaml

    title = yaml.safe_load(artifact_type.get("instanceSchema", "{}")).get("title", "")
    if title.startswith("system."):
        artifact_type.pop("instanceSchema")
        artifact_type.update(schemaTitle=title, schemaVersion="0.0.1")


def write_specs(job_path: str, resources, defaults: Dict[str, object]) -> tuple[str, dict]:
    """Completes TFX's PipelineJob and writes the bare pipeline spec KFP's client takes;
    returns that file's path and the spec.

    TFX 1.21's compiler drops the platform config of a FileBasedExampleGen (its container is
    built by a separate path), and it writes runtime parameters without their defaults; both
    are filled in here, so a run started without arguments uses the compiled values. Its
    component names also lack the KFP SDK's `comp-` prefix, which tools assume (kfp.local
    cuts five characters off to name a task's output folder); it is added. TFX writes the
    type of an artifact class it does not know as an instance schema titled with its name;
    KFP's own types (`system.HTML`, `system.Metrics`, which its UI renders) are written as
    the schema titles KFP's SDK writes.
    """
    import yaml
    from google.protobuf import json_format

    with open(job_path) as file:
        job = json.load(file)
    spec = job["pipelineSpec"]
    spec["components"] = {
        f"comp-{name}": component for name, component in spec["components"].items()
    }
    for task in spec["root"]["dag"]["tasks"].values():
        task["componentRef"]["name"] = f"comp-{task['componentRef']['name']}"
    for component in spec["components"].values():
        for artifact in component.get("outputDefinitions", {}).get("artifacts", {}).values():
            _kfp_system_type(artifact["artifactType"])
    executors = spec["deploymentSpec"]["executors"]
    for component, resource in resources.items():
        container = executors[f"{component}_executor"]["container"]
        container.setdefault("resources", json_format.MessageToDict(resource))
    parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, default in defaults.items():
        parameters[name]["defaultValue"] = default
    job["runtimeConfig"].setdefault("parameterValues", {}).update(defaults)
    with open(job_path, "w") as file:
        json.dump(job, file, indent=2, sort_keys=True)
    spec_path = os.path.splitext(job_path)[0] + ".yaml"
    with open(spec_path, "w") as file:
        yaml.safe_dump(spec, file, sort_keys=False)
    return spec_path, spec
