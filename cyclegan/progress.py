"""Progress within long steps (an epoch of 1334 steps, the domain classifier's training): a
tqdm bar on a terminal; anywhere else (a log file, a pod's log) a line at most every 30 s,
in tqdm's own words: share done, count, elapsed < remaining, rate."""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

from tqdm import tqdm

from cyclegan import logger

LOG_EVERY_S = 30.0


class StepProgress:
    def __init__(
        self,
        total: int,
        description: str,
        unit: str = "step",
        initial: int = 0,
        stream: Optional[TextIO] = None,
        clock: Callable[[], float] = time.monotonic,
        every_s: Optional[float] = None,  # default: LOG_EVERY_S
    ):
        self.total, self.description, self.unit = total, description, unit
        self.initial = self.count = initial
        self.clock = clock
        self.every_s = LOG_EVERY_S if every_s is None else every_s
        self.start = self.last_line = clock()
        stream = stream or sys.stderr
        self.bar = (
            tqdm(
                total=total,
                initial=initial,
                desc=description,
                unit=unit,
                file=stream,
                dynamic_ncols=True,
                leave=False,
            )
            if stream.isatty()
            else None
        )

    def update(self, steps: int = 1) -> None:
        self.count += steps
        if self.bar is not None:
            self.bar.update(steps)
            return
        now = self.clock()
        if now - self.last_line >= self.every_s:
            self.last_line = now
            logger.info("%s", self.line(now))

    def line(self, now: Optional[float] = None) -> str:
        elapsed = (self.clock() if now is None else now) - self.start
        return tqdm.format_meter(
            self.count,
            self.total,
            elapsed,
            prefix=self.description,
            unit=self.unit,
            initial=self.initial,
            bar_format="{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} {unit}s "
            "[{elapsed}<{remaining}, {rate_fmt}]",
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "StepProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
