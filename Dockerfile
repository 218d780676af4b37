# One image for every component of the pipeline on Kubeflow Pipelines / Vertex AI.
# KFP runs: python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor ...
# which imports our executors and run_fn by dotted path from the installed package.
#
# Debian 12 + Python 3.11, the platform the lock is resolved for. requirements/gpu.lock adds
# TensorFlow's CUDA/cuDNN wheels (its [and-cuda] extra), so the Trainer uses the GPUs of the
# nodes that have them; both locks install with --no-deps, exactly as pinned.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    TF_USE_LEGACY_KERAS=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /pipeline
COPY requirements/ requirements/
RUN pip install --no-cache-dir uv \
 && uv pip install --system --no-cache --compile-bytecode --no-deps \
        -r requirements/requirements.lock -r requirements/gpu.lock

COPY setup.py local_runner.py kubeflow_runner.py ./
COPY cyclegan/ cyclegan/
COPY pipeline/ pipeline/
COPY components/ components/
COPY client/ client/
RUN uv pip install --system --no-cache --compile-bytecode --no-deps .
