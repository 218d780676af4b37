"""Every knob of the pipeline in one typed config, with named presets.

Pure Python (no TensorFlow, no TFX): the runners, the components and the CycleGAN core all
import it. A preset overrides only what differs from the defaults, which are the TensorFlow
CycleGAN tutorial's recipe.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Dict, List, Mapping, Optional

GENERATORS = ("unet", "resnet")
GAN_LOSSES = ("bce", "lsgan")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "area")


@dataclasses.dataclass(frozen=True)
class Config:
    """A complete, validated description of one training recipe."""

    # Images. Beam resizes the train splits to load_size (shorter side, then centre crop);
    # the Trainer random-crops crop_size from that every epoch. Test splits and the serving
    # signature resize straight to crop_size.
    load_size: int = 286
    crop_size: int = 256
    resize_method: str = "nearest"
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
    epochs: int = 40  # at the constant learning rate
    decay_epochs: int = 0  # then linear decay to zero over this many more
    steps_per_epoch: Optional[int] = None  # None: the larger train domain / batch_size
    pool_size: int = 0  # history of generated images the discriminators also see (paper: 50)
    seed: int = 0

    # Speed switches, for GPUs mostly. Losses stay float32 under mixed precision.
    precision: str = "float32"
    jit_compile: bool = False  # XLA for the loss and gradient computation

    # Blessing: the Evaluator lets a model be pushed only if every metric is finite and these
    # hold (images in [-1, 1]), and it is not worse than the last blessed model by the margin.
    bless_max_cycle_l1: float = 1.0
    bless_min_output_spread: float = 0.01
    bless_baseline_margin: float = 0.1
    # ...and, when the domain classifier is reliable, each direction's domain score (mean
    # P(target domain) of its translations) reaches this: the classifier sees the target
    # domain more often than not. Measured (README, "Domain classifier"): untrained and
    # 3-step models score 0.001-0.002 (synthetic) and 0.13-0.21 (horse2zebra) from A to B;
    # the trained synthetic demo 0.89, the demo preset on horse2zebra 0.52-0.86 from its
    # second epoch on.
    bless_min_domain_score: float = 0.5

    # Domain classifier: a small CNN telling A from B, trained on the real train images (at
    # image_size, whatever crop_size) to judge translations. Below min_accuracy on the real
    # test images of either domain, its scores are reported as unreliable and not used for
    # blessing (a coin flip scores 0.5; measured: horse2zebra 0.84-0.93, synthetic 1.0).
    domain_classifier_image_size: int = 64
    domain_classifier_steps: int = 600  # batches of 32, half A half B: 23-40 s on 2 CPU cores
    domain_classifier_min_accuracy: float = 0.75

    # Observability.
    summary_every_steps: int = 100  # loss and learning-rate scalars
    image_summary_every_steps: int = 1000  # translations of fixed test images
    checkpoint_every_steps: int = 500  # also at every epoch end
    grid_images: int = 4  # test images per direction in the PNG grid

    # Built-in synthetic data set (used by --data synthetic).
    synthetic_image_size: int = 64
    synthetic_train_per_domain: int = 200
    synthetic_test_per_domain: int = 8

    def __post_init__(self) -> None:
        problems = []
        if self.generator not in GENERATORS:
            problems.append(f"generator must be one of {GENERATORS}, got {self.generator!r}")
        if self.gan_loss not in GAN_LOSSES:
            problems.append(f"gan_loss must be one of {GAN_LOSSES}, got {self.gan_loss!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.resize_method not in RESIZE_METHODS:
            problems.append(
                f"resize_method must be one of {RESIZE_METHODS}, got {self.resize_method!r}"
            )
        if not 0 < self.crop_size <= self.load_size:
            problems.append(
                f"need 0 < crop_size <= load_size, got crop_size={self.crop_size}, "
                f"load_size={self.load_size}"
            )
        if self.generator == "unet" and self.crop_size & (self.crop_size - 1):
            problems.append(f"the U-Net needs a power-of-two crop_size, got {self.crop_size}")
        for name in (
            "batch_size",
            "epochs",
            "generator_filters",
            "discriminator_filters",
            "summary_every_steps",
            "image_summary_every_steps",
            "checkpoint_every_steps",
            "domain_classifier_image_size",
            "domain_classifier_steps",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("decay_epochs", "pool_size"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("bless_min_domain_score", "domain_classifier_min_accuracy"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            problems.append(f"steps_per_epoch must be >= 1 or None, got {self.steps_per_epoch}")
        if problems:
            raise ValueError("invalid config: " + "; ".join(problems))

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.decay_epochs

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Config":
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**values)

    def describe(self, baseline: Optional["Config"] = None) -> str:
        """One line per field; '*' marks values that differ from `baseline`."""
        baseline = baseline or Config()
        lines = []
        fields = dataclasses.fields(self)
        width = max(len(field.name) for field in fields)
        for field in fields:
            value = getattr(self, field.name)
            mark = "*" if value != getattr(baseline, field.name) else " "
            lines.append(f" {mark} {field.name:<{width}} {value!r}")
        return "\n".join(lines)


PRESETS: Dict[str, Config] = {
    # The TensorFlow CycleGAN tutorial: U-Net, BCE, 286 nearest -> 256 crop, 40 epochs.
    "tutorial": Config(),
    # The paper's code defaults: ResNet-9, 70x70 PatchGAN, instance norm without affine
    # parameters, LSGAN, a pool of 50 generated images, 286 bicubic -> 256, 100 + 100 epochs.
    "paper": Config(
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
    "demo": Config(
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


def preset(name: str) -> Config:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None


def _parse_value(field: dataclasses.Field, text: str) -> Any:
    kind = typing.get_type_hints(Config)[field.name]
    if typing.get_origin(kind) is typing.Union:  # Optional[int]
        if text.lower() in ("none", ""):
            return None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{field.name} takes true/false, got {text!r}")
        return text.lower() in ("true", "1")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(
            f"{field.name} takes a value of type {kind.__name__}, got {text!r}"
        ) from None


def apply_overrides(config: Config, assignments: List[str]) -> Config:
    """Applies `key=value` strings (from --set flags) with type checking."""
    fields = {f.name: f for f in dataclasses.fields(Config)}
    changes = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep:
            raise ValueError(f"--set takes key=value, got {assignment!r}")
        if key not in fields:
            raise ValueError(f"--set: unknown config key {key!r}; known keys: {sorted(fields)}")
        changes[key] = _parse_value(fields[key], text)
    return config.replace(**changes)
