"""Kubeflow Pipelines' own artifact types as TFX artifact classes.

The KFP UI renders an artifact of type `system.HTML` as the page its URI holds, and one of
type `system.Metrics` as a table of its scalar metadata. TFX's Kubeflow container entrypoint
finds an artifact's Python class by importing the artifact's type name, so these classes must
be importable as exactly `system.HTML` and `system.Metrics`: hence this top-level package.
"""

from tfx.types.artifact import Artifact
from tfx.types.value_artifact import ValueArtifact


class HTML(ValueArtifact):
    """An HTML page; the artifact's URI is the file itself (what the KFP UI shows)."""

    TYPE_NAME = "system.HTML"

    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, serialized_value: bytes) -> str:
        return serialized_value.decode("utf-8")


class Metrics(Artifact):
    """Scalar metrics, one float custom property each (the KFP UI's metrics table)."""

    TYPE_NAME = "system.Metrics"
