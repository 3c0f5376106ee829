#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv (no compiler is involved: a wheel is
# unpacked, not built) and run the test suite against that installation, from a copy
# of the repository without the package's source, so that nothing the wheel lacks
# (a model, ids.json, the compiled coder, an entry point) can be found elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps \
  -w "$work/wheelhouse" .
wheel=$(ls "$work"/wheelhouse/pillow_l3c-*.whl)
PY=${PYTHON:-python3}
"$PY" -m venv "$work/venv"
# The test dependencies of the project's own venv, then the wheel itself.
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check \
  "torch==2.13.0" numpy pillow imageio tqdm pytest imagecodecs matplotlib \
  "dask[array]>=2024.1" "distributed>=2024.1" "fsspec>=2023.1" "pyarrow>=14" \
  numcodecs zarr "$wheel"
# Everything but the package's source: tests, golden files, docs and fuzz stay where
# the tests look for them.
tar --exclude=./pillow_l3c --exclude=./.venv --exclude=./.git --exclude=./build \
  --exclude='./*.egg-info' -cf - . | (mkdir "$work/tree" && cd "$work/tree" && tar -xf -)
cd "$work/tree"
"$work/venv/bin/python" - <<'EOF'
import sys, sysconfig
import pillow_l3c, pillow_l3c._coder
site = sysconfig.get_paths()["purelib"]
for module in (pillow_l3c, pillow_l3c._coder):
    assert module.__file__.startswith(site), f"{module.__name__} from {module.__file__}"
print(f"testing the installed wheel: {pillow_l3c.__file__}")
EOF
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests
