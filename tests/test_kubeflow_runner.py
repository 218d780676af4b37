"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI and checks the spec.

No cluster is needed: the spec is parsed with kfp's pipeline-spec proto, and the upload path
runs against a fake kfp.Client.
"""

import copy
import importlib
import json
import os
import re

import kfp
import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_runner
from cyclegan.entry import UsageError
from pipeline import kubeflow_spec, kubeflow_targets

IMAGE = "registry.example/cyclegan-tfx:1.0"
GPU_IMAGE = "registry.example/cyclegan-tfx-gpu:1.0"
IMAGES = kubeflow_targets.step_images(IMAGE, GPU_IMAGE)
ROOT = "gs://bucket/pipelines"


def _compile(tmp_path, *flags, images=("--image", IMAGE, "--gpu-image", GPU_IMAGE)):
    output = tmp_path / "spec.json"
    assert (
        kubeflow_runner.main(
            [*images, "--pipeline-root", ROOT, "--output-file", str(output), *flags]
        )
        == 0
    )
    job = json.loads(output.read_text())
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    kfp_spec = json_format.ParseDict(
        yaml.safe_load((tmp_path / "spec.yaml").read_text()), pipeline_spec_pb2.PipelineSpec()
    )
    assert kfp_spec == spec  # the KFP file is the same spec, unwrapped
    deployment = json_format.ParseDict(
        json_format.MessageToDict(spec.deployment_spec),
        pipeline_spec_pb2.PipelineDeploymentConfig(),
    )
    kinds = {executor.WhichOneof("spec") for executor in deployment.executors.values()}
    containers = {
        name[: -len("_executor")]: executor.container
        for name, executor in deployment.executors.items()
        if executor.HasField("container")
    }
    return job, spec, kinds, containers, output.read_text()


def _task_parameter(spec, task, name):
    """A constant parameter of a task in the compiled spec."""
    value = spec.root.dag.tasks[task].inputs.parameters[name].runtime_value.constant
    return value.string_value


GPU = {kubeflow_targets.KFP: "nvidia.com/gpu", kubeflow_targets.VERTEX: "NVIDIA_TESLA_T4"}


@pytest.mark.parametrize("target", kubeflow_targets.TARGETS)
@pytest.mark.parametrize(
    "preset, data, example_gen",
    [
        ("demo", "synthetic", "SyntheticImageExampleGen"),
        ("tutorial", "tfds:cycle_gan/horse2zebra", "TfdsImageExampleGen"),
        ("paper", "gs://bucket/horse2zebra", "FolderImageExampleGen"),
    ],
)
def test_spec_holds_only_what_the_target_runs(tmp_path, preset, data, example_gen, target):
    """The KFP backend's rules, on the spec as compiled for each preset and target."""
    job, spec, kinds, containers, text = _compile(
        tmp_path,
        "--target",
        target,
        "--preset",
        preset,
        "--data",
        data,
        "--gpu-type",
        GPU[target],
        "--gpu-count",
        "2",
        "--set",
        "batch_size=2",
        "--cpu",
        "ExampleGen=2",
        "--cpu",
        "Preprocess=4",
        "--memory",
        "Trainer=32G",
        "--beam-arg=--runner=DataflowRunner",
        "--beam-arg=--region=europe-west4",
    )
    assert kinds == {"container"}  # no resolver: open-source KFP runs every node
    assert set(containers) == {
        example_gen,
        "Preprocess",
        "DomainClassifier",
        "TrainingConfig",
        "Trainer",
        "Evaluator",
        "Pusher",
        "Report",
    }
    # The report and the metrics as KFP's own types, which its UI renders.
    report_outputs = spec.components["comp-Report"].output_definitions.artifacts
    assert {name: o.artifact_type.schema_title for name, o in report_outputs.items()} == {
        "report": "system.HTML",
        "metrics": "system.Metrics",
    }
    # The Trainer in the GPU image; the data steps, classifier, Evaluator and Pusher without CUDA.
    assert {name: c.image for name, c in containers.items()} == {
        name: GPU_IMAGE if name == "Trainer" else IMAGE for name in containers
    }
    assert kubeflow_targets.spec_problems(job["pipelineSpec"], target, IMAGES) == []

    trainer = containers["Trainer"].resources  # two GPUs in one pod: MirroredStrategy
    assert (trainer.accelerator.resource_type, trainer.accelerator.resource_count) == (
        GPU[target],
        "2",
    )
    assert (trainer.accelerator.type, trainer.accelerator.count) == (GPU[target], 2)
    assert trainer.resource_memory_request == "32G" and trainer.memory_limit == 32.0
    assert containers["Preprocess"].resources.resource_cpu_request == "4"
    assert containers[example_gen].resources.resource_cpu_request == "2"
    for name in ("Evaluator", "Pusher", "Preprocess"):
        assert not containers[name].resources.HasField("accelerator"), name

    for data_step in (example_gen, "Preprocess"):  # Beam args reach the data steps untouched
        args = list(containers[data_step].args)
        assert "--runner=DataflowRunner" in args and "--region=europe-west4" in args
    for name in ("Trainer", "Evaluator", "Pusher"):
        assert "--runner=DataflowRunner" not in containers[name].args, name

    # The compiled Trainer sections go to TrainingConfig; a run's training_config is an
    # overlay of them, empty by default.
    parameters = spec.root.input_definitions.parameters
    assert parameters["training_config"].default_value.string_value == "{}"
    assert job["runtimeConfig"]["parameterValues"]["training_config"] == "{}"
    compiled = json.loads(_task_parameter(spec, "TrainingConfig", "compiled"))
    assert set(compiled) == {"data", "train", "observability", "export"}
    assert compiled["train"]["epochs"] == {"demo": 10, "tutorial": 40, "paper": 100}[preset]
    if data.startswith("gs://"):
        assert parameters["data_root"].default_value.string_value == data
    for local_path in (os.getcwd(), os.path.expanduser("~") + "/", str(tmp_path)):
        assert local_path not in text, local_path


def test_static_check_names_what_the_backend_would_refuse(tmp_path):
    job, *_ = _compile(tmp_path, "--gpu-type", "nvidia.com/gpu")
    spec = copy.deepcopy(job["pipelineSpec"])
    executors = spec["deploymentSpec"]["executors"]
    executors["model_resolver_executor"] = {"resolver": {"outputArtifactQueries": {}}}
    executors["Pusher_executor"]["container"]["image"] = "someone-else/image:1"
    executors["Evaluator_executor"]["container"]["image"] = GPU_IMAGE  # CUDA where none is used
    trainer_args = executors["Trainer_executor"]["container"]["args"]
    trainer_args[trainer_args.index("--executor_class_path") + 1] = (
        "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    )
    executors["Evaluator_executor"]["container"]["args"].append("/home/me/repo/components/x.py")
    problems = kubeflow_targets.spec_problems(spec, "kfp", IMAGES, ["/home/me/repo/components"])
    assert len(problems) == 5, problems
    assert "model_resolver_executor: resolver executors cannot run on kfp" in problems
    assert any("Pusher_executor: runs image 'someone-else/image:1'" in p for p in problems)
    assert f"Evaluator_executor: runs image {GPU_IMAGE!r}, not {IMAGE!r}" in problems
    assert any("Trainer_executor: starts a Vertex AI training job" in p for p in problems)
    assert any("path of this machine: /home/me/repo/components" in p for p in problems)
    # Vertex runs resolvers and its own training jobs; the foreign image stays a problem.
    problems = kubeflow_targets.spec_problems(spec, "vertex", IMAGES)
    assert len(problems) == 3 and any("accelerator 'nvidia.com/gpu'" in p for p in problems)


def test_the_image_entrypoint_can_import_every_executor(tmp_path):
    """What the container does: import each --executor_class_path, and the run_fn."""
    _, _, _, containers, text = _compile(tmp_path, "--data", "gs://bucket/h2z")
    for name, container in containers.items():
        args = list(container.args)
        module, _, attribute = args[args.index("--executor_class_path") + 1].rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attribute), type), name
    assert "components.trainer.run_fn.run_fn" in text
    from components.trainer.run_fn import run_fn

    assert callable(run_fn)


def test_multi_worker_training_runs_as_a_vertex_job(tmp_path):
    job, spec, _, containers, _ = _compile(
        tmp_path,
        "--target",
        "vertex",
        "--workers",
        "3",
        "--vertex-project",
        "proj",
        "--vertex-region",
        "us-central1",
        "--gpu-type",
        "NVIDIA_TESLA_T4",
        "--set",
        "batch_size=3",
    )
    assert kubeflow_targets.spec_problems(job["pipelineSpec"], "vertex", IMAGES) == []
    args = list(containers["Trainer"].args)
    assert "google_cloud_ai_platform" in args[args.index("--executor_class_path") + 1]
    config = json.loads(_task_parameter(spec, "Trainer", "custom_config"))
    pools = config["ai_platform_training_args"]["worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 2]
    assert all(pool["container_spec"]["image_uri"] == GPU_IMAGE for pool in pools)
    assert pools[0]["machine_spec"]["accelerator_type"] == "NVIDIA_TESLA_T4"
    assert config["ai_platform_vertex_region"] == "us-central1"
    assert config["ai_platform_enable_vertex"] is True


def test_one_image_for_every_step_without_gpus(tmp_path):
    job, _, _, containers, _ = _compile(tmp_path, images=("--image", IMAGE))
    assert {c.image for c in containers.values()} == {IMAGE}
    images = kubeflow_targets.step_images(IMAGE, None)
    assert kubeflow_targets.spec_problems(job["pipelineSpec"], "kfp", images) == []


def test_endpoint_uploads_and_starts_a_run(tmp_path, monkeypatch):
    calls = []

    class FakeClient:
        def __init__(self, host=None, namespace=None):
            calls.append(("client", host, namespace))

        def create_run_from_pipeline_package(self, path, **kwargs):
            calls.append(("run", path, kwargs))
            return type("Run", (), {"run_id": "run-123"})()

    monkeypatch.setattr(kfp, "Client", FakeClient)
    _compile(
        tmp_path,
        "--endpoint",
        "http://127.0.0.1:8080",
        "--namespace",
        "team",
        "--experiment",
        "zebras",
        "--run-name",
        "first",
    )
    assert calls[0] == ("client", "http://127.0.0.1:8080", "team")
    ((_, path, kwargs),) = calls[1:]
    assert path == str(tmp_path / "spec.yaml")
    assert kwargs["experiment_name"] == "zebras" and kwargs["namespace"] == "team"
    assert kwargs["pipeline_root"] == ROOT and kwargs["run_name"] == "first"


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--gpu-type", "nvidia.com/gpu", "--gpu-count", "0", "--gpu-image", GPU_IMAGE],
            "--gpu-count must be >= 1",
        ),
        (
            ["--gpu-type", "nvidia.com/gpu"],
            "--gpu-type nvidia.com/gpu trains on GPU nodes, which needs the Trainer's GPU "
            "image .*add --gpu-image",
        ),
        (["--cpu", "Transformer=2"], "unknown component 'Transformer'"),
        (["--cpu", "Trainer"], "COMPONENT=VALUE"),
        (["--memory", "Trainer=lots"], "memory size 'lots'"),
        (
            ["--target", "vertex", "--workers", "2", "--set", "batch_size=2"],
            "--vertex-project and --vertex-region",
        ),
        # What open-source KFP cannot run is refused with the alternative.
        (
            ["--workers", "4", "--set", "batch_size=4"],
            "--workers 4 runs the Trainer as a Vertex AI training job.*use --target vertex, or "
            "train on several GPUs in one pod: --gpu-type nvidia.com/gpu --gpu-count 4",
        ),
        (["--vertex-project", "p"], "--vertex-project/--vertex-region are for --target vertex"),
        (
            ["--gpu-type", "NVIDIA_TESLA_T4", "--gpu-image", GPU_IMAGE],
            "Kubeflow Pipelines takes the Kubernetes resource name",
        ),
        (
            ["--target", "vertex", "--gpu-type", "nvidia.com/gpu", "--gpu-image", GPU_IMAGE],
            "Vertex AI takes an accelerator",
        ),
        (["--target", "vertex", "--endpoint", "http://127.0.0.1:8080"], "aiplatform.PipelineJob"),
        (
            ["--gpu-type", "nvidia.com/gpu", "--gpu-count", "4", "--gpu-image", GPU_IMAGE],
            r"train.batch_size 1 does not split evenly over 4 replicas \(1 worker\(s\) x 4 "
            r"device\(s\)\); use a multiple of 4, e.g. --set train.batch_size=4",
        ),
    ],
)
def test_bad_flags_say_what_is_wrong(tmp_path, capsys, flags, message):
    output = tmp_path / "spec.json"
    assert (
        kubeflow_runner.main(
            ["--image", IMAGE, "--pipeline-root", ROOT, "--output-file", str(output), *flags]
        )
        == 2
    )
    printed = capsys.readouterr().err
    assert printed.startswith("error: ") and re.search(message, printed)
    assert not output.exists()  # refused before compiling


def test_memory_sizes_are_kubernetes_quantities():
    assert kubeflow_spec.memory_gb("16G") == 16.0
    assert kubeflow_spec.memory_gb("512M") == 0.512
    assert kubeflow_spec.memory_gb("1Gi") == pytest.approx(1.073741824)
    assert kubeflow_spec.memory_gb("1500k") == 0.0015
    for refused in ("16K", "lots", "16 GB", "-1G"):  # Kubernetes writes k for kilo
        with pytest.raises(UsageError, match="use a Kubernetes quantity"):
            kubeflow_spec.memory_gb(refused)


def test_output_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_bytes(b"")
    for output, reason in [
        (tmp_path / "afile" / "spec.json", "it exists and is not a folder"),
        (tmp_path / "afile" / "out" / "spec.json", "Not a directory"),
    ]:
        assert (
            kubeflow_runner.main(
                ["--image", IMAGE, "--pipeline-root", ROOT, "--output-file", str(output)]
            )
            == 2
        )
        assert capsys.readouterr().err == (
            f"error: cannot write the output folder {output.parent}: {reason}\n"
        )
