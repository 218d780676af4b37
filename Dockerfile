# Two images for Kubeflow Pipelines / Vertex AI (`make image` builds both):
#   --target cpu  every step but the Trainer (ExampleGen, Preprocess, DomainClassifier,
#                 Evaluator, Pusher): no CUDA, whose wheels weigh several GB
#   --target gpu  the Trainer: the CPU image plus TensorFlow's CUDA/cuDNN wheels
#                 (requirements/gpu.lock), so it trains on the GPUs of the nodes that have them
# KFP runs: python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor ...
# which imports our executors and run_fn by dotted path from the installed package.
#
# Debian 12 + Python 3.11, the platform the locks are resolved for. The locks install as
# pinned: hashes required, --no-deps. Test and lint tools (requirements/dev.lock) stay out.
FROM python:3.11-slim-bookworm AS cpu

ENV PYTHONUNBUFFERED=1 \
    TF_USE_LEGACY_KERAS=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /pipeline
COPY requirements/uv.lock requirements/requirements.lock requirements/tfx_bsl_sql_util.py \
     requirements/
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/uv.lock \
 && uv pip install --system --no-cache --compile-bytecode --no-deps --require-hashes \
        -r requirements/requirements.lock \
 && cp requirements/tfx_bsl_sql_util.py \
        "$(python -c 'import os, tfx_bsl.arrow as m; print(os.path.dirname(m.__file__))')/sql_util.py"

COPY setup.py local_runner.py kubeflow_runner.py ./
COPY cyclegan/ cyclegan/
COPY pipeline/ pipeline/
COPY components/ components/
COPY client/ client/
COPY system/ system/
RUN uv pip install --system --no-cache --compile-bytecode --no-deps .

FROM cpu AS gpu
COPY requirements/gpu.lock requirements/
RUN uv pip install --system --no-cache --compile-bytecode --no-deps --require-hashes \
        -r requirements/gpu.lock
