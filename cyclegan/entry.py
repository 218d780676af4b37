"""What every entry point (runners, the translate client, benchmarks) does first, before
TensorFlow is imported; the help format they share; the errors they report as one line
(`error: <message>`, exit code 2, no traceback). Standard library only, so that the runners
can say what to run instead under a Python without the stack."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import sys
from typing import List, Optional, Sequence, Tuple


class UsageError(ValueError):
    """A flag, a config value or a combination of them that cannot work; says which and why."""


class DataError(ValueError):
    """The input data cannot be used; the message says what and where."""


# TFX 1.21 installs on these Pythons only (the Makefile checks the same before installing).
OLDEST_PYTHON, NEWEST_PYTHON = (3, 9), (3, 11)
STACK = ("tensorflow", "tfx", "apache_beam")


def stack_problem(
    entry_point: str, argv: Sequence[str], version: Tuple[int, ...] = tuple(sys.version_info[:3])
) -> Optional[str]:
    """Why this Python cannot run `entry_point`, with the command to type instead; None if it
    can. Looks the packages up without importing them, so it answers at once."""
    command = " ".join(shlex.quote(arg) for arg in [".venv/bin/python", entry_point, *argv])
    oldest, newest = (".".join(map(str, v)) for v in (OLDEST_PYTHON, NEWEST_PYTHON))
    if not OLDEST_PYTHON <= tuple(version[:2]) <= NEWEST_PYTHON:
        return (
            f"{entry_point} needs Python {oldest}-{newest} (TFX 1.21); this is Python "
            f"{'.'.join(map(str, version))}. Install Python {newest}, then run:\n"
            f"  make PYTHON=python{newest} install && {command}"
        )
    missing = [name for name in STACK if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"{entry_point} runs on the project's own Python, .venv/ (TensorFlow, TFX, "
            f"Beam); this Python ({sys.executable}) lacks {', '.join(missing)}. Install it "
            f"(once, ~1 minute) and run:\n  make install && {command}"
        )
    return None


def require_stack(entry_point: str, argv: Optional[List[str]]) -> None:
    """Call first thing in an entry point's main(): exits with one short message, not a
    traceback, under a Python that cannot run it (what a newcomer types before `make install`).
    """
    problem = stack_problem(entry_point, sys.argv[1:] if argv is None else argv)
    if problem:
        raise SystemExit(problem)


def prepare_process() -> None:
    """Call first thing in an entry point, before TensorFlow is imported.

    TFX 1.21 ships Keras 3 and tf-keras; this project uses tf-keras (Keras 2) throughout, so
    say so explicitly rather than rely on TFX setting it only when unset.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TF's C++ INFO chatter


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows a flag's default unless its help already says it, or there is none to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, [], False, argparse.SUPPRESS):
            return text
        return text + " (default: %(default)s)"
