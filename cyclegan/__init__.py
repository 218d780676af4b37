"""The CycleGAN core: config, data contract, image ops, networks, losses, the training step
and loop, export and serving contract, metrics, the synthetic data set.

Plain TensorFlow: nothing here imports TFX, `components/` or `pipeline/` (a test holds it to
that), so it can be used, tested and benchmarked alone. Dependencies point one way:
runners -> pipeline -> components -> cyclegan.
"""

import logging

# The one logger of the project: the core, the components and the runners report progress
# here; the runners decide how it is shown.
logger = logging.getLogger("cyclegan")
logger.setLevel(logging.INFO)
