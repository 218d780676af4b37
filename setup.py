"""The CycleGAN TFX pipeline as an installable package.

Dependencies are pinned, with hashes, in requirements/requirements.lock (see the Makefile for
why they are installed from the lock with --no-deps rather than resolved by pip);
install_requires names only the direct ones, loosely, so `pip install .` into a prepared
environment never fights the lock.
"""

import os
import runpy

from setuptools import find_packages, setup

# The project's one Python range is stated in cyclegan/entry.py (standard library only).
ENTRY = runpy.run_path(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "cyclegan", "entry.py")
)

setup(
    name="cyclegan-tfx",
    version="0.1.0",
    description="Train and serve unpaired image-to-image translation (CycleGAN) on TFX",
    python_requires=ENTRY["PYTHON_REQUIRES"],
    packages=find_packages(
        include=[
            "cyclegan",
            "cyclegan.*",
            "pipeline",
            "pipeline.*",
            "components",
            "components.*",
            "client",
            "client.*",
            "system",
        ]
    ),
    py_modules=["local_runner", "kubeflow_runner"],
    install_requires=[
        "tfx>=1.21,<1.22",
        "tensorflow>=2.21,<2.22",
        "tensorflow-datasets",
        "apache-beam",
        "tensorflow-serving-api",
        "kfp",
        "pillow",
        "tensorboard",
        "matplotlib",
        "tqdm",
    ],
    entry_points={
        "console_scripts": [
            "cyclegan-local=local_runner:main",
            "cyclegan-kubeflow=kubeflow_runner:main",
            "cyclegan-translate=client.translate:main",
            "cyclegan-serving=client.serving:main",
        ]
    },
)
