"""A small CNN that tells domain A from domain B: a judge of translations that needs nothing
downloaded. Plain TensorFlow (no TFX imports).

Trained on the real train images of both domains, it scores a translation G(a) by the
probability that it is a B image (and F(b) by the probability that it is an A image); the
untranslated test images score what doing nothing would. Its accuracy on the real test
images of each domain says how far those scores can be trusted.

Every image is downscaled (area averaging) to `image_size` before the network sees it:
train images, test images and translations alike, whatever the pipeline's size. At 64 px
the cues that separate the domains (stripes, coats, scenery) are still plain, a step costs
16x less than at 256 px, and one classifier recipe serves every preset.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict

import tensorflow as tf
import tf_keras as keras

from cyclegan import image_ops, metrics
from cyclegan.progress import StepProgress

INPUT_KEY, OUTPUT_KEY = "images", "probability_b"
SIGNATURE = "serving_default"

Score = Callable[[tf.Tensor], tf.Tensor]  # float [n, h, w, 3] in [-1, 1] -> P(B) [n]


def downscale(images: tf.Tensor, size: int) -> tf.Tensor:
    return tf.image.resize(images, [size, size], method="area")


def network(image_size: int) -> keras.Model:
    """Images in [-1, 1] at image_size -> the logit of domain B. Pairs of 3x3 convolutions
    at four scales, then a global average: texture and colour statistics, which is what tells
    the domains apart, with ~0.3M parameters."""
    inputs = keras.Input([image_size, image_size, 3])
    x = inputs
    for filters in (16, 32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x), name="domain_classifier")


def train(
    images_a: tf.data.Dataset,
    images_b: tf.data.Dataset,
    image_size: int,
    steps: int,
    batch_size: int = 32,
    seed: int = 0,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Trains on uint8 [h, w, 3] images of each domain (any one size per dataset).

    Batches are half A, half B whatever the domains' sizes, so neither answer is favoured;
    images are downscaled once (kept in memory as uint8) and flipped at random per step.
    """
    keras.utils.set_random_seed(seed)

    def domain(images: tf.data.Dataset, label: float) -> tf.data.Dataset:
        small = images.map(
            lambda image: tf.cast(
                tf.round(downscale(tf.cast(image, tf.float32), image_size)), tf.uint8
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).cache()
        return (
            small.shuffle(4096, seed=seed + int(label))
            .repeat()
            .map(
                lambda image: tf.image.random_flip_left_right(
                    image_ops.to_unit_range(image), seed=seed
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .batch(batch_size // 2)
            .map(lambda batch: (batch, tf.fill([tf.shape(batch)[0], 1], label)))
        )

    batches = tf.data.Dataset.zip((domain(images_a, 0.0), domain(images_b, 1.0))).map(
        lambda a, b: (tf.concat([a[0], b[0]], 0), tf.concat([a[1], b[1]], 0))
    )
    model = network(image_size)
    # Cosine decay to 0: the last steps settle, so the result depends less on the final batches.
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(
        keras.optimizers.Adam(schedule), keras.losses.BinaryCrossentropy(from_logits=True)
    )
    with StepProgress(steps, "domain classifier") as progress:
        model.fit(
            batches.prefetch(tf.data.AUTOTUNE),
            steps_per_epoch=steps,
            epochs=1,
            verbose=0,
            callbacks=[
                keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_: progress.update())
            ],
        )
    return model


class _Scorer(tf.Module):
    """What is exported: any-size float images in [-1, 1] -> P(B)."""

    def __init__(self, model: keras.Model, image_size: int):
        super().__init__(name="domain_classifier")
        self.model = model
        self.image_size = image_size
        self.score = tf.function(
            self._score,
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name=INPUT_KEY)],
        )

    def _score(self, images: tf.Tensor) -> Dict[str, tf.Tensor]:
        logits = self.model(downscale(images, self.image_size), training=False)
        return {OUTPUT_KEY: tf.sigmoid(logits[:, 0])}


def scorer(model: keras.Model, image_size: int) -> Score:
    module = _Scorer(model, image_size)
    return lambda images: module.score(images)[OUTPUT_KEY]


def export(model: keras.Model, image_size: int, export_dir: str) -> str:
    module = _Scorer(model, image_size)
    tf.saved_model.save(module, export_dir, signatures={SIGNATURE: module.score})
    return export_dir


def load(export_dir: str) -> Score:
    loaded = tf.saved_model.load(export_dir)  # the closure keeps it (and its variables) alive
    return lambda images: loaded.signatures[SIGNATURE](**{INPUT_KEY: images})[OUTPUT_KEY]


REPORT_FILE = "domain_classifier.json"


def write_report(folder: str, report: Dict[str, Any]) -> str:
    """Writes <folder>/domain_classifier.json (accuracies, what it was trained on); its path."""
    path = os.path.join(folder, REPORT_FILE)
    with tf.io.gfile.GFile(path, "w") as file:
        file.write(json.dumps(report, indent=2))
    return path


def read_report(folder: str) -> Dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(folder, REPORT_FILE)) as file:
        return json.load(file)


def accuracy(score: Score, images_a: tf.Tensor, images_b: tf.Tensor) -> Dict[str, float]:
    """The share of real images of each domain classified as that domain (P >= 0.5 is B)."""
    return {
        "accuracy_a": float(
            tf.reduce_mean(tf.cast(metrics.batched(score, images_a) < 0.5, tf.float32))
        ),
        "accuracy_b": float(
            tf.reduce_mean(tf.cast(metrics.batched(score, images_b) >= 0.5, tf.float32))
        ),
    }
