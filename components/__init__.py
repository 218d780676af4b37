"""The pipeline's custom TFX components: thin adapters from artifacts and execution
properties to the CycleGAN core (`cyclegan/`)."""
