"""FolderImageExampleGen's driver: TFX's FileBasedDriver, except that an entry that cannot be
stat'ed (a broken or looping symbolic link, say) does not stop the run.

TFX's driver fingerprints each split, the cache key, by stat'ing every file its pattern
matches (tfx.utils.io_utils.generate_fingerprint), and one entry that cannot be stat'ed ends
the run with a NotFoundError that names no file. Here such an entry still counts in the
fingerprint, by number; the executor skips it and names it with its reason in the ingest
report. Kubeflow runs TFX's own driver (the compiled spec names it); object stores have no
such entries.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional

import tensorflow as tf
from tfx.components.example_gen import driver, input_processor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.utils import io_utils


def split_fingerprint(split: str, pattern: str) -> str:
    """generate_fingerprint's value, but an entry that cannot be stat'ed adds no bytes or times.

    A folder of readable files gets TFX's own fingerprint, so caches made before stay valid.
    """
    files = fileio.glob(pattern)
    total_bytes = xor_checksum = sum_checksum = 0
    for path in files:
        try:
            stat = fileio.stat(path)
        except (OSError, tf.errors.OpError):
            continue
        total_bytes += stat.length
        mtime = int(stat.mtime_nsec / io_utils.NANO_PER_SEC)  # as TFX rounds it
        xor_checksum ^= mtime
        sum_checksum += mtime
    return (
        f"split:{split},num_files:{len(files)},total_bytes:{total_bytes},"
        f"xor_checksum:{xor_checksum},sum_checksum:{sum_checksum}"
    )


class _FolderInputProcessor(input_processor.InputProcessor):
    """Span 0 and no version (the split patterns have neither), and split_fingerprint."""

    def __init__(
        self,
        input_base: str,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: Optional[range_config_pb2.RangeConfig] = None,
    ):
        super().__init__(splits=splits, range_config=range_config)
        self._input_base = input_base

    def get_pattern_for_span_version(self, pattern: str, span: int, version: Optional[int]) -> str:
        return pattern

    def get_latest_span(self) -> int:
        return 0

    def get_input_fingerprint(self, span: int, version: Optional[int]) -> str:
        return "\n".join(
            split_fingerprint(split.name, os.path.join(self._input_base, split.pattern))
            for split in self._splits
        )


class FolderDriver(driver.FileBasedDriver):
    def get_input_processor(
        self,
        splits: Iterable[example_gen_pb2.Input.Split],
        range_config: Optional[range_config_pb2.RangeConfig] = None,
        input_base_uri: Optional[str] = None,
    ) -> input_processor.InputProcessor:
        return _FolderInputProcessor(input_base_uri, splits, range_config)
