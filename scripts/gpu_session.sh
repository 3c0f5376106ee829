#!/usr/bin/env bash
# One call on a lent GPU machine (see docs/TRAINING.md, "Training on a lent GPU"):
# build the coder, run the GPU tests and the GPU benchmark, and train polyphase models
# in parallel, each making its crops in its own loader processes.
#
#   PHASE=1: start every run (its cosine schedule sized by --fit-minutes), stop at STOP min
#   PHASE=2: resume every run from IN/NAME.pt and IN/NAME.tsv to the end of its schedule
# Data: DATA/train (training) and DATA/val (validation crops only). Results go to $OUT
# (at most 8 files come back from the device tool, hence one text file per job).
set -u
cd "$(dirname "$0")/.."
PHASE=${PHASE:-1} DATA=${DATA:-.devdata} IN=${IN:-.devdata/in} STOP=${STOP:-8.2} FIT=${FIT:-16}
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" runs
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

# name:channels:blocks:head:mixtures:lr:batch:crop (PHASE=ft: fine-tune INIT instead)
if [ "$PHASE" = ft ]; then
  RUNS=("ft-a:48:1:24:4:2e-4:16:64" "ft-b:48:1:24:4:2e-4:32:96")
else
  RUNS=("gpu-a:48:1:24:4:7e-4:32:128" "gpu-b:48:2:24:4:5e-4:32:128")
fi
for spec in "${RUNS[@]}"; do
  IFS=: read -r name c b h k lr bs crop <<<"$spec"
  if [ "$PHASE" = 2 ]; then
    mkdir -p "runs/$name"; cp "$IN/$name.pt" "runs/$name/last.pt"
    cp "$IN/$name.tsv" "runs/$name/log.tsv"
  fi
  resume=(); [ "$PHASE" = 2 ] && resume=(--resume)
  [ "$PHASE" = ft ] && resume=(--init-from "${INIT:-weights/checkpoints/poly-small-last.pt}")
  nice -n 5 python3 -m pillow_l3c.train --arch polyphase --data "$DATA/train" \
    --val "$DATA/val" --out "runs/$name" --channels "$c" --blocks "$b" --head "$h" \
    --mixtures "$k" --optimizer adam --lr "$lr" --cosine --steps 1000000 --warmup 100 \
    --fit-minutes "$FIT" --minutes "$STOP" --batch "$bs" --crop "$crop" --grey 0.1 \
    --val-crop 128 --val-every 500 --ckpt-every 500 --loader-workers 6 --device cuda \
    "${resume[@]}" >"runs/$name.out" 2>&1 &
done

# The GPU checks run beside the training: build, tests, benchmark on a 12 MP photo.
# The coder is built in place and the weights linked where the installed package has
# them (an editable install needs setuptools' build backend, absent there).
[ "$PHASE" = ft ] || (
    python3 setup.py build_ext --inplace >/tmp/build.txt 2>&1 || cat /tmp/build.txt
    [ -e pillow_l3c/weights ] || ln -s ../weights pillow_l3c/weights
    python3 -m pytest -q -m gpu --continue-on-collection-errors tests >"$OUT/gpu-tests.txt" 2>&1
    python3 - <<'PY'
from pathlib import Path
from PIL import Image
photos = [Image.open(p).convert("RGB") for p in sorted(Path(".devdata/val").iterdir())]
mosaic = Image.new("RGB", (4000, 3000))
x = y = row = 0
for im in photos * 4:
    if x + im.width > 4000:
        x, y, row = 0, y + row, 0
    if y >= 3000:
        break
    mosaic.paste(im, (x, y)); x += im.width; row = max(row, im.height)
Path("/tmp/mp12").mkdir(exist_ok=True)
mosaic.save("/tmp/mp12/mosaic_12mp.png")
PY
    python3 -m pillow_l3c.cli bench /tmp/mp12 --device cuda --codecs l3c:poly-small,l3c:l3c-small,png --repeat 2 --chart /tmp/bench-gpu.png --json "$OUT/bench-gpu-12mp.json" -q \
      >"$OUT/bench-gpu.txt" 2>&1
) &
wait
for spec in "${RUNS[@]}"; do
  name=${spec%%:*}
  cp "runs/$name/last.pt" "$OUT/$name.pt"; cp "runs/$name/log.tsv" "$OUT/$name.tsv"
  { echo "== $name"; cat "runs/$name.out"; } >>"$OUT/train.txt"
done
tail -n 4 "$OUT"/*.txt; grep -h "^step" "$OUT/train.txt" | tail -n 4
