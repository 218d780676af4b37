"""ExampleGen components for image sources; both run the same executor.

`FolderImageExampleGen` is TFX's FileBasedExampleGen: its driver fingerprints the input files,
so a re-run on unchanged files hits the cache and a changed file triggers a new run; an entry
that cannot be stat'ed is left to the executor to skip and report (driver.py).
`SyntheticImageExampleGen` and `TfdsImageExampleGen` are TFX's QueryBasedExampleGen: each
split's "query" names what to read (the synthetic set's parameters; a TFDS dataset, split
and data dir), so caching keys on them.
"""

from __future__ import annotations

import os

from tfx.components.example_gen.component import FileBasedExampleGen, QueryBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.image_example_gen import driver, executor
from cyclegan import data_contract, sources


class FolderImageExampleGen(FileBasedExampleGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.FolderDriver  # an entry that cannot be stat'ed does not stop the run


class SyntheticImageExampleGen(QueryBasedExampleGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)


class TfdsImageExampleGen(QueryBasedExampleGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)


def _one_to_one_output() -> example_gen_pb2.Output:
    return example_gen_pb2.Output()  # empty split_config: output splits = input splits


def folder_example_gen(root: str) -> FolderImageExampleGen:
    """Ingests <root>/trainA, trainB, testA, testB."""
    return FolderImageExampleGen(
        input_base=root,
        input_config=example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name=split, pattern=os.path.join(split, "*"))
                for split in data_contract.SPLITS
            ]
        ),
        output_config=_one_to_one_output(),
    )


def synthetic_example_gen(
    seed: int, train_count: int, test_count: int, size: int
) -> SyntheticImageExampleGen:
    """Renders the built-in synthetic set (no input files, no network)."""
    counts = {
        data_contract.TRAIN_A: train_count,
        data_contract.TRAIN_B: train_count,
        data_contract.TEST_A: test_count,
        data_contract.TEST_B: test_count,
    }
    return SyntheticImageExampleGen(
        input_config=example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(
                    name=split, pattern=sources.synthetic_pattern(split, seed, counts[split], size)
                )
                for split in data_contract.SPLITS
            ]
        ),
        output_config=_one_to_one_output(),
    )


def tfds_example_gen(name: str, data_dir: str | None) -> TfdsImageExampleGen:
    """Reads a TFDS image dataset with trainA/trainB/testA/testB splits (cycle_gan/*)."""
    return TfdsImageExampleGen(
        input_config=example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(
                    name=split, pattern=sources.tfds_pattern(name, split, data_dir)
                )
                for split in data_contract.SPLITS
            ]
        ),
        output_config=_one_to_one_output(),
    )
