#!/usr/bin/env bash
# The main job on a sample: compress a photo with L3C, check the round trip, print
# its bpsp against PNG. Pass other images as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ "$#" -eq 0 ]; then set -- tests/images/storm_256x192.png; fi
.venv/bin/l3c compare "$@"
