"""Every knob of the pipeline in one typed config, in sections owned by the steps that read
them, with named presets.

| section         | read by                                                             |
|-----------------|---------------------------------------------------------------------|
| `data`          | ExampleGen (the synthetic set), Preprocess; sizes also by the Trainer,|
|                 | the DomainClassifier and the serving signature                      |
| `train`         | the Trainer: networks, losses, optimiser, schedule, precision       |
| `observability` | the Trainer: summaries, checkpoint cadence, the PNG grid            |
| `classifier`    | the DomainClassifier                                                |
| `export`        | the Trainer: the serving SavedModel (request guard, warm-up)        |
| `evaluation`    | the Evaluator: blessing thresholds, the canary's time budget        |
| `serving`       | the Pusher: versions kept, the label a push moves                   |

Each component gets only what it reads, so TFX's cache re-runs a step only when that changes
(a blessing threshold re-runs the Evaluator, the Pusher and the Report, nothing else).

Pure Python (no TensorFlow, no TFX). A preset overrides only what differs from the defaults,
which are the TensorFlow CycleGAN tutorial's recipe. Keys are written `section.key`; the
flat names of earlier versions (`epochs`, `bless_min_domain_score`, ...) still work.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Dict, List, Mapping, Optional, Tuple

GENERATORS = ("unet", "resnet")
GAN_LOSSES = ("bce", "lsgan")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "area")
WHEN_LOCKED = ("wait", "refuse")
PUSH_LABELS = ("stable", "canary")


def _check(problems: List[str], condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def _at_least(section: Any, minimum: float, *names: str) -> List[str]:
    return [
        f"{name} must be >= {minimum}, got {getattr(section, name)}"
        for name in names
        if getattr(section, name) < minimum
    ]


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Images as the data steps make them. Beam resizes the train splits to load_size (shorter
    side, then centre crop); the Trainer random-crops crop_size from that every epoch. Test
    splits and the serving signature resize straight to crop_size."""

    load_size: int = 286
    crop_size: int = 256
    resize_method: str = "nearest"
    # The built-in synthetic data set (--data synthetic).
    synthetic_image_size: int = 64
    synthetic_train_per_domain: int = 200
    synthetic_test_per_domain: int = 8
    synthetic_seed: int = 0

    def problems(self) -> List[str]:
        problems = _at_least(self, 1, "synthetic_image_size", "synthetic_train_per_domain")
        _check(
            problems,
            self.resize_method in RESIZE_METHODS,
            f"resize_method must be one of {RESIZE_METHODS}, got {self.resize_method!r}",
        )
        _check(
            problems,
            0 < self.crop_size <= self.load_size,
            f"need 0 < crop_size <= load_size, got crop_size={self.crop_size}, "
            f"load_size={self.load_size}",
        )
        return problems


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What decides the trained weights (networks, losses, optimiser, batch, seed), and how long
    to train (epochs, decay_epochs, steps_per_epoch) and how fast (precision, jit_compile)."""

    random_flip: bool = True
    # Networks.
    generator: str = "unet"
    generator_filters: int = 64
    unet_dropout: float = 0.5
    resnet_blocks: int = 9
    discriminator_filters: int = 64
    discriminator_layers: int = 3
    norm_affine: bool = True  # instance norm with learned scale/offset (tutorial); paper: off
    conv_bias: bool = False  # biases in normalised convs (tutorial: no, as pix2pix; paper: yes)
    # Tutorial: pix2pix's bare LeakyReLU(), Keras' default 0.3; paper: 0.2.
    leaky_relu_slope: float = 0.3
    # Losses.
    gan_loss: str = "bce"
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # a fraction of lambda_cycle, as in both references
    # Optimisation. batch_size is the global batch, split across replicas.
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    batch_size: int = 1
    pool_size: int = 0  # history of generated images the discriminators also see (paper: 50)
    seed: int = 0
    # Length: raising these resumes the same training where it stopped.
    epochs: int = 40  # at the constant learning rate
    decay_epochs: int = 0  # then linear decay to zero over this many more
    steps_per_epoch: Optional[int] = None  # None: the larger train domain / batch_size
    # Start both generators from a pushed SavedModel version or a checkpoint (fine-tuning);
    # the discriminators too when it is a checkpoint.
    init_from: Optional[str] = None
    # Speed switches. precision "auto": bfloat16 where the hardware computes in it, float16
    # on GPUs 7.x, else float32 (cyclegan/precision.py); losses stay float32 in any.
    precision: str = "auto"
    jit_compile: bool = False  # XLA for the loss and gradient computation
    # When another trainer of the same training is running: "wait" for it, or "refuse".
    when_locked: str = "wait"

    # Fields that say how long, how fast or how politely to train, not which training:
    # changing them resumes from the same checkpoints (see checkpoints.identity()).
    OUTSIDE_IDENTITY = ("epochs", "decay_epochs", "steps_per_epoch", "jit_compile", "when_locked")

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.decay_epochs

    def problems(self) -> List[str]:
        problems = _at_least(
            self, 1, "batch_size", "epochs", "generator_filters", "discriminator_filters"
        )
        problems += _at_least(self, 0, "decay_epochs", "pool_size")
        _check(
            problems,
            self.generator in GENERATORS,
            f"generator must be one of {GENERATORS}, got {self.generator!r}",
        )
        _check(
            problems,
            self.gan_loss in GAN_LOSSES,
            f"gan_loss must be one of {GAN_LOSSES}, got {self.gan_loss!r}",
        )
        _check(
            problems,
            self.precision in PRECISIONS,
            f"precision must be one of {PRECISIONS}, got {self.precision!r}",
        )
        _check(
            problems,
            self.when_locked in WHEN_LOCKED,
            f"when_locked must be one of {WHEN_LOCKED}, got {self.when_locked!r}",
        )
        _check(
            problems,
            self.steps_per_epoch is None or self.steps_per_epoch >= 1,
            f"steps_per_epoch must be >= 1 or None, got {self.steps_per_epoch}",
        )
        return problems


@dataclasses.dataclass(frozen=True)
class ObservabilityConfig:
    summary_every_steps: int = 100  # loss and learning-rate scalars
    image_summary_every_steps: int = 1000  # translations of fixed test images
    checkpoint_every_steps: int = 500  # also at every epoch end
    grid_images: int = 4  # test images per direction in the PNG grid

    def problems(self) -> List[str]:
        return _at_least(
            self, 1, "summary_every_steps", "image_summary_every_steps", "checkpoint_every_steps"
        )


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """The domain classifier: a small CNN telling A from B, trained on the real train images
    (at image_size, whatever crop_size) to judge translations."""

    image_size: int = 64
    steps: int = 600  # batches of 32, half A half B: 23-40 s on 2 CPU cores
    seed: int = 0

    def problems(self) -> List[str]:
        return _at_least(self, 1, "image_size", "steps")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Blessing: the Evaluator lets a model be pushed only if every metric is finite and these
    hold (images in [-1, 1]), and it is not worse than the served model by the margin."""

    max_cycle_l1: float = 1.0
    min_output_spread: float = 0.01
    baseline_margin: float = 0.1
    # ...and, when the domain classifier is reliable, each direction's domain score (mean
    # P(target domain) of its translations) reaches this: the classifier sees the target
    # domain more often than not. Measured (README, "Domain classifier"): untrained and
    # 3-step models score 0.001-0.002 (synthetic) and 0.13-0.21 (horse2zebra) from A to B;
    # the trained synthetic demo 0.89, the demo preset on horse2zebra 0.52-0.86 from its
    # second epoch on.
    min_domain_score: float = 0.5
    # Below this accuracy on the real test images of either domain, the classifier's scores
    # are reported as unreliable and not used for blessing (a coin flip scores 0.5; measured:
    # horse2zebra 0.84-0.93, synthetic 1.0).
    classifier_min_accuracy: float = 0.75
    # The canary (a fresh process loads the candidate and answers its warm-up requests) must
    # finish within this; the paper preset at 256 px takes about a minute on 2 CPU cores.
    canary_timeout_s: float = 600.0
    # Test images per direction shown in the run report (input, translations, cycled back).
    report_images: int = 4

    def problems(self) -> List[str]:
        problems = [
            f"{name} must be in [0, 1], got {getattr(self, name)}"
            for name in ("min_domain_score", "classifier_min_accuracy")
            if not 0.0 <= getattr(self, name) <= 1.0
        ]
        return (
            problems + _at_least(self, 1, "canary_timeout_s") + _at_least(self, 0, "report_images")
        )


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """The serving SavedModel the Trainer exports."""

    # The bytes signatures read each image's size from its header and refuse, before decoding,
    # an image with more pixels than this: decoding allocates 3 bytes a pixel (a 1.2 MB PNG
    # of 20000 x 20000 zeros would take 1.2 GB). 50 MP is above any camera photo.
    max_request_pixels: int = 50_000_000
    # The largest batch per request we recommend; the warm-up requests cover 1 and this.
    warmup_batch_size: int = 8

    def problems(self) -> List[str]:
        return _at_least(self, 1, "max_request_pixels", "warmup_batch_size")


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    """The TF Serving directory the Pusher writes: versions and their labels."""

    keep_versions: int = 5  # older unlabelled versions are removed at each push
    # The label a push moves to the new version: "stable" (what clients asking for `stable`
    # get, and the Evaluator's baseline), or "canary" (promote it with `cyclegan-serving`).
    push_label: str = "stable"

    def problems(self) -> List[str]:
        problems = _at_least(self, 1, "keep_versions")
        _check(
            problems,
            self.push_label in PUSH_LABELS,
            f"push_label must be one of {PUSH_LABELS}, got {self.push_label!r}",
        )
        return problems


SECTIONS = {
    "data": DataConfig,
    "train": TrainConfig,
    "observability": ObservabilityConfig,
    "classifier": ClassifierConfig,
    "evaluation": EvaluationConfig,
    "export": ExportConfig,
    "serving": ServingConfig,
}
# What the Trainer reads (its config holds these and nothing else).
TRAINER_SECTIONS = ("data", "train", "observability", "export")
# What a run may change without compiling again (Kubeflow's `training_config`); the others
# are compiled into these steps.
RUN_TIME_SECTIONS = ("train", "observability", "export")
COMPILED_INTO = {
    "data": "ExampleGen, Preprocess and the serving signature",
    "classifier": "the DomainClassifier",
    "evaluation": "the Evaluator",
    "serving": "the Pusher",
}

# Flat keys of earlier versions, where they now live (keys whose name stayed are found by
# their name alone: `epochs` is train.epochs).
RENAMED = {
    "domain_classifier_image_size": "classifier.image_size",
    "domain_classifier_steps": "classifier.steps",
    "domain_classifier_min_accuracy": "evaluation.classifier_min_accuracy",
    "bless_max_cycle_l1": "evaluation.max_cycle_l1",
    "bless_min_output_spread": "evaluation.min_output_spread",
    "bless_baseline_margin": "evaluation.baseline_margin",
    "bless_min_domain_score": "evaluation.min_domain_score",
}


def _section_fields(kind: type) -> List[dataclasses.Field]:
    return list(dataclasses.fields(kind))


def all_keys() -> List[str]:
    """Every key as `section.key`."""
    return [f"{name}.{f.name}" for name, kind in SECTIONS.items() for f in _section_fields(kind)]


def resolve_key(key: str) -> Tuple[str, str]:
    """`section.key`, a flat key of an earlier version, or a key unique to one section ->
    (section, field); a ValueError naming the known keys otherwise."""
    key = RENAMED.get(key, key)
    section, dot, name = key.rpartition(".")
    owners = [
        owner
        for owner, kind in SECTIONS.items()
        if (not dot or owner == section) and name in {f.name for f in _section_fields(kind)}
    ]
    if len(owners) == 1:
        return owners[0], name
    if len(owners) > 1:
        raise ValueError(
            f"config key {key!r} is in several sections; write one of "
            + ", ".join(f"{owner}.{name}" for owner in owners)
        )
    raise ValueError(f"unknown config key {key!r}; known keys: {', '.join(all_keys())}")


@dataclasses.dataclass(frozen=True)
class Config:
    """A complete, validated description of one run's recipe."""

    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    export: ExportConfig = ExportConfig()
    serving: ServingConfig = ServingConfig()

    def __post_init__(self) -> None:
        problems = [problem for name in SECTIONS for problem in getattr(self, name).problems()]
        _check(
            problems,
            not (
                self.train.generator == "unet" and self.data.crop_size & (self.data.crop_size - 1)
            ),
            f"the U-Net needs a power-of-two crop_size, got {self.data.crop_size}",
        )
        if problems:
            raise ValueError("invalid config: " + "; ".join(problems))

    def replace(self, **changes: Any) -> "Config":
        """A copy with `key=value` changes, keys as resolve_key() takes them: flat
        (`replace(epochs=2)`) or dotted (`replace(**{"train.epochs": 2})`)."""
        by_section: Dict[str, Dict[str, Any]] = {}
        for key, value in changes.items():
            section, name = resolve_key(key)
            by_section.setdefault(section, {})[name] = value
        return dataclasses.replace(
            self,
            **{
                section: dataclasses.replace(getattr(self, section), **values)
                for section, values in by_section.items()
            },
        )

    def to_dict(self, sections=tuple(SECTIONS)) -> Dict[str, Dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in sections}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: Optional["Config"] = None) -> "Config":
        """`values` laid over `base` (default: the tutorial's recipe): a whole config as
        to_dict() writes it, or any part of one ({"train": {"epochs": 20}}); flat keys of
        earlier versions are accepted too."""
        flat: Dict[str, Any] = {}
        for key, value in values.items():
            if key in SECTIONS and isinstance(value, Mapping):
                flat.update({f"{key}.{name}": item for name, item in value.items()})
            else:
                flat[key] = value
        changes = {}
        for key, value in flat.items():
            section, name = resolve_key(key)
            changes[f"{section}.{name}"] = _typed(section, name, value)
        return (base or cls()).replace(**changes)

    def describe(self, baseline: Optional["Config"] = None) -> str:
        """One line per key; '*' marks values that differ from `baseline`."""
        baseline = baseline or Config()
        rows = [
            (
                f"{section}.{f.name}",
                getattr(getattr(self, section), f.name),
                getattr(getattr(baseline, section), f.name),
            )
            for section, kind in SECTIONS.items()
            for f in _section_fields(kind)
        ]
        width = max(len(key) for key, _, _ in rows)
        return "\n".join(
            f" {'*' if value != base else ' '} {key:<{width}} {value!r}"
            for key, value, base in rows
        )


PRESETS: Dict[str, Config] = {
    # The TensorFlow CycleGAN tutorial: U-Net, BCE, 286 nearest -> 256 crop, 40 epochs.
    "tutorial": Config(),
    # The paper's code defaults: ResNet-9, 70x70 PatchGAN, instance norm without affine
    # parameters, LSGAN, a pool of 50 generated images, 286 bicubic -> 256, 100 + 100 epochs.
    "paper": Config().replace(
        generator="resnet",
        norm_affine=False,
        conv_bias=True,
        leaky_relu_slope=0.2,
        gan_loss="lsgan",
        pool_size=50,
        resize_method="bicubic",
        epochs=100,
        decay_epochs=100,
    ),
    # Small and quick on a 2-core CPU: finishes the whole pipeline in a few minutes.
    "demo": Config().replace(
        load_size=72,
        crop_size=64,
        resize_method="bilinear",
        generator_filters=16,
        discriminator_filters=16,
        epochs=10,
        summary_every_steps=50,
        image_summary_every_steps=500,
        checkpoint_every_steps=500,
    ),
}


def batch_split_problem(batch_size: int, replicas: int, replicas_are: str) -> Optional[str]:
    """Why a global batch cannot be split evenly over the replicas (`replicas_are` says what
    they are, e.g. "2 GPUs"), or None: the one rule, wherever replicas are counted."""
    if batch_size % replicas == 0:
        return None
    return (
        f"train.batch_size {batch_size} does not split evenly over {replicas} replicas "
        f"({replicas_are}); use a multiple of {replicas}, e.g. --set train.batch_size={replicas}"
    )


def run_overlay(compiled: Config, values: Mapping[str, Any]) -> Config:
    """`values` (a run's partial config, e.g. {"train": {"epochs": 20}}) laid over the
    compiled config; a key another compiled step owns is a one-line ValueError."""
    for key, value in values.items():
        section = key if key in SECTIONS and isinstance(value, Mapping) else resolve_key(key)[0]
        if section not in RUN_TIME_SECTIONS:
            shown = f"{key}.{next(iter(value), '')}" if key in SECTIONS else key
            raise ValueError(
                f"training_config cannot change {shown}: the {section} section is compiled "
                f"into {COMPILED_INTO[section]}; compile the pipeline again with "
                f"--set {section}.KEY=VALUE. A run may change: {', '.join(RUN_TIME_SECTIONS)}"
            )
    return Config.from_dict(values, base=compiled)


def preset(name: str) -> Config:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None


def _typed(section: str, name: str, value: Any) -> Any:
    """`value` (from JSON) if it has the key's type (an int where a float goes is one)."""
    kind = typing.get_type_hints(SECTIONS[section])[name]
    kinds = typing.get_args(kind) if typing.get_origin(kind) is typing.Union else (kind,)
    if float in kinds and type(value) is int:
        return float(value)
    if type(value) not in kinds:  # exact: a bool is no int here
        wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(f"{section}.{name} takes {wanted}, got {value!r}")
    return value


def _parse_value(section: str, name: str, text: str) -> Any:
    kind = typing.get_type_hints(SECTIONS[section])[name]
    if typing.get_origin(kind) is typing.Union:  # Optional[...]
        if text.lower() in ("none", ""):
            return None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{section}.{name} takes true/false, got {text!r}")
        return text.lower() in ("true", "1")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(
            f"{section}.{name} takes a value of type {kind.__name__}, got {text!r}"
        ) from None


def apply_overrides(config: Config, assignments: List[str]) -> Config:
    """Applies `key=value` strings (from --set flags) with type checking."""
    changes = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep:
            raise ValueError(f"--set takes key=value, got {assignment!r}")
        section, name = resolve_key(key)
        changes[f"{section}.{name}"] = _parse_value(section, name, text)
    return config.replace(**changes)
