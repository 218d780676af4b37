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


class StepError(RuntimeError):
    """A pipeline step stopped for a reason its message states in full (a full disk, say):
    the runner prints that line, not a traceback."""


class DataError(ValueError):
    """The input data cannot be used; the message says what and where."""


# The one Python range of the project, checked here only: by the Makefile before it creates
# .venv (`python cyclegan/entry.py`), by setup.py's python_requires and by the runners at
# start. TFX 1.21 supports 3.9-3.11; packages the lock pins (numpy 2.4, scipy 1.17, keras 3,
# ...) need 3.11.
PYTHON_VERSION = (3, 11)
PYTHON_REQUIRES = ">={0}.{1},<{0}.{2}".format(*PYTHON_VERSION, PYTHON_VERSION[1] + 1)
STACK = ("tensorflow", "tfx", "apache_beam")


def _version_text(version: Sequence[int]) -> str:
    return ".".join(map(str, version))


def python_problem(
    version: Sequence[int] = tuple(sys.version_info[:3]), then: str = "..."
) -> Optional[str]:
    """Why this Python is outside the project's range, with `make PYTHON=... <then>` to type
    instead; None if it is in range."""
    if tuple(version[:2]) == PYTHON_VERSION:
        return None
    wanted = _version_text(PYTHON_VERSION)
    return (
        f"the locked TFX 1.21 stack needs Python {wanted}; this is Python "
        f"{_version_text(version)}. Install Python {wanted} (Debian 12's own python3 is "
        f"{wanted}), then run: make PYTHON=python{wanted} {then}"
    )


def venv_problem() -> Optional[str]:
    """Why `python -m venv` cannot make an environment with pip here, or None. Debian and
    Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own."""
    if importlib.util.find_spec("ensurepip") is None or importlib.util.find_spec("venv") is None:
        return (
            f"{sys.executable} cannot create virtual environments (no ensurepip); install "
            f"it with: apt-get install python3-venv"
        )
    return None


def stack_problem(
    entry_point: str, argv: Sequence[str], version: Tuple[int, ...] = tuple(sys.version_info[:3])
) -> Optional[str]:
    """Why this Python cannot run `entry_point`, with the command to type instead; None if it
    can. Looks the packages up without importing them, so it answers at once."""
    command = " ".join(shlex.quote(arg) for arg in [".venv/bin/python", entry_point, *argv])
    problem = python_problem(version, then=f"install && {command}")
    if problem:
        return f"{entry_point}: {problem}"
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


if __name__ == "__main__":
    # The Makefile's check of the Python it is given, before it creates .venv; with
    # --python-version, the version `make lock` resolves for.
    if sys.argv[1:] == ["--python-version"]:
        sys.exit(print(_version_text(PYTHON_VERSION)))
    problem = python_problem() or venv_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
    sys.exit(2 if problem else 0)
