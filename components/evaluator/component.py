"""Evaluator: metrics of both generators on the test splits -> an evaluation and a blessing.

A custom component rather than TFX's (TFMA) Evaluator: image-to-image metrics (cycle and
identity L1, a ground truth where one exists, collapse, FID and KID, domain scores) are not
TFMA's slice metrics. The blessing follows TFX's conventions (`blessed`, `current_model_id`),
so TFX's Pusher works with it, and carries the metrics (for the Pusher's versions.json). The
baseline is the serving directory's `stable` version, not resolved; the canary runs here.
"""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.evaluator import executor


class EvaluatorSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "max_cycle_l1": component_spec.ExecutionParameter(type=float),
        "min_output_spread": component_spec.ExecutionParameter(type=float),
        "baseline_margin": component_spec.ExecutionParameter(type=float),
        "serving_base_dir": component_spec.ExecutionParameter(type=str),
        "inception_weights": component_spec.ExecutionParameter(type=str, optional=True),
        "min_domain_score": component_spec.ExecutionParameter(type=float),
        "classifier_min_accuracy": component_spec.ExecutionParameter(type=float),
        "canary_timeout_s": component_spec.ExecutionParameter(type=float),
        "report_images": component_spec.ExecutionParameter(type=int),
    }
    INPUTS = {
        "model": component_spec.ChannelParameter(type=standard_artifacts.Model),
        "examples": component_spec.ChannelParameter(type=standard_artifacts.Examples),
        # A DomainClassifier's model: adds the domain scores (and their blessing checks).
        "domain_classifier": component_spec.ChannelParameter(
            type=standard_artifacts.Model, optional=True
        ),
    }
    OUTPUTS = {
        "evaluation": component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class Evaluator(base_component.BaseComponent):
    SPEC_CLASS = EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model,
        examples,
        config,
        serving_base_dir: str,
        inception_weights: str | None = None,
        domain_classifier=None,
    ):
        super().__init__(
            spec=EvaluatorSpec(
                model=model,
                examples=examples,
                serving_base_dir=serving_base_dir,
                domain_classifier=domain_classifier,
                min_domain_score=config.evaluation.min_domain_score,
                classifier_min_accuracy=config.evaluation.classifier_min_accuracy,
                max_cycle_l1=config.evaluation.max_cycle_l1,
                min_output_spread=config.evaluation.min_output_spread,
                baseline_margin=config.evaluation.baseline_margin,
                canary_timeout_s=config.evaluation.canary_timeout_s,
                report_images=config.evaluation.report_images,
                inception_weights=inception_weights,
                evaluation=channel.Channel(type=standard_artifacts.ModelEvaluation),
                blessing=channel.Channel(type=standard_artifacts.ModelBlessing),
            )
        )
