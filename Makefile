# One-command entry points. Each target installs what it needs first (once; re-run when
# requirements/requirements.lock changes).
#
#   make run    python local_runner.py on the built-in synthetic data (ARGS="..." for flags)
#   make test   the test suite, one pytest worker per core (CI runs `make lint test`)
#   make test-fast  the suite without the slow end-to-end runs (pytest -m "not slow")
#   make lint   ruff: lint and format check (settings in pyproject.toml)
#   make bench  benchmarks (figures in README)
#   make lock   re-resolve requirements/requirements.lock
#   make image  build the container image Kubeflow runs (IMAGE=registry/name:tag)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IMAGE ?= cyclegan-tfx:latest
ARGS ?=

.PHONY: install run test test-fast lint format bench lock image clean

# tfx 1.21's own pins (ml-metadata / TFDV 1.21) only load on GLIBC >= 2.38, so plain
# `pip install tfx` fails on Debian 12. The lock is resolved by uv with overrides
# (requirements/overrides.txt) and installed with --no-deps. --compile-bytecode because
# PYTHONDONTWRITEBYTECODE would otherwise make every `import tfx` ~3x slower.
$(VENV)/.install-stamp: requirements/requirements.lock setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 11) else \
		"TFX 1.21 needs Python 3.9-3.11; this is " + sys.version.split()[0] + \
		". Install Python 3.11 and run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --quiet --python $(PY) --compile-bytecode --no-deps \
		-r requirements/requirements.lock
	$(PYTHON) -m uv pip install --quiet --python $(PY) --compile-bytecode --no-deps -e .
	touch $@

install: $(VENV)/.install-stamp

run: install
	$(PY) local_runner.py $(ARGS)

test: install
	$(PY) -m pytest tests -n auto $(ARGS)

test-fast: install
	$(PY) -m pytest tests -m "not slow" $(ARGS)

$(VENV)/.lint-stamp: requirements/dev.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --quiet --python $(PY) -r requirements/dev.lock
	touch $@

lint: $(VENV)/.lint-stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.lint-stamp
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) -m benchmarks $(ARGS)

lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile --quiet requirements/requirements.in \
		--override requirements/overrides.txt --python-version 3.11 \
		-o requirements/requirements.lock
	# The GPU image's CUDA wheels, pinned against the main lock (minus the two packages
	# whose old bounds the overrides lift), keeping only what the main lock lacks.
	grep -E '^[a-z0-9_.-]+==' requirements/requirements.lock \
		| grep -vE '^(ml-metadata|tensorflow-data-validation)==' > .gpu-constraints.txt
	$(PYTHON) -m uv pip compile --quiet requirements/gpu.in -c .gpu-constraints.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header \
		--no-annotate | grep -vxFf .gpu-constraints.txt > requirements/gpu.lock
	rm .gpu-constraints.txt

image:
	docker build -t $(IMAGE) .

clean:
	rm -rf runs .pytest_cache
