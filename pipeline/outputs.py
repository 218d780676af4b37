"""Finds where a finished local run put its outputs, by asking ML Metadata."""

from __future__ import annotations

import os
from typing import NamedTuple, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.report.executor import REPORT_FILE
from cyclegan import data_contract, samples
from cyclegan.evaluation import METRICS_FILE


class RunOutputs(NamedTuple):
    ingest_report: str
    tensorboard_dir: str
    translations_png: str
    evaluation: str
    report: str  # report.html
    pushed_model: Optional[str]  # None when the model was not blessed
    failed_checks: str  # why it was not blessed


def read_store(metadata_path: str) -> metadata_store.MetadataStore:
    """A local run's ML Metadata (SQLite), read-only."""
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def latest_outputs(metadata_path: str, pipeline_name: str) -> RunOutputs:
    store = read_store(metadata_path)
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    type_names = {t.id: t.name for t in store.get_artifact_types()}
    latest = {}
    for artifact in sorted(store.get_artifacts_by_context(context.id), key=lambda a: a.id):
        kind = type_names[artifact.type_id]
        if kind == "Examples" and "ingest_report" in artifact.custom_properties:
            kind = "RawExamples"
        latest[kind] = artifact
    pushed = latest["PushedModel"].custom_properties
    blessing = latest["ModelBlessing"].custom_properties
    return RunOutputs(
        ingest_report=os.path.join(latest["RawExamples"].uri, data_contract.INGEST_REPORT_FILE),
        tensorboard_dir=os.path.join(latest["ModelRun"].uri, "logs"),
        translations_png=os.path.join(latest["ModelRun"].uri, samples.GRID_FILE),
        evaluation=os.path.join(latest["ModelEvaluation"].uri, METRICS_FILE),
        report=os.path.join(os.path.dirname(latest["system.HTML"].uri), REPORT_FILE),
        pushed_model=(
            pushed["pushed_destination"].string_value if pushed["pushed"].int_value else None
        ),
        failed_checks=blessing["failed_checks"].string_value,
    )
