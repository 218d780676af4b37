"""DomainClassifier: raw image examples -> a Model that tells domain A from domain B.

The Evaluator scores translations with it (domain scores). It reads the raw examples, not
Preprocess's output, because it must see the train images exactly as the test images are
made (one resize to crop_size); see the executor. TFX caches it: it re-trains only when the
data or its own settings change, not when the CycleGAN's do.
"""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.domain_classifier import executor
from cyclegan.config import Config


class DomainClassifierSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "image_size": component_spec.ExecutionParameter(type=int),
        "train_steps": component_spec.ExecutionParameter(type=int),
        "crop_size": component_spec.ExecutionParameter(type=int),
        "resize_method": component_spec.ExecutionParameter(type=str),
        "seed": component_spec.ExecutionParameter(type=int),
    }
    INPUTS = {"examples": component_spec.ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {"model": component_spec.ChannelParameter(type=standard_artifacts.Model)}


class DomainClassifier(base_component.BaseComponent):
    SPEC_CLASS = DomainClassifierSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples, config: Config):
        super().__init__(
            spec=DomainClassifierSpec(
                examples=examples,
                image_size=config.classifier.image_size,
                train_steps=config.classifier.steps,
                crop_size=config.data.crop_size,
                resize_method=config.data.resize_method,
                seed=config.classifier.seed,
                model=channel.Channel(type=standard_artifacts.Model),
            )
        )
