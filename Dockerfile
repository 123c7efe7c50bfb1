# syntax=docker/dockerfile:1.7
# civicwatch images. Targets:
#   docker build --target edge     -t civicwatch-edge .
#   docker build --target server   -t civicwatch-server .
#   docker build --target edge-gpu -t civicwatch-edge-gpu .   (onnxruntime-gpu: CUDA / TensorRT)
# Dependencies come from the lock files in requirements/ (the versions the tests pass with);
# civicwatch itself is installed as a wheel (not editable), without dependencies.
# No image downloads weights at run time: the edge images carry the model registry and the
# models it ships (the default detector, the one before it, their batch and int8 copies, the
# cover classifier); others are
# mounted and named in a registry given by CIVICWATCH_MODEL_REGISTRY.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# ---------------------------------------------------------------- common CPU base
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 civicwatch
WORKDIR /app

# ---------------------------------------------------------------- the edge's files
# What both edge images install: the edge's packages, the CLI, the configs, and only the
# registry and the models it ships (not the whole models/ folder); no server/, no training/.
FROM scratch AS edge-app
WORKDIR /app
COPY pyproject.toml setup.py README.md LICENSE NOTICE ./
COPY contracts ./contracts
COPY zones ./zones
COPY edge ./edge
COPY civicwatch ./civicwatch
COPY configs ./configs
COPY models/__init__.py models/registry.yaml models/cover-registry.yaml \
     models/civicwatch-street-v5.onnx models/civicwatch-street-v5.md \
     models/civicwatch-street-v4.onnx models/civicwatch-street-v4.md \
     models/civicwatch-street-v5-batch.onnx models/civicwatch-street-v4-batch.onnx \
     models/civicwatch-street-v4-int8.onnx \
     models/cover-v1.onnx models/cover-v1.md ./models/

# ---------------------------------------------------------------- edge (CPU)
FROM base AS edge
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/edge.lock requirements/
RUN pip install -r requirements/edge.lock
COPY --from=edge-app /app ./
# The sample configs name models/...: after the install /app/models is the packaged copy.
RUN pip install --no-deps . \
    && rm -r models \
    && ln -s "$(python -c 'import importlib.resources as r; print(r.files("civicwatch.models"))')" models
USER civicwatch
VOLUME ["/var/lib/civicwatch"]
ENTRYPOINT ["civicwatch"]
CMD ["edge", "--config", "/app/configs/edge.yaml"]

# ---------------------------------------------------------------- server
FROM base AS server
COPY requirements/server.lock requirements/
RUN pip install -r requirements/server.lock
COPY pyproject.toml setup.py README.md LICENSE NOTICE ./
COPY contracts ./contracts
COPY zones ./zones
COPY server ./server
COPY civicwatch ./civicwatch
COPY configs ./configs
RUN pip install --no-deps .
USER civicwatch
VOLUME ["/var/lib/civicwatch"]
EXPOSE 8000
# Login on: the container listens on all its interfaces, so the server would refuse to
# start with auth off (only an explicit --insecure allows that). Create the accounts with
# `docker run ... civicwatch-server users add --username NAME --role admin` first.
# Behind a TLS reverse proxy set CIVICWATCH_TRUSTED_PROXIES='["<proxy address>"]'.
ENV CIVICWATCH_DATABASE_URL=sqlite:////var/lib/civicwatch/civicwatch.db \
    CIVICWATCH_EVIDENCE_DIR=/var/lib/civicwatch/evidence \
    CIVICWATCH_DEAD_LETTER_DIR=/var/lib/civicwatch/dead-letter \
    CIVICWATCH_AUTH_ENABLED=true
ENTRYPOINT ["civicwatch"]
CMD ["server", "--host", "0.0.0.0", "--port", "8000"]

# ---------------------------------------------------------------- edge on a GPU box
FROM ${CUDA_IMAGE} AS edge-gpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv fonts-dejavu-core libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv \
    && useradd --create-home --uid 10001 civicwatch
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY requirements/edge.lock requirements/
# onnxruntime-gpu replaces the CPU wheel (both provide the 'onnxruntime' module).
RUN pip install -r requirements/edge.lock \
    && pip uninstall -y onnxruntime && pip install 'onnxruntime-gpu>=1.20,<2'
COPY --from=edge-app /app ./
RUN pip install --no-deps . \
    && rm -r models \
    && ln -s "$(python -c 'import importlib.resources as r; print(r.files("civicwatch.models"))')" models
USER civicwatch
VOLUME ["/var/lib/civicwatch"]
ENTRYPOINT ["civicwatch"]
CMD ["edge", "--config", "/app/configs/edge-gpu.yaml"]
