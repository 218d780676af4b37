"""The paper's history of generated images (Shrivastava et al.; CycleGAN's ImagePool).

The discriminators are updated with generated images drawn partly from this history rather
than only the latest generator's output, which damps oscillation. Per image: until the pool
is full, store it and return it; afterwards, with probability 0.5 return a random stored
image and store the new one in its place, else return the new image.

Under tf.distribute each replica keeps its own pool (ON_READ variables), as each process of
the paper's multi-GPU training does.
"""

from __future__ import annotations

import tensorflow as tf


class ImagePool(tf.Module):
    def __init__(self, size: int, image_shape, name: str = "image_pool"):
        super().__init__(name=name)
        self.size = size
        on_read = dict(
            trainable=False,
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.images = tf.Variable(tf.zeros([size, *image_shape]), name="images", **on_read)
        self.count = tf.Variable(0, dtype=tf.int32, name="count", **on_read)

    def query(self, images: tf.Tensor) -> tf.Tensor:
        """Returns a batch the same shape as `images`, mixing in stored ones."""
        images = tf.cast(images, tf.float32)
        returned = tf.TensorArray(tf.float32, size=tf.shape(images)[0])
        for index in tf.range(tf.shape(images)[0]):
            image = images[index]
            if self.count < self.size:
                self.images[self.count].assign(image)
                self.count.assign_add(1)
                chosen = image
            elif tf.random.uniform([]) > 0.5:
                slot = tf.random.uniform([], 0, self.size, dtype=tf.int32)
                chosen = tf.identity(self.images[slot])
                self.images[slot].assign(image)
            else:
                chosen = image
            returned = returned.write(index, chosen)
        return returned.stack()
