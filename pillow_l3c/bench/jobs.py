"""The parent's side of one measurement: an (image, codec) pair through two children.

Encode and decode run in separate children so that memory the allocator kept after
the encode does not inflate the decode's figures; the decode's pixels are compared
with the original in the child, and an inexact one is an error, never a number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def run_child(spec: dict[str, Any], workdir: Path, timeout: float | None) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; its result, or {"error": ...}."""
    stem = f"{spec['image_index']}-{spec['codec']}-{spec['direction']}"
    spec_path, result_path = workdir / f"{stem}.spec.json", workdir / f"{stem}.result.json"
    spec = {**spec, "result": str(result_path)}
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ)
    # the child must import this same package even from an uninstalled checkout
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pillow_l3c.bench", "--worker", str(spec_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{spec['direction']} timed out after {timeout:g} s"}
    if result_path.exists():
        return json.loads(result_path.read_text())
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:]) or "no output"
    return {"error": f"{spec['direction']} worker exited with status {proc.returncode}: {tail}"}


@dataclass
class Result:
    """One (image, codec): sizes, times and memory of its encode and its decode."""

    image: str
    codec: str
    width: int
    height: int
    bytes: int | None = None
    bpsp: float | None = None
    encode_s: float | None = None
    decode_s: float | None = None
    encode_s_per_mp: float | None = None
    decode_s_per_mp: float | None = None
    encode_peak_mib: float | None = None
    encode_baseline_mib: float | None = None
    decode_peak_mib: float | None = None
    decode_baseline_mib: float | None = None
    exact: bool | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    channels: int = 3
    bits: int = 8
    #: why the codec was not run on this image at all ("n/a (8-bit only)"): no error
    na: str | None = None

    @property
    def ok(self) -> bool:
        """Whether this result may enter the aggregates: no error and an exact decode."""
        return self.error is None and self.exact is True and self.na is None

    @property
    def failed(self) -> bool:
        """Whether this result is an error: not exact or not measured, and not n/a."""
        return self.na is None and not self.ok

    @property
    def megapixels(self) -> float:
        """The image's size in megapixels, the unit of the speed figures."""
        return self.width * self.height / 1e6

    @property
    def subpixels(self) -> int:
        """Sub-pixels (samples) coded, the unit of bpsp.

        Three per pixel for an 8-bit image (every codec gets RGB), the stored channels
        for a 16-bit one.
        """
        return self.width * self.height * self.channels


def measure(
    index: int,
    image: str,
    pixels: Path,
    shape: tuple[int, int],
    codec: str,
    workdir: Path,
    args: argparse.Namespace,
    dtype: str = "uint8",
    channels: int = 3,
) -> Result:
    """Encode, then decode, ``image`` with ``codec``, each in a child of its own.

    The decode runs only on the encode's stream, and the stream is deleted after it, so
    the work folder never holds more than one image's streams; a failure of either
    side becomes the Result's error and the run goes on. ``dtype`` and ``channels``
    are the pixels' (uint8 and 3 for every 8-bit image): the children warm up on them.
    """
    h, w = shape
    bits = 8 * np.dtype(dtype).itemsize
    r = Result(image=image, codec=codec, width=w, height=h, channels=channels, bits=bits)
    base = {
        "image_index": index,
        "codec": codec,
        "pixels": str(pixels),
        "device": args.device,
        "stream": str(workdir / f"{index}.{codec}.bin"),
        "repeat": args.repeat,
        "dtype": dtype,
        "channels": channels,
    }
    timeout = args.timeout or None
    enc = run_child({**base, "direction": "encode"}, workdir, timeout)
    if "error" in enc:
        r.error = f"encode: {enc['error']}"
        return r
    dec = run_child({**base, "direction": "decode"}, workdir, timeout)
    Path(base["stream"]).unlink(missing_ok=True)
    r.bytes = enc["bytes"]
    r.bpsp = r.bytes * 8 / r.subpixels
    r.encode_s, r.encode_s_per_mp = enc["seconds"], enc["seconds"] / r.megapixels
    r.encode_peak_mib = enc["peak_rss_kib"] / 1024
    r.encode_baseline_mib = enc["baseline_rss_kib"] / 1024
    r.extra = {k: enc[k] for k in ("peak_scope", "gpu_peak_mib", "torch_threads") if k in enc}
    if "gpu_peak_mib" in enc:
        r.extra["encode_gpu_peak_mib"] = r.extra.pop("gpu_peak_mib")
    if "error" in dec:
        r.error = f"decode: {dec['error']}"
        return r
    r.decode_s, r.decode_s_per_mp = dec["seconds"], dec["seconds"] / r.megapixels
    r.decode_peak_mib = dec["peak_rss_kib"] / 1024
    r.decode_baseline_mib = dec["baseline_rss_kib"] / 1024
    if "gpu_peak_mib" in dec:
        r.extra["decode_gpu_peak_mib"] = dec["gpu_peak_mib"]
    r.exact = dec["exact"]
    if not r.exact:
        r.error = f"decode is not exact: {dec.get('mismatch', 'pixels differ')}"
    return r
