"""Mutation fuzzing of the decoder: the C++ coder directly, and whole files via Pillow.

    python fuzz/fuzz_l3c.py coder --inputs 1000000
    python fuzz/fuzz_l3c.py file --inputs 20000

Every input must either decode or raise the package's errors (OSError subclasses,
or SyntaxError inside Image.open); anything else (another exception, a crash, a hang
past --timeout seconds) is a finding. ``file`` mode re-seals the checksums of half
of its mutants, so that damaged streams reach the model and the coder instead of
stopping at a CRC.
"""

from __future__ import annotations

import argparse
import faulthandler
import io
import random
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

import pillow_l3c
from pillow_l3c import _coder, _format
from pillow_l3c._constants import (
    INV_SCALE_FRACTION_BITS,
    MEAN_FRACTION_BITS,
    SAMPLE_LEVELS,
    WEIGHT_BITS,
)
from pillow_l3c.errors import CorruptStreamError


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 4, 16])):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[pos] = rng.randrange(256)
        elif op == 2:
            del buf[pos : pos + rng.randrange(1, 64)]
        elif op == 3:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif op == 4:
            buf = buf[: rng.randrange(len(buf) + 1)]
        elif op == 5 and len(buf) >= 4:
            v = rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)])
            buf[pos : pos + 4] = v.to_bytes(4, "big")
    return bytes(buf)


def reseal(data: bytes) -> bytes:
    """Recompute the header and section CRCs so that damage reaches the decoder."""
    buf = bytearray(data)
    try:
        size = _format.header_size(bytes(buf))
    except _format.L3cError:
        return data
    if len(buf) < size:
        return data
    crc = slice(size - _format.CRC_BYTES, size)
    buf[crc] = zlib.crc32(bytes(buf[: crc.start])).to_bytes(_format.CRC_BYTES, "big")
    tag, length = _format.SECTION_FIELDS["tag"], _format.SECTION_FIELDS["length"]
    head, crc_bytes = _format.SECTION_HEAD_BYTES, _format.CRC_BYTES
    pos = size
    while pos + head <= len(buf):
        start = pos + head
        end = start + int.from_bytes(buf[pos + length.start : pos + length.stop], "big")
        if end + crc_bytes > len(buf):
            break
        buf[end : end + crc_bytes] = zlib.crc32(
            bytes(buf[start:end]), zlib.crc32(bytes(buf[pos + tag.start : pos + tag.stop]))
        ).to_bytes(crc_bytes, "big")
        pos = end + crc_bytes
    return bytes(buf)


def watchdog(seconds: float) -> None:
    """(Re-)arm the hang detector: an input that takes longer than ``seconds`` dumps every
    thread's stack and ends the run with an error. Re-armed per input, so the limit is
    per input, not for the whole run."""
    faulthandler.dump_traceback_later(seconds, exit=True)


def fuzz_coder(n: int, rng: random.Random, timeout: float) -> int:
    nrng = np.random.default_rng(rng.randrange(1 << 32))
    k, count, levels = 3, 64, SAMPLE_LEVELS
    total = 1 << WEIGHT_BITS
    w = np.full((count, k), total // k, np.int32)
    w[:, 0] += total - w.sum(1)
    mu = (nrng.uniform(0, levels, (count, k)) * (1 << MEAN_FRACTION_BITS)).astype(np.int32)
    inv = ((1 << INV_SCALE_FRACTION_BITS) / nrng.uniform(0.3, 8, (count, k))).astype(np.int32)
    cdf = _coder.mixture_cdf(w, mu, inv, levels)
    seeds = [
        _coder.encode_mixture(nrng.integers(0, levels, count).astype(np.int32), w, mu, inv, levels)
        for _ in range(16)
    ]
    decoded = 0
    for i in range(n):
        watchdog(timeout)
        data = mutate(rng.choice(seeds), rng) if i % 4 else nrng.bytes(rng.randrange(80))
        try:
            if i % 2:
                _coder.decode_mixture(data, w, mu, inv, levels)
            else:
                _coder.decode_cdf(data, cdf, count)
            decoded += 1
        except CorruptStreamError:
            pass
    return decoded


def _classical_seeds(nrng: np.random.Generator) -> list[bytes]:
    """Format-3 files with classical tiles: a mixed file (flat tiles classical, noisy
    ones learned), a P image with its palette and transparency, a bilevel image."""
    seeds = []
    side = 64  # tiles of a side at which the test is sure of each
    photo = Path(__file__).resolve().parents[1] / "tests" / "images" / "storm_256x192.png"
    with Image.open(photo) as im:
        crop = np.asarray(im.convert("RGB").crop((0, 0, side, side)))
    mixed = np.concatenate([np.full_like(crop, 200), crop], axis=1)
    for image, params in [
        (Image.fromarray(mixed), {"tile_size": side}),
        (Image.fromarray(nrng.integers(0, 4, (12, 9), dtype=np.uint8), "P"), {"transparency": 2}),
        (Image.fromarray(nrng.random((10, 19)) > 0.5), {}),
    ]:
        if image.mode == "P":
            image.putpalette(bytes(range(12)))
        buf = io.BytesIO()
        image.save(buf, format="L3C", **params)
        seeds.append(buf.getvalue())
    methods = {m.kind for m in _format.parse_header(seeds[0]).methods}
    assert methods == {1, 2}, "the mixed seed must use both kinds of coder"
    return seeds


def _deep_seeds(nrng: np.random.Generator) -> list[bytes]:
    """16-bit files of every kind of low bits: predicted (noise in the low byte, in
    tiles of 8 and of 24), looked up (v * 257), none (12 bits left-aligned in 8 bits
    of span)."""

    def smooth(shape: tuple[int, ...], top: int) -> np.ndarray:
        return np.sort(nrng.integers(0, top, shape), axis=0).astype(np.uint16)

    cases = [
        (smooth((30, 21, 3), 1 << 16), 8),
        (smooth((30, 21), 1 << 16), 24),
        (smooth((19, 23, 2), 256) * 257, 512),
        (smooth((19, 23), 256) << 4, 512),
        (smooth((19, 21, 4), 1 << 16), 16),
    ]
    return [pillow_l3c.encode(a, tile_size=t, coder="learned") for a, t in cases]


def fuzz_file(n: int, rng: random.Random, timeout: float) -> int:
    seeds = []
    nrng = np.random.default_rng(rng.randrange(1 << 32))
    for model in ("poly-small", "l3c-small"):
        for mode, shape, tile in [
            ("RGB", (9, 13, 3), 8),  # 2 x 2 tiles
            ("RGB", (40, 27, 3), 24),  # 2 x 2 tiles of up to 2 polyphase scales
            ("L", (20, 20), 512),
            ("RGBA", (17, 11, 4), 512),
            ("LA", (3, 2, 2), 512),
        ]:
            pixels = nrng.integers(0, 256, shape, dtype=np.uint8)
            if shape[0] > 9:  # smooth, so that the mixtures are peaked as in photos
                pixels = np.sort(pixels, axis=0)
            buf = io.BytesIO()
            Image.fromarray(pixels, mode).save(
                buf,
                format="L3C",
                icc_profile=b"icc" if mode == "RGB" else None,
                # every kind of metadata section, so that mutants reach their parsers
                **({"text": {"k": "v", "Ka": "\u00e4"}, "dpi": (72, 96.5)} if mode == "L" else {}),
                **(
                    {"comment": b"c", "xmp": b"<x/>", "exif": b"Exif\0\0MM"} if mode == "LA" else {}
                ),
                tile_size=tile,
                model=model,
                coder="learned",
            )
            seeds.append(buf.getvalue())
    seeds += _classical_seeds(nrng)
    deep = _deep_seeds(nrng)  # decoded by pillow_l3c.decode: Pillow has no 16-bit colour
    seeds.append(deep[1])  # the grey one through Pillow too (I;16)
    decoded = 0
    for i in range(n):
        if i and i % 10_000 == 0:
            print(f"{i} inputs, {decoded} decoded", file=sys.stderr, flush=True)
        watchdog(timeout)
        array_api = i % 5 == 4  # 16-bit colour has no Pillow mode: the array API
        data = mutate(rng.choice(deep if array_api else seeds), rng)
        if i % 2:
            data = reseal(data)
        try:
            if array_api:
                pillow_l3c.decode(data)
                decoded += 1
                continue
            # Only this package's plugin: a mutant that another format claims (a GIMP
            # brush, say) would fuzz Pillow's plugins, not this one (found at 670,000
            # inputs of seed 2029: GbrImagePlugin raised ValueError).
            with Image.open(io.BytesIO(data), formats=["L3C"]) as im:
                if i % 3 == 2:  # the random-access path: walk the section heads
                    w, h = im.size
                    x, y = rng.randrange(-2, w + 2), rng.randrange(-2, h + 2)
                    im.crop((x, y, x + rng.randrange(0, w + 3), y + rng.randrange(0, h + 3)))
                else:
                    im.load()
            decoded += 1
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            pass
    return decoded


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("target", choices=["coder", "file"])
    p.add_argument("--inputs", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60, help="seconds one input may take")
    args = p.parse_args()
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # expected, not a finding
    rng = random.Random(args.seed)
    pillow_l3c.configure()
    start = time.monotonic()
    fuzz = fuzz_coder if args.target == "coder" else fuzz_file
    decoded = fuzz(args.inputs, rng, args.timeout)
    faulthandler.cancel_dump_traceback_later()
    seconds = time.monotonic() - start
    print(
        f"{args.target}: {args.inputs} inputs in {seconds:.0f} s, {decoded} decoded without "
        f"error, every other one raised a package error; no crash, no hang"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
