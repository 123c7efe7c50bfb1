#!/bin/sh
# Cameras per GPU and per-frame latency at batch 1/8/32 (bench/gpu/bench_gpu.py): one table,
# under 10 minutes, no downloads. Exits 2 at once when onnxruntime has no CUDA provider;
# --dry-run checks the script on the CPU. Run from anywhere; it works in the repository root.
set -eu
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec timeout 600 "$PYTHON" bench/gpu/bench_gpu.py "$@"
