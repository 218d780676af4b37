"""What the runners share: their common flags, logging, config resolution."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import sys
import tempfile
import time
from typing import Callable

from cyclegan import config as config_lib
from cyclegan import logger
from cyclegan.entry import DataError, StepError, UsageError, prepare_process

# Hidden TFX warnings: two known-harmless ones, one that LocalDagRunner prints for every input
# channel, and one that TFX 1.21's Kubeflow compiler prints when a per-component image map is
# right (its check is inverted).
_TFX_NOISE = re.compile(
    r"ArtifactQuery.property_predicate is not supported"
    r"|DEFAULT_IMAGE_PATH_KEY is not found in default_image"
)
_STARTED = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution (\d+) is used\.")


class StepLines(logging.Filter):
    """TFX's INFO lines cut down to one per step event, in words of our own: `Step X started`,
    `Step X finished in 12.3 s`, or `Step X taken from the cache (execution N)` (TFX never
    says a step was cached). Its warnings pass, but for the noise above."""

    def __init__(self):
        super().__init__()
        self.step, self.started, self.cached = "", 0.0, False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return not _TFX_NOISE.search(message)
        started, finished, cached = (p.match(message) for p in (_STARTED, _FINISHED, _CACHED))
        if started:
            self.step, self.started, self.cached = started.group(1), time.monotonic(), False
            text = f"Step {self.step} started"
        elif cached:
            self.cached = True
            text = f"Step {self.step} taken from the cache (execution {cached.group(1)})"
        elif finished and not self.cached:
            text = f"Step {finished.group(1)} finished in {time.monotonic() - self.started:.1f} s"
        else:
            return False
        record.msg, record.args = text, ()
        return True


def configure_logging(verbose: bool) -> logging.Logger:
    """Our progress lines and TFX's component progress; all TFX/Beam INFO with --verbose."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    if not verbose:
        from absl import logging as absl_logging

        # Through absl's own verbosity, not the logger's level alone: TensorFlow's SavedModel
        # save sets the verbosity back to what absl reports, which is WARNING unless set so.
        absl_logging.set_verbosity(absl_logging.INFO)
        absl_logger = logging.getLogger("absl")
        for old in [f for f in absl_logger.filters if isinstance(f, StepLines)]:
            absl_logger.removeFilter(old)  # a runner called again in one process
        absl_logger.addFilter(StepLines())
    return logger


def add_common_flags(parser: argparse.ArgumentParser, default_data: str | None) -> None:
    parser.add_argument(
        "--data",
        default=default_data,
        required=default_data is None,
        help="'synthetic' (the built-in two-domain set: coloured blobs -> striped blobs; no "
        "network needed); 'tfds:NAME' for a TensorFlow Datasets set with trainA/trainB/"
        "testA/testB splits, e.g. tfds:cycle_gan/horse2zebra or tfds:cycle_gan/monet2photo; "
        "or a folder holding trainA/ trainB/ testA/ testB/ image folders, as in the "
        "official horse2zebra.zip (local path, or gs:// on a cluster)"
        + (f" (default: {default_data})" if default_data else ""),
    )
    parser.add_argument(
        "--tfds-data-dir",
        default=None,
        help="where TFDS datasets are (or will be) prepared, for --data tfds:NAME "
        "(default: TFDS's own, ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--preset",
        default="demo",
        choices=sorted(config_lib.PRESETS),
        help="training recipe: 'demo' is small and quick on a CPU; 'tutorial' is the "
        "TensorFlow CycleGAN tutorial (U-Net, BCE, 40 epochs, 256 px); 'paper' is the "
        "CycleGAN paper's code (ResNet-9, LSGAN, 100+100 epochs, 256 px) "
        "(default: demo)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, after the preset and --config, e.g. --set "
        "train.epochs=5 --set evaluation.min_domain_score=0.6; repeatable. A key unique to "
        "one section may go without it (epochs=5), and so may the flat keys of earlier "
        "versions. Keys: " + ", ".join(config_lib.all_keys()),
    )
    parser.add_argument(
        "--config",
        dest="config_file",
        default=None,
        metavar="FILE",
        help="a JSON config laid over the preset: the config.json a run writes beside its "
        'TensorBoard logs, or any part of one, e.g. {"train": {"epochs": 20}}',
    )
    parser.add_argument(
        "--beam-arg",
        dest="beam_args",
        action="append",
        default=[],
        metavar="FLAG",
        help="a Beam pipeline option for the data steps, passed through untouched, e.g. "
        "--beam-arg=--direct_running_mode=multi_processing "
        "--beam-arg=--direct_num_workers=2; repeatable",
    )
    parser.add_argument(
        "--inception-weights",
        default=None,
        metavar="PATH",
        help="InceptionV3 notop weights (.h5) for the Evaluator's FID and KID; default: the "
        "Keras cache (~/.keras/models/). Without them both are skipped and the run says so",
    )
    parser.add_argument(
        "--pipeline-name", default="cyclegan", help="TFX pipeline name (default: cyclegan)"
    )
    parser.add_argument(
        "--model-name",
        default="cyclegan",
        help="model name in the serving directory, as TF Serving's --model_name "
        "(default: cyclegan)",
    )
    parser.add_argument("--verbose", action="store_true", help="also show TFX and Beam INFO logs")


def start(args: argparse.Namespace) -> config_lib.Config:
    """What a runner does once its flags are parsed: the process set-up that must precede
    TensorFlow, logging, and the config the flags ask for."""
    prepare_process()
    configure_logging(args.verbose)
    return resolve_config(args)


def resolve_config(args: argparse.Namespace) -> config_lib.Config:
    """Preset, then --config FILE, then --set overrides; a bad file, key or value is a
    UsageError saying which."""
    try:
        config = config_lib.preset(args.preset)
        if args.config_file:
            config = config_lib.Config.from_dict(_read_json(args.config_file), base=config)
        return config_lib.apply_overrides(config, args.overrides)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _read_json(path: str) -> dict:
    try:
        with open(path) as file:
            values = json.load(file)
    except OSError as error:
        raise UsageError(f"--config {path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--config {path}: not JSON ({error})") from None
    if not isinstance(values, dict):
        raise UsageError(f"--config {path}: a JSON object of config sections, got {values!r}")
    return values


def reports_errors(main: Callable[..., int]) -> Callable[..., int]:
    """The one way a runner stops on a usage or data error: `error: <message>` on stderr and
    exit code 2 (as argparse does for a bad flag), no traceback; on a step's StepError the
    same line and exit code 1."""

    @functools.wraps(main)
    def wrapper(argv=None) -> int:
        try:
            return main(argv)
        except (UsageError, DataError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except StepError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1

    return wrapper


def check_output_dir(path: str) -> None:
    """Creates the folder if needed and writes a file in it, so a run does not end in a
    traceback after its first steps; a UsageError saying why if that fails."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            return
    except FileExistsError:  # makedirs' "File exists" means: there, but not a folder
        reason = "it exists and is not a folder"
    except OSError as error:
        reason = error.strerror or str(error)
    raise UsageError(f"cannot write the output folder {path}: {reason}")
