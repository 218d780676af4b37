"""TrainingConfig: the compiled Trainer config, with the run's overlay on it -> the Trainer.

On Kubeflow the per-run parameter `training_config` is a partial overlay ({"train":
{"epochs": 20}}) of what was compiled, not a whole config: keys left out keep their compiled
values, and keys that other compiled steps own (image sizes, blessing thresholds) are refused
at the start of the run. The result goes to the Trainer as its `hyperparameters` input
(TFX's Tuner -> Trainer channel), so TFX's cache re-runs the Trainer only when it changes.
"""

from __future__ import annotations

from typing import Union

from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import channel, component_spec, standard_artifacts

from components.training_config import executor


class TrainingConfigSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "compiled": component_spec.ExecutionParameter(type=str),
        "overlay": component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {}
    OUTPUTS = {
        "hyperparameters": component_spec.ChannelParameter(type=standard_artifacts.HyperParameters)
    }


class TrainingConfig(base_component.BaseComponent):
    SPEC_CLASS = TrainingConfigSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, compiled: str, overlay: Union[str, data_types.RuntimeParameter] = "{}"):
        """compiled: the Trainer's config sections as JSON; overlay: JSON laid over them."""
        super().__init__(
            spec=TrainingConfigSpec(
                compiled=compiled,
                overlay=overlay,
                hyperparameters=channel.Channel(type=standard_artifacts.HyperParameters),
            )
        )
