# syntax=docker/dockerfile:1.7
# civicwatch images. Targets:
#   docker build --target edge     -t civicwatch-edge .
#   docker build --target server   -t civicwatch-server .
#   docker build --target edge-gpu -t civicwatch-edge-gpu .   (onnxruntime-gpu: CUDA / TensorRT)
# No image downloads weights at run time: the default model is in models/, others are mounted.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# ---------------------------------------------------------------- common CPU base
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 civicwatch
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY civicwatch ./civicwatch
COPY zones ./zones

# ---------------------------------------------------------------- edge (CPU)
FROM base AS edge
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY edge ./edge
COPY training ./training
COPY models ./models
COPY configs ./configs
RUN pip install '.[edge]'
USER civicwatch
VOLUME ["/var/lib/civicwatch"]
ENTRYPOINT ["civicwatch"]
CMD ["edge", "--config", "/app/configs/edge.yaml"]

# ---------------------------------------------------------------- server
FROM base AS server
COPY server ./server
COPY configs ./configs
RUN pip install '.[server]'
USER civicwatch
VOLUME ["/var/lib/civicwatch"]
EXPOSE 8000
ENV CIVICWATCH_DATABASE_URL=sqlite:////var/lib/civicwatch/civicwatch.db \
    CIVICWATCH_EVIDENCE_DIR=/var/lib/civicwatch/evidence
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
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY civicwatch ./civicwatch
COPY zones ./zones
COPY edge ./edge
COPY training ./training
COPY models ./models
COPY configs ./configs
# onnxruntime-gpu replaces the CPU wheel (both provide the 'onnxruntime' module).
RUN pip install '.[edge]' && pip uninstall -y onnxruntime && pip install 'onnxruntime-gpu>=1.20'
USER civicwatch
VOLUME ["/var/lib/civicwatch"]
ENTRYPOINT ["civicwatch"]
CMD ["edge", "--config", "/app/configs/edge-gpu.yaml"]
