"""Dask in numbers: files per second on a cluster of one and of two workers, and one
tile of a large file read lazily against decoding the whole file, and a large image
written by ``to_l3c`` against ``Image.save``.

    python benchmarks/dask_throughput.py ../shared/data/val [--json docs/bench-dask.json]

Part 1 encodes every image of the folder on a LocalCluster of 1 worker process and
then of 2 (one thread each), after a warm-up file so that each worker has loaded
the model; beside them, the local ``l3c encode -j 1`` and ``-j 2`` process pools on
the same files, in the same run. Part 2 pastes the folder's photos into one large
image, encodes it once, then times ``dask_array.open_array(f)[tile].compute()``,
``Image.open(f).crop(tile)`` and a whole decode, each in a fresh process (no cache
of an earlier read). Every output is decoded and compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster
from PIL import Image

import pillow_l3c
from pillow_l3c import cluster, dask_array
from pillow_l3c._suffixes import IMAGE_SUFFIXES


def _plain_env() -> dict[str, str]:
    """This process's environment without what Dask's nannies set for their workers
    (``distributed.nanny.pre-spawn-environ``), which leaks into later subprocesses:
    the local runs are timed as a user's shell would start them."""
    dask_set = set(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    return {k: v for k, v in os.environ.items() if k not in dask_set}


PLAIN_ENV = _plain_env()


def _check(src: Path, out: Path) -> None:
    for image in sorted(src.iterdir()):
        with Image.open(image) as a, Image.open(out / (image.stem + ".l3c")) as b:
            if a.convert(b.mode).tobytes() != b.tobytes():
                msg = f"{image}: round trip differs"
                raise SystemExit(msg)


def files_per_second(src: Path, work: Path) -> dict[str, float]:
    files = len(list(src.iterdir()))
    megapixels = sum(Image.open(p).size[0] * Image.open(p).size[1] for p in src.iterdir()) / 1e6
    warm = work / "warm"
    warm.mkdir()
    Image.new("RGB", (16, 16)).save(warm / "w.png")
    rates: dict[str, float] = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as lc,
            Client(lc) as client,
        ):
            start = time.perf_counter()
            cluster.code_files(client, [str(warm)], str(work / f"warm-out{workers}"))
            ready = time.perf_counter() - start
            start = time.perf_counter()
            results = cluster.code_files(client, [str(src)], str(work / f"dask{workers}"))
            seconds = time.perf_counter() - start
        if any(r.status != "done" for r in results):
            msg = f"failed: {[r for r in results if r.status != 'done']}"
            raise SystemExit(msg)
        _check(src, work / f"dask{workers}")
        rates[f"dask_{workers}_workers_files_per_s"] = files / seconds
        rates[f"dask_{workers}_workers_mp_per_s"] = megapixels / seconds
        rates[f"dask_{workers}_workers_startup_s"] = ready
        print(
            f"Dask, {workers} worker(s): {files / seconds:.2f} files/s, "
            f"{megapixels / seconds:.3f} MP/s ({seconds:.1f} s; cluster and model ready "
            f"in {ready:.1f} s)"
        )
    for jobs in (1, 2):
        out = work / f"local{jobs}"
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pillow_l3c.cli",
                "encode",
                str(src),
                "-o",
                str(out),
                "-j",
                str(jobs),
                "-q",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env=PLAIN_ENV,
        )
        seconds = time.perf_counter() - start
        _check(src, out)
        rates[f"local_j{jobs}_files_per_s"] = files / seconds
        print(
            f"l3c encode -j {jobs} (whole command): {files / seconds:.2f} files/s, "
            f"{megapixels / seconds:.3f} MP/s ({seconds:.1f} s)"
        )
    return rates


def _timed(code: str) -> float:
    """Seconds that ``code`` reports, run in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=PLAIN_ENV
    )
    return float(out.stdout.strip().splitlines()[-1])


def one_tile(src: Path, work: Path) -> dict[str, float]:
    photos = [Image.open(p).convert("RGB") for p in sorted(src.iterdir())]
    width = 4096
    canvas = Image.new("RGB", (width, 3072))
    x = y = row = 0
    for im in photos * 8:
        if x + im.width > width:
            x, y, row = 0, y + row, 0
        if y + im.height > canvas.height:
            break
        canvas.paste(im, (x, y))
        x, row = x + im.width, max(row, im.height)
    big = work / "big.l3c"
    start = time.perf_counter()
    canvas.save(big)
    encode_s = time.perf_counter() - start
    # the same through to_l3c, its tiles as tasks of dask's threaded scheduler
    start = time.perf_counter()
    dask_array.to_l3c(
        da.from_array(np.asarray(canvas), chunks=(1024, 1024, 3)), str(work / "b2.l3c")
    )
    to_l3c_s = time.perf_counter() - start
    if (work / "b2.l3c").read_bytes() != big.read_bytes():
        msg = "to_l3c wrote other bytes than Image.save"
        raise SystemExit(msg)
    tile = Image.open(big).info["l3c_tile_size"]
    y0, x0 = tile * 2, tile * 3  # one whole tile in the middle
    box = (x0, y0, x0 + tile, y0 + tile)
    expected = np.asarray(canvas.crop(box))
    megapixels = canvas.width * canvas.height / 1e6
    prelude = (
        "import time, numpy as np, pillow_l3c; from PIL import Image; t = time.perf_counter(); "
    )
    lazy = _timed(
        prelude + "from pillow_l3c import dask_array; "
        f"a = dask_array.open_array({str(big)!r})[{y0}:{y0 + tile}, {x0}:{x0 + tile}].compute(); "
        f"np.save({str(work / 'lazy.npy')!r}, a); print(time.perf_counter() - t)"
    )
    # the same in a process that has already loaded torch, dask and the model
    warm = _timed(
        "import numpy as np, pillow_l3c, time; from pillow_l3c import dask_array; "
        "pillow_l3c.encode(np.zeros((8, 8, 3), np.uint8)); t = time.perf_counter(); "
        f"dask_array.open_array({str(big)!r})[{y0}:{y0 + tile}, {x0}:{x0 + tile}].compute(); "
        "print(time.perf_counter() - t)"
    )
    crop = _timed(
        prelude + f"c = Image.open({str(big)!r}).crop({box}); "
        f"np.save({str(work / 'crop.npy')!r}, np.asarray(c)); print(time.perf_counter() - t)"
    )
    whole = _timed(
        prelude + f"im = Image.open({str(big)!r}); im.load(); print(time.perf_counter() - t)"
    )
    for name in ("lazy", "crop"):
        if not np.array_equal(np.load(work / f"{name}.npy"), expected):
            msg = f"{name}: the tile differs"
            raise SystemExit(msg)
    print(
        f"{canvas.width}x{canvas.height} ({megapixels:.1f} MP, {tile}-pixel tiles, encoded in "
        f"{encode_s:.1f} s by Image.save, {to_l3c_s:.1f} s by to_l3c, the same bytes): "
        f"one tile lazily {lazy:.2f} s "
        f"({warm:.2f} s once torch and the model are loaded), by Image.crop {crop:.2f} s, "
        f"the whole file {whole:.2f} s ({whole / lazy:.0f}x the lazy tile)"
    )
    return {
        "large_megapixels": megapixels,
        "tile": tile,
        "one_tile_dask_s": lazy,
        "one_tile_dask_loaded_s": warm,
        "one_tile_crop_s": crop,
        "whole_decode_s": whole,
        "image_save_s": encode_s,
        "to_l3c_s": to_l3c_s,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "src"
        src.mkdir()
        for path in sorted(args.folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                shutil.copy(path, src / path.name)
        print(
            f"{len(list(src.iterdir()))} images from {args.folder}, pillow_l3c "
            f"{pillow_l3c.__version__}"
        )
        figures = files_per_second(src, work) | one_tile(src, work)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
