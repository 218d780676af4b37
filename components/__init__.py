"""Custom TFX components and the CycleGAN core. Progress goes to the "cyclegan" logger."""

import logging

logging.getLogger("cyclegan").setLevel(logging.INFO)
