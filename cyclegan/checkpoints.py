"""Which checkpoints a training continues, and what a fine-tune starts from.

A training's checkpoints live in a folder named after its identity: what decides the path the
weights take (the training data, the networks, losses, optimiser, batch, seed, the crop size,
a warm start). How long it trains (epochs, decay_epochs, steps_per_epoch), how fast
(jit_compile) and how it is observed (summaries, checkpoint cadence) are not part of it, so
raising `epochs` resumes where the last run stopped instead of starting over.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any, Dict, Sequence

import tensorflow as tf

from cyclegan.config import Config, TrainConfig
from cyclegan.serving_contract import CONFIG_ASSET

IDENTITY_FILE = "identity.json"  # in each checkpoint folder: what it is the training of
_CHUNK = 4 << 20


def data_fingerprint(patterns: Sequence[str]) -> str:
    """SHA-256 of the bytes of the files matching `patterns` (each pattern's files sorted):
    the same data gives the same fingerprint wherever its artifact folder is."""
    digest = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(tf.io.gfile.glob(pattern)):
            with tf.io.gfile.GFile(path, "rb") as file:
                while chunk := file.read(_CHUNK):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def identity(config: Config, fingerprint: str) -> Dict[str, Any]:
    train = {
        key: value
        for key, value in dataclasses.asdict(config.train).items()
        if key not in TrainConfig.LENGTH_AND_SPEED
    }
    return {"data": fingerprint, "crop_size": config.data.crop_size, "train": train}


def checkpoint_dir(root: str, config: Config, train_patterns: Sequence[str]) -> str:
    """<root>/<identity hash>/, created, with identity.json in it."""
    ident = identity(config, data_fingerprint(train_patterns))
    text = json.dumps(ident, sort_keys=True, indent=2)
    path = os.path.join(root, hashlib.sha256(text.encode()).hexdigest()[:16])
    tf.io.gfile.makedirs(path)
    with tf.io.gfile.GFile(os.path.join(path, IDENTITY_FILE), "w") as file:
        file.write(text)
    return path


# What two models must share for weights to move from one to the other.
_ARCHITECTURE = (
    "generator",
    "generator_filters",
    "resnet_blocks",
    "norm_affine",
    "conv_bias",
    "discriminator_filters",
    "discriminator_layers",
)


def _architecture(train: Dict[str, Any], crop_size: int) -> str:
    blocks = f", {train['resnet_blocks']} blocks" if train["generator"] == "resnet" else ""
    return (
        f"a {train['generator']} generator ({train['generator_filters']} filters{blocks}, "
        f"norm_affine={train['norm_affine']}, conv_bias={train['conv_bias']}) and "
        f"{train['discriminator_layers']}-layer discriminators "
        f"({train['discriminator_filters']} filters) at {crop_size} px"
    )


def _source(path: str):
    """(kind, the file to read weights from, its train section, its crop size)."""
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        with tf.io.gfile.GFile(os.path.join(path, CONFIG_ASSET)) as file:
            source = Config.from_dict(json.load(file))
        train, crop = dataclasses.asdict(source.train), source.data.crop_size
        return "SavedModel", os.path.join(path, "variables", "variables"), train, crop
    prefix = tf.train.latest_checkpoint(path) if tf.io.gfile.isdir(path) else path
    folder = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
    identity_path = os.path.join(folder, IDENTITY_FILE)
    if not prefix or not tf.io.gfile.exists(identity_path):
        raise ValueError(
            f"train.init_from {path}: neither a SavedModel (no saved_model.pb) nor a checkpoint "
            f"folder of this project (with {IDENTITY_FILE})"
        )
    with tf.io.gfile.GFile(identity_path) as file:
        ident = json.load(file)
    return "checkpoint", prefix, ident["train"], ident["crop_size"]


def warm_start(model, path: str) -> str:
    """Loads both generators of `model` from a pushed SavedModel version or a checkpoint of
    this project (then the discriminators too); returns what was loaded, for the log. Another
    architecture or image size is a ValueError naming both."""
    kind, weights, train, crop_size = _source(path)
    config = model.config
    ours = dataclasses.asdict(config.train)
    compared = _ARCHITECTURE if kind == "checkpoint" else _ARCHITECTURE[:5]
    if crop_size != config.data.crop_size or any(train[k] != ours[k] for k in compared):
        raise ValueError(
            f"train.init_from {path} holds {_architecture(train, crop_size)}; this config "
            f"trains {_architecture(ours, config.data.crop_size)}: the weights cannot move"
        )
    networks = tf.Module()
    networks.g_ab, networks.g_ba = model.g_ab, model.g_ba
    if kind == "checkpoint":
        networks.d_a, networks.d_b = model.d_a, model.d_b
        tf.train.Checkpoint(model=networks).read(weights).assert_existing_objects_matched()
        return f"Started both generators and both discriminators from checkpoint {weights}"
    tf.train.Checkpoint(root=networks).read(weights).assert_existing_objects_matched()
    return f"Started both generators from SavedModel {path}; the discriminators start fresh"
