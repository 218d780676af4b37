"""The CycleGAN core: networks, losses, input pipeline, training loop and export.

Plain TensorFlow; nothing here imports TFX, so it can be tested and benchmarked alone.
"""
