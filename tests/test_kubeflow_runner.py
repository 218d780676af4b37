"""Compiles the pipeline for Kubeflow Pipelines v2 and checks the spec (no cluster needed)."""

import json
import os

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_runner

IMAGE = "registry.example/cyclegan-tfx:1.0"


def _compile(tmp_path, *flags):
    output = tmp_path / "spec.json"
    assert kubeflow_runner.main(["--image", IMAGE, "--pipeline-root", "gs://bucket/pipelines",
                                 "--output-file", str(output), *flags]) == 0
    job = json.loads(output.read_text())
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(job["pipelineSpec"], spec, ignore_unknown_fields=True)
    return spec, output.read_text()


def test_spec_names_the_image_and_the_trainer_accelerators(tmp_path):
    spec, text = _compile(tmp_path, "--gpu-type", "NVIDIA_TESLA_T4", "--gpu-count", "2",
                          "--beam-arg=--runner=DataflowRunner")
    deployment = pipeline_spec_pb2.PipelineDeploymentConfig()
    json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec), deployment)
    executors = deployment.executors
    assert set(spec.root.dag.tasks) == {"SyntheticImageExampleGen", "Preprocess", "Trainer",
                                        "latest_blessed_model_resolver-model-resolver",
                                        "latest_blessed_model_resolver-model-blessing-resolver",
                                        "Evaluator", "Pusher"}
    assert {"Trainer_executor", "Evaluator_executor", "Pusher_executor"} <= set(executors)
    for name, executor in executors.items():
        if executor.HasField("container"):  # resolvers run in the KFP backend, not a container
            assert executor.container.image == IMAGE, name
    accelerator = executors["Trainer_executor"].container.resources.accelerator
    assert (accelerator.type, accelerator.count) == ("NVIDIA_TESLA_T4", 2)
    for name, executor in executors.items():
        if name != "Trainer_executor":
            assert not executor.container.resources.HasField("accelerator"), name
    assert "--runner=DataflowRunner" in text
    assert "components.trainer.run_fn.run_fn" in text  # user code by dotted path
    for local_path in (os.getcwd(), os.path.expanduser("~") + "/"):
        assert local_path not in text, local_path


def test_cpu_only_spec_requests_no_accelerator(tmp_path):
    spec, _ = _compile(tmp_path, "--data", "gs://bucket/horse2zebra")
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    assert "resources" not in executors["Trainer_executor"]["container"]
    assert "FolderImageExampleGen" in spec.root.dag.tasks


def test_gpu_count_must_be_positive(tmp_path):
    with pytest.raises(SystemExit, match="--gpu-count must be >= 1"):
        _compile(tmp_path, "--gpu-type", "nvidia.com/gpu", "--gpu-count", "0")
