"""The CycleGAN TFX pipeline as an installable package.

Dependencies are pinned in requirements/requirements.lock (see the Makefile for why they are
installed from the lock with --no-deps rather than resolved by pip); install_requires names
only the direct ones, loosely, so `pip install .` into a prepared environment never fights
the lock.
"""

from setuptools import find_packages, setup

setup(
    name="cyclegan-tfx",
    version="0.1.0",
    description="Train and serve unpaired image-to-image translation (CycleGAN) on TFX",
    python_requires=">=3.10,<3.12",
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
    ],
    entry_points={
        "console_scripts": [
            "cyclegan-local=local_runner:main",
            "cyclegan-kubeflow=kubeflow_runner:main",
            "cyclegan-translate=client.translate:main",
        ]
    },
)
