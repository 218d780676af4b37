"""Ingestion memory: peak RSS of ExampleGen + Preprocess on N and on 4N images per train split.

    python -m benchmarks ingest_memory [--data ../shared/data/horse2zebra] [--n 250]

Each size runs in a fresh process (peak RSS is per process). Streaming ingestion keeps the
4N / N ratio near 1; a pipeline that held the data set in memory would grow by roughly the
data's size (4N x 2 domains x 245 KiB of pixels at 286 px).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile

from benchmarks.ingest import (
    DEFAULT_DATA,
    example_gen_component,
    one_per_split,
    preprocess_component,
    run_pipeline,
)
from cyclegan import entry
from pipeline import cli


def _subset(data: str, per_train_split: int, into: str) -> str:
    """A folder with the first `per_train_split` images of each train split (symlinks) and
    one image per test split."""
    from cyclegan import data_contract

    one_per_split(data, into)
    for split in data_contract.TRAIN_SPLITS:
        names = sorted(os.listdir(os.path.join(data, split)))
        if len(names) < per_train_split:
            raise SystemExit(f"{split} has {len(names)} images, fewer than {per_train_split}")
        for name in names[1:per_train_split]:
            os.symlink(
                os.path.abspath(os.path.join(data, split, name)), os.path.join(into, split, name)
            )
    return into


def _child(data: str, count: int) -> None:
    entry.prepare_process()
    cli.configure_logging(verbose=False)
    with tempfile.TemporaryDirectory() as work:
        example_gen = example_gen_component(_subset(data, count, os.path.join(work, "data")))
        run_pipeline(
            [example_gen, preprocess_component(example_gen.outputs["examples"])],
            os.path.join(work, "tfx"),
            [],
        )
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # MiB


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=250, help="images per train split (N)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.data, args.child)
        return
    peaks = {}
    for count in (args.n, 4 * args.n):
        output = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.ingest_memory",
                "--data",
                args.data,
                "--child",
                str(count),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        peaks[count] = int(output.strip().splitlines()[-1])
        print(f"{count:>5} images per train split: peak RSS {peaks[count]} MiB")
    print(f"peak RSS ratio 4N / N: {peaks[4 * args.n] / peaks[args.n]:.2f} (goal: < 1.20)")


if __name__ == "__main__":
    main()
