#!/usr/bin/env bash
# Create .venv with everything the package, its tests and benchmarks need, and build
# the C++ coder into it. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch is pinned: 2.13.0 is the CPU build this project is tested with (an unpinned
# torch would pull a multi-GB CUDA build).
.venv/bin/python -m pip install -q --disable-pip-version-check \
  "torch==2.13.0" numpy pillow imageio tqdm pytest \
  "pybind11>=2.12" setuptools wheel imagecodecs matplotlib \
  "dask[array]>=2024.1" "distributed>=2024.1" "fsspec>=2023.1" "pyarrow>=14" \
  "numcodecs>=0.12" "zarr>=2.16"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e .
