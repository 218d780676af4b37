"""Report: the run report a person reads (HTML, images inline) and the Evaluator's scalar
metrics, after the Pusher, as Kubeflow Pipelines' own artifact types (`system.HTML`,
`system.Metrics`), which the KFP UI renders. The page itself is the core's
(cyclegan/report.py)."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

import system
from components.report import executor


class ReportSpec(component_spec.ComponentSpec):
    PARAMETERS = {}
    INPUTS = {
        "evaluation": component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "pushed_model": component_spec.ChannelParameter(type=standard_artifacts.PushedModel),
        "model_run": component_spec.ChannelParameter(type=standard_artifacts.ModelRun),
        "domain_classifier": component_spec.ChannelParameter(
            type=standard_artifacts.Model, optional=True
        ),
        # The raw examples, for their ingest report.
        "examples": component_spec.ChannelParameter(
            type=standard_artifacts.Examples, optional=True
        ),
    }
    OUTPUTS = {
        "report": component_spec.ChannelParameter(type=system.HTML),
        "metrics": component_spec.ChannelParameter(type=system.Metrics),
    }


class Report(base_component.BaseComponent):
    SPEC_CLASS = ReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, evaluation, pushed_model, model_run, domain_classifier=None, examples=None):
        super().__init__(
            spec=ReportSpec(
                evaluation=evaluation,
                pushed_model=pushed_model,
                model_run=model_run,
                domain_classifier=domain_classifier,
                examples=examples,
                report=channel.Channel(type=system.HTML),
                metrics=channel.Channel(type=system.Metrics),
            )
        )
