"""The first thing every entry point does: under a Python that cannot run it, one message with
the command to type instead, and no traceback."""

import importlib.util
import os
import subprocess
import sys

import pytest

from cyclegan import entry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 12, 1)])
def test_unsupported_python_gets_the_command_to_run(version):
    problem = entry.stack_problem("local_runner.py", ["--data", "my data"], version=version)
    assert problem.startswith(
        "local_runner.py: the locked TFX 1.21 stack needs Python 3.11; this is Python "
        f"{'.'.join(map(str, version))}."
    )
    assert problem.endswith(
        "make PYTHON=python3.11 install && .venv/bin/python local_runner.py --data 'my data'"
    )


def test_the_makefile_check_accepts_this_python_and_names_the_apt_package(monkeypatch):
    """`python cyclegan/entry.py` is what the Makefile runs before it creates .venv."""
    result = subprocess.run(
        [sys.executable, os.path.join("cyclegan", "entry.py")], cwd=REPO, capture_output=True
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert entry.python_problem((3, 11, 2)) is None  # Debian 12's own
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "ensurepip" else find_spec(name)
    )
    assert entry.venv_problem().endswith(
        "cannot create virtual environments (no ensurepip); install it with: "
        "apt-get install python3-venv"
    )


def test_this_python_runs_the_entry_points():
    assert entry.stack_problem("local_runner.py", []) is None
    entry.require_stack("local_runner.py", [])  # returns


def test_a_missing_package_is_named(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "tfx" else find_spec(name)
    )
    with pytest.raises(SystemExit) as exit_info:
        entry.require_stack("kubeflow_runner.py", ["--image", "x"])
    message = str(exit_info.value.code)
    assert "lacks tfx." in message
    assert message.endswith("make install && .venv/bin/python kubeflow_runner.py --image x")


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A fresh virtual environment without packages: a Python without the stack."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


@pytest.mark.parametrize("runner", ["local_runner.py", "kubeflow_runner.py"])
def test_runner_under_a_python_without_the_stack_says_what_to_run(bare_python, runner):
    # -E: ignore PYTHONPATH and friends, so nothing of this test's environment leaks in.
    result = subprocess.run(
        [bare_python, "-E", runner, "--data", "my data"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "lacks tensorflow, tfx, apache_beam" in result.stderr
    assert result.stderr.endswith(f"make install && .venv/bin/python {runner} --data 'my data'\n")


def test_help_shows_each_default_once():
    import argparse

    parser = argparse.ArgumentParser(formatter_class=entry.HelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--name", default=None, help="a name")
    text = " ".join(parser.format_help().split())
    assert "steps per round (default: 20)" in text
    assert text.count("(default: 3)") == 1
    assert "a name" in text and "(default: None)" not in text


def test_prepare_process_chooses_keras_2(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "0")
    entry.prepare_process()
    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
