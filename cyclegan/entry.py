"""What every entry point (runners, the translate client, benchmarks) does first, before
TensorFlow is imported, and the help format they share. Standard library only."""

from __future__ import annotations

import argparse
import os


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
