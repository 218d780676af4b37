"""The locked environment: one Python range everywhere, hash-pinned locks with the
development tools apart, and every package the project uses importable on its own."""

import concurrent.futures
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
from packaging.specifiers import SpecifierSet

from cyclegan import entry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCKS = ("requirements.lock", "dev.lock", "gpu.lock", "uv.lock")
DEV_TOOLS = {"pytest", "pytest-xdist", "ruff"}


def _read(*path):
    with open(os.path.join(REPO, *path)) as file:
        return file.read()


def _lock(name):
    """{package: [hashes]} of a lock file."""
    entries = re.split(r"\n(?=[a-z0-9])", _read("requirements", name), flags=re.I)
    pins = {}
    for entry_text in entries:
        match = re.match(r"([A-Za-z0-9_.\-]+)==\S+", entry_text)
        if match:
            pins[match.group(1).lower()] = re.findall(r"--hash=sha256:[0-9a-f]{64}", entry_text)
    return pins


def test_every_lock_is_hash_pinned_and_installed_with_hashes_required():
    for name in LOCKS:
        pins = _lock(name)
        assert pins, name
        assert [package for package, hashes in pins.items() if not hashes] == [], name
    makefile, dockerfile = _read("Makefile"), _read("Dockerfile")
    for name in ("requirements.lock", "dev.lock", "gpu.lock"):
        installs = [line for line in makefile.splitlines() if f"-r requirements/{name}" in line]
        assert installs and all("--require-hashes" in line for line in installs), name
    assert "--require-hashes --no-deps -r requirements/uv.lock" in makefile
    assert dockerfile.count("--require-hashes") == 3  # uv, the runtime lock, the GPU lock


def test_development_tools_are_apart_from_the_runtime():
    runtime, dev, gpu = (_lock(name) for name in ("requirements.lock", "dev.lock", "gpu.lock"))
    assert set(dev) >= DEV_TOOLS and not DEV_TOOLS & set(runtime)
    # The dev and GPU locks hold only what the runtime lock lacks: no second pin of anything.
    assert not set(dev) & set(runtime) and not set(gpu) & set(runtime)
    assert all(package.startswith("nvidia-") for package in gpu)
    # Neither image installs the development lock; only the Trainer's installs CUDA.
    dockerfile = _read("Dockerfile")
    commands = "\n".join(line for line in dockerfile.splitlines() if not line.startswith("#"))
    assert "dev.lock" not in commands
    cpu_stage, gpu_stage = commands.split("FROM cpu AS gpu")
    assert "gpu.lock" not in cpu_stage and "-r requirements/requirements.lock" in cpu_stage
    assert "-r requirements/gpu.lock" in gpu_stage


def test_one_python_range_everywhere():
    wanted = ".".join(map(str, entry.PYTHON_VERSION))
    assert f">={wanted},<3.{entry.PYTHON_VERSION[1] + 1}" == entry.PYTHON_REQUIRES
    assert importlib.metadata.metadata("cyclegan-tfx")["Requires-Python"] == entry.PYTHON_REQUIRES
    assert f"--python-version {wanted} " in _read("requirements", "requirements.lock")
    assert f"FROM python:{wanted}-slim-bookworm AS cpu" in _read("Dockerfile")
    assert f"Python {wanted}" in _read("README.md")
    # What the lock installs decides the range: every locked package accepts this Python,
    # and some refuse the one before it (so the range cannot start lower).
    below = f"3.{entry.PYTHON_VERSION[1] - 1}"
    refusing_below = []
    for package in _lock("requirements.lock"):
        requires = importlib.metadata.metadata(package).get("Requires-Python")
        if requires:
            assert SpecifierSet(requires).contains(wanted + ".0"), (package, requires)
            if not SpecifierSet(requires).contains(below + ".0"):
                refusing_below.append(package)
    assert "numpy" in refusing_below


# Runs in a fresh process: imports the project's modules and the TFX code its steps run (the
# Kubeflow container entrypoint, the local runner, the standard Trainer and Pusher), then
# prints the top-level module names of the locked distributions that got loaded.
USED_PACKAGES = r"""
import importlib, importlib.metadata, pkgutil, sys
import cyclegan, pipeline, components, client
modules = ["local_runner", "kubeflow_runner",
           "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
           "tfx.orchestration.local.local_dag_runner", "tfx.components.trainer.executor",
           "tfx.components.pusher.executor", "tensorflow_datasets", "kfp.local"]
for package in (cyclegan, pipeline, components, client):
    prefix = package.__name__ + "."
    modules += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
for name in modules:
    importlib.import_module(name)
locked = set(sys.argv[1:])
owners = importlib.metadata.packages_distributions()
print(" ".join(sorted({module.split(".")[0] for module in list(sys.modules)
                       if any(d.lower() in locked for d in owners.get(module.split(".")[0], []))})))
"""


def _import_alone(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300
    )
    return module, result.returncode, (result.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.slow
def test_every_package_the_project_uses_imports_on_its_own():
    locked = _lock("requirements.lock")
    found = subprocess.run(
        [sys.executable, "-c", USED_PACKAGES, *locked],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=600,
    )
    modules = [name for name in found.stdout.split() if not name.startswith("_")]
    for expected in ("tensorflow", "tfx", "apache_beam", "tensorflow_data_validation", "kfp"):
        assert expected in modules
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        failures = [(m, err) for m, code, err in pool.map(_import_alone, modules) if code]
    assert failures == []


def test_the_sql_util_stand_in_says_what_it_lacks():
    from tfx_bsl.arrow import sql_util

    assert os.path.basename(sql_util.__file__) == "sql_util.py"
    with open(sql_util.__file__) as file:
        assert file.read() == _read("requirements", "tfx_bsl_sql_util.py")
    with pytest.raises(NotImplementedError, match="SQL slicing needs tfx_bsl.arrow.sql_util"):
        sql_util.RecordBatchSQLSliceQuery("SELECT 1", None)


def test_tf_serving_release_matches_the_tensorflow_that_writes_the_model():
    """TF Serving loads a SavedModel written by its own TensorFlow release or an older one:
    the serving API, the README's docker tag and its words name the TensorFlow pinned."""
    pins = dict(
        re.findall(r"^([a-z0-9_.-]+)==(\S+)", _read("requirements", "requirements.lock"), re.M)
    )
    release = pins["tensorflow"]
    assert pins["tensorflow-serving-api"] == release
    readme = _read("README.md")
    tags = set(re.findall(r"tensorflow/serving:([0-9.]+)", readme))
    assert tags == {release}, tags
    assert f"TF Serving {release}" in readme
