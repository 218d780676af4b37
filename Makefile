# One-command entry points. Each target installs what it needs first, into .venv/ (once;
# again when a lock changes). Nothing is ever installed into the Python given as PYTHON.
#
#   make run         python local_runner.py on the built-in synthetic data (ARGS="..." for flags)
#   make test        the test suite, one pytest worker per core (CI runs `make lint test`)
#   make test-fast   the suite without the slow end-to-end runs (pytest -m "not slow")
#   make lint        ruff: lint and format check (settings in pyproject.toml)
#   make bench       benchmarks (figures in README)
#   make install GPU=1   also the CUDA libraries TensorFlow uses on NVIDIA GPUs
#   make lock        re-resolve the locks in requirements/
#   make image       build the CPU image (IMAGE) and the Trainer's GPU image (GPU_IMAGE)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
IMAGE ?= cyclegan-tfx:latest
GPU_IMAGE ?= cyclegan-tfx-gpu:latest
GPU ?=
ARGS ?=
# PYTHONDONTWRITEBYTECODE (set on some machines) would make every `import tfx` ~3x slower
# without the byte code compiled at install time.
UV_INSTALL := $(UV) pip install --quiet --python $(PY) --compile-bytecode --no-deps

.PHONY: install run test test-fast lint format bench lock image clean

# The venv comes first, from the Python given; uv (pinned by hash) is installed inside it.
# `python cyclegan/entry.py` checks the one Python range of the project and that this Python
# can create venvs (Debian without python3-venv cannot), saying what to do if not.
$(PY):
	@$(PYTHON) cyclegan/entry.py || { [ $$? -eq 2 ] || echo "error: $(PYTHON) cannot run \
		cyclegan/entry.py: not a Python this project runs on" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(UV): requirements/uv.lock | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		--require-hashes --no-deps -r requirements/uv.lock
	touch $@

# tfx 1.21's own pins (ml-metadata / TFDV 1.21) only load on GLIBC >= 2.38, so plain
# `pip install tfx` fails on Debian 12. The lock is resolved by uv with overrides
# (requirements/overrides.txt) and installed as pinned: hashes required, --no-deps.
# TFDV 1.16.1, the newest that loads here, imports tfx_bsl.arrow.sql_util, which tfx-bsl
# 1.21 no longer has: requirements/tfx_bsl_sql_util.py stands in for it.
$(VENV)/.install-stamp: requirements/requirements.lock requirements/tfx_bsl_sql_util.py \
		setup.py $(UV)
	$(UV_INSTALL) --require-hashes -r requirements/requirements.lock
	cp requirements/tfx_bsl_sql_util.py \
		"$$($(PY) -c 'import os, tfx_bsl.arrow as m; print(os.path.dirname(m.__file__))')/sql_util.py"
	$(UV_INSTALL) -e .
	touch $@

$(VENV)/.gpu-stamp: requirements/gpu.lock $(VENV)/.install-stamp
	$(UV_INSTALL) --require-hashes -r requirements/gpu.lock
	touch $@

$(VENV)/.dev-stamp: requirements/dev.lock $(VENV)/.install-stamp
	$(UV_INSTALL) --require-hashes -r requirements/dev.lock
	touch $@

install: $(VENV)/.install-stamp $(if $(GPU),$(VENV)/.gpu-stamp)

run: install
	$(PY) local_runner.py $(ARGS)

test: install $(VENV)/.dev-stamp
	$(PY) -m pytest tests -n auto $(ARGS)

test-fast: install $(VENV)/.dev-stamp
	$(PY) -m pytest tests -m "not slow" $(ARGS)

lint: $(VENV)/.dev-stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-stamp
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) -m benchmarks $(ARGS)

# Runtime lock, then the GPU and dev locks against its pins, each holding only what the
# runtime lock lacks. tensorflow-estimator (a tensorflow-model-analysis dependency) is left
# out: nothing imports it, and it cannot be imported beside TensorFlow 2.21.
COMPILE = $(UV) pip compile --quiet --generate-hashes \
	--python-version $$($(PY) cyclegan/entry.py --python-version)
lock: $(UV)
	$(COMPILE) requirements/requirements.in --override requirements/overrides.txt \
		--no-emit-package tensorflow-estimator -o requirements/requirements.lock
	grep -E '^[a-z0-9_.-]+==' requirements/requirements.lock | sed 's/ .*//' \
		| grep -vE '^(ml-metadata|tensorflow-data-validation)==' > .runtime-pins.txt
	$(COMPILE) requirements/gpu.in -c .runtime-pins.txt \
		--python-platform x86_64-manylinux_2_28 --no-header --no-annotate \
		$$(sed 's/==.*//; s/^/--no-emit-package /' .runtime-pins.txt) -o requirements/gpu.lock
	$(COMPILE) requirements/dev.in -c .runtime-pins.txt --no-header --no-annotate \
		$$(sed 's/==.*//; s/^/--no-emit-package /' .runtime-pins.txt) -o requirements/dev.lock
	$(COMPILE) requirements/uv.in --no-header --no-annotate -o requirements/uv.lock
	rm .runtime-pins.txt

# Two images: the CPU one runs the data steps, DomainClassifier, Evaluator and Pusher; the
# GPU one (the CPU image plus CUDA) runs the Trainer. Pass both to kubeflow_runner.py.
image:
	docker build --target cpu -t $(IMAGE) .
	docker build --target gpu -t $(GPU_IMAGE) .

clean:
	rm -rf runs .pytest_cache
