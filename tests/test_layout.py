"""The architecture, held by tests: dependencies point one way,
runners -> pipeline -> components -> cyclegan (the core)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("cyclegan", "components", "pipeline", "client", "system")
# What each package may import of ours, and whether it may import TFX.
ALLOWED = {
    "cyclegan": ({"cyclegan"}, False),
    "components": ({"cyclegan", "components", "system"}, True),
    "pipeline": ({"cyclegan", "components", "pipeline", "system"}, True),
    "client": ({"cyclegan", "client"}, False),
    "system": (set(), True),  # KFP's artifact types, as TFX classes
}


def _imports(path):
    """Top-level names of every module a file imports, anywhere in it."""
    tree = ast.parse(Path(path).read_text(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def _modules(package):
    for root, _, files in os.walk(os.path.join(REPO, package)):
        yield from (os.path.join(root, name) for name in files if name.endswith(".py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package):
    ours, tfx_allowed = ALLOWED[package]
    for path in _modules(package):
        imported = set(_imports(path))
        assert not (imported & set(PACKAGES)) - ours, path
        assert tfx_allowed or "tfx" not in imported, path


def test_the_core_imports_without_tfx():
    """Importing every core module pulls in no TFX, not even indirectly."""
    modules = sorted(
        os.path.splitext(os.path.basename(path))[0]
        for path in _modules("cyclegan")
        if not path.endswith("__init__.py")
    )
    code = (
        "import sys\n"
        + "".join(f"import cyclegan.{name}\n" for name in modules)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tfx', 'components', 'pipeline')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_USE_LEGACY_KERAS="1"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_components_hold_only_tfx_components():
    """Each component folder: component.py + executor.py (+ driver.py where TFX's driver needs
    a change; TFX's own Trainer and Pusher: our run_fn, our executor); the Beam plumbing both
    Beam executors share in one module beside them."""
    folders = {
        name: sorted(
            f for f in os.listdir(os.path.join(REPO, "components", name)) if f.endswith(".py")
        )
        for name in os.listdir(os.path.join(REPO, "components"))
        if os.path.isdir(os.path.join(REPO, "components", name)) and name != "__pycache__"
    }
    assert folders == {
        "image_example_gen": ["__init__.py", "component.py", "driver.py", "executor.py"],
        "preprocess": ["__init__.py", "component.py", "executor.py"],
        "domain_classifier": ["__init__.py", "component.py", "executor.py"],
        "evaluator": ["__init__.py", "component.py", "executor.py"],
        "training_config": ["__init__.py", "component.py", "executor.py"],
        "trainer": ["__init__.py", "run_fn.py"],
        "pusher": ["__init__.py", "executor.py"],
        "report": ["__init__.py", "component.py", "executor.py"],
    }
