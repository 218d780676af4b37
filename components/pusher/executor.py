"""Pusher executor: TFX's Pusher, made safe for a TF Serving that polls the base directory
(the writing itself is the core's, cyclegan/serving_dir.py):

- TF Serving never loads a half-written version. On a local (POSIX) filesystem the model is
  copied to a hidden, non-numeric directory next to the versions (TF Serving ignores those)
  and renamed into place, `<base>/<version>/`, in one atomic step. On an object store
  (gs://, s3://, ...) a rename is a copy object by object, so nothing is atomic: the files
  are copied straight into the version directory with saved_model.pb last. Until that last
  object exists the server cannot load the version (it may log a failed attempt and retry);
  once it exists every other file is already complete.
- Re-pushing a model already there (same files, byte for byte) creates no new version; the
  existing one is recorded as pushed.
- Versions are numeric and increasing: the push time in seconds, or one more than the latest.
- The label `serving.push_label` (stable, or canary) moves to the new version in TF Serving's
  model config file; versions.json records its metrics and source; all but the newest
  `serving.keep_versions` unlabelled versions are removed.
- A push that fails leaves nothing behind; a full disk is one line (PushError).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from cyclegan import logger, serving_dir
from cyclegan.config import ServingConfig

CUSTOM_CONFIG_SERVING = "serving"  # custom_config key: the `serving` config section
CUSTOM_CONFIG_MODEL_NAME = "model_name"  # TF Serving's model name


def custom_config(serving: ServingConfig, model_name: str) -> Dict[str, Any]:
    """What the pipeline passes to the Pusher's custom_config."""
    return {
        CUSTOM_CONFIG_SERVING: dataclasses.asdict(serving),
        CUSTOM_CONFIG_MODEL_NAME: model_name,
    }


class Executor(tfx_pusher.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            blessing: Optional[Any] = (
                input_dict.get(standard_component_specs.MODEL_BLESSING_KEY) or [None]
            )[0]
            reason = blessing.get_string_custom_property("failed_checks") if blessing else ""
            logger.warning(
                "Not pushed: the model was not blessed%s", f": {reason}" if reason else ""
            )
            self._MarkNotPushed(pushed_model)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination
        )
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("only filesystem push destinations are supported")
        model_dir = self.GetModelPath(input_dict)
        settings = json.loads(exec_properties.get("custom_config") or "{}")
        serving = ServingConfig(**settings.get(CUSTOM_CONFIG_SERVING, {}))
        blessing = input_dict[standard_component_specs.MODEL_BLESSING_KEY][0]
        metrics = (
            blessing.get_json_value_custom_property("metrics")
            if blessing.has_custom_property("metrics")
            else None
        )
        base = destination.filesystem.base_directory
        pushed = serving_dir.push(
            model_dir,
            base,
            label=serving.push_label,
            keep_versions=serving.keep_versions,
            record={"model": model_dir, "metrics": metrics and dict(metrics), "blessed": True},
            model_name=settings.get(CUSTOM_CONFIG_MODEL_NAME, ""),
        )
        logger.info(
            "%s %s; labels: %s (%s)%s",
            "Pushed the model to" if pushed.new else "Already pushed as",
            pushed.path,
            ", ".join(f"{label} -> {number}" for label, number in sorted(pushed.labels.items())),
            os.path.join(base, serving_dir.MODEL_CONFIG_FILE),
            f"; removed old versions {pushed.pruned}" if pushed.pruned else "",
        )
        io_utils.copy_dir(model_dir, pushed_model.uri)  # TFX's archive copy
        self._MarkPushed(
            pushed_model,
            pushed_destination=pushed.path,
            pushed_version=os.path.basename(pushed.path),
        )
