"""Build the 16-bit evaluation sets of ``l3c bench``: developed raws, raw mosaics, scans.

    python benchmarks/deep/make_sets.py [OUT_DIR] [--val DIR] [--sets a,b,...]
    # default OUT_DIR benchmarks/data/deep (gitignored), --val ../shared/data/val

Why these sets: a 16-bit file is not one kind of image. A raw developer's output has
sensor noise in its low bits; a raw mosaic holds 12 bits in a 16-bit container, right-
or left-aligned; an 8-bit photo "converted to 16 bits" holds 8 bits of information in
16; a microscope frame is mostly dark background; a rendered plot is smooth. A codec
that wins on one can lose on another, so each is measured apart. Every set is one flat
folder of 16-bit PNG files (``imagecodecs.png_encode``: Pillow cannot write 16-bit RGB)
plus a ``SOURCES.tsv`` saying where each image came from (``l3c bench`` ignores it).

Scene sources are only the 12 photos of ``shared/data/val/`` (lossless 8-bit PNG, held
out from training), taken in sorted order by file name (``VAL[i]`` below); never
``train/`` and never a held-out corpus. Everything is deterministic: fixed seeds, a
fixed crop per image, Pillow's and numpy's deterministic operations. Runs in well under
a minute on one core; each set is <= 3 MP, each image 0.1-0.33 MP.

How each set is made:

* ``developed16`` (6 RGB 640x480): "unprocessing" after Brooks et al., CVPR 2019, then
  a raw developer. A 320x240 crop of ``VAL[0,2,4,6,8,10]`` (8-bit sRGB) becomes float
  and is upsampled x2 to 640x480 with Pillow's BICUBIC on each channel in mode F (so
  that the raw has 4x the pixels of the 8-bit source, its 8-bit steps are smoothed away
  and the sensor noise dominates the low bits); then the inverse of the smoothstep tone
  curve, the inverse sRGB transfer function (linear light), the inverse of a fixed
  camera-to-sRGB colour matrix (``CAM_TO_SRGB``), the inverse white balance (red gain
  U[1.9, 2.4], blue gain U[1.5, 1.9], as Brooks) and an exposure of U[0.6, 0.9]; mosaic
  to RGGB Bayer; a 14-bit sensor (black level 256, white level 16383, full well 30000
  e- at ISO 100): Poisson shot noise in electrons, Gaussian read noise (3 e- and 1.5 DN
  of ADC noise), rounded and clipped to 0..16383 (the raw), at ISO 100, 200, 400, 800,
  1600 and 3200 (one per crop). Developed by black subtraction, bilinear demosaicking,
  white balance, the colour matrix, the sRGB transfer function and the smoothstep tone
  curve, clipped and written as 16-bit RGB, full range 0..65535 (what a 16-bit TIFF out
  of a raw developer holds).
* ``raw12_right`` (3 grey 640x480 + 3 RGB 640x480): the same pipeline with a 12-bit
  sensor (black level 64, white level 4095), on 320x240 crops of ``VAL[1,5,9]`` at ISO
  200, 800 and 3200. ``bayer_*``: the RGGB mosaic itself as one grey plane (what a DNG
  or a camera's raw holds); ``linear_*``: that mosaic demosaicked bilinearly, rounded
  and clipped, still linear, still with its black level (a "linear DNG"). Values 0..4095
  in a 16-bit container (right-aligned).
* ``raw12_left``: the same pixels * 16 (left-aligned, the low 4 bits always 0), as some
  cameras and TIFF writers store 12 bits. A codec's cost on the two should be the same.
* ``upconverted8`` (4 RGB + 4 grey 640x480): 640x480 crops of ``VAL[1,5,7,11]`` * 257
  (8 bits of information in 16, the way most tools widen 8 to 16 bits: x * 65535/255),
  and of ``VAL[0,2,4,10]`` converted to grey by Pillow (``L``, ITU-R 601-2 luma), * 257.
* ``control8`` (4 RGB 640x480): the same 4 RGB crops as ``upconverted8``, as ordinary
  8-bit PNG: the bpsp a codec reaches on the 8-bit original, against which its cost on
  the x257 copies can be read. RGB only, because ``l3c bench`` codes every 8-bit image
  as RGB (a grey 8-bit control would not be comparable with a grey 16-bit image).
* ``scientific16`` (grey): four synthetic fluorescence-microscopy frames of 512x512,
  two from a 12-bit CCD (offset 100 DN, 0.5 DN/e-, read noise 6 e-, clipped to 4095)
  and two from a 16-bit sCMOS camera (offset 100 DN, 2 DN/e-, read noise 1.6 e-,
  clipped to 65535): a dark background with a slight vignette, 25-40 cells (elliptical
  Gaussians with a brighter nucleus) and ~80 diffraction-limited puncta, Poisson photon
  noise with quantum efficiency 0.7; plus two noiseless rendered 640x480 images: a
  2-D function (Gaussian bumps on a tilted plane) with 12 antialiased isolines, and a
  smooth gradient (a sum of low-frequency cosines), both scaled to 0..65535.
* ``dicom`` (grey, only where ``pydicom`` is installed): the uncompressed 16-bit test
  images that ship inside the pydicom package (``pydicom/data/test_files``, never the
  ones it would download): ``CT_small.dcm`` (128x128, signed, stored 16 bits, NEMA WG04
  CT1_UNC downsized), ``MR_small.dcm`` (64x64, signed, NEMA WG04 MR1_UNC downsized) and
  ``examples_overlay.dcm`` (484x300, unsigned, stored 12 bits, a Siemens MR with
  overlays, cropped). pydicom is MIT-licensed; its test_files/README.txt says of these
  files "I believe there is no restriction on using any of these files in this manner".
  Signed pixel data is written as is when it has no negative value (true of both files
  here: the raw stored values, before any rescale, are 128..2191 and 127..2145), else
  offset by +32768 (an exact, order-preserving map of int16 onto uint16). The other
  variants of MR_small (big endian, implicit VR, RLE, JPEG 2000, JPEG-LS) hold the
  same pixels and are left out; compressed and 16x16 DICOMDIR files are left out too.
  The set is small (0.17 MP): it is real medical data, not a sample of any size.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "benchmarks" / "data" / "deep"
DEFAULT_VAL = ROOT.parent / "shared" / "data" / "val"

# A camera-to-sRGB matrix of the kind a raw developer holds per camera model (rows sum
# to 1, so that the camera's white is sRGB's white); its off-diagonal terms mix, and
# so amplify, the sensor noise as a real developer's matrix does.
CAM_TO_SRGB = np.array(
    [[1.72, -0.60, -0.12], [-0.18, 1.50, -0.32], [0.03, -0.48, 1.45]], dtype=np.float64
)
FULL_WELL_E = 30000.0  # electrons at white, ISO 100


@dataclass
class Item:
    """One image of a set: its file name, pixels and where it came from."""

    name: str
    pixels: np.ndarray
    source: str


# -- tone and colour ---------------------------------------------------------------------


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """The global tone curve of Brooks et al. (a stand-in for a camera's S-curve)."""
    x = np.clip(x, 0.0, 1.0)
    return 3 * x**2 - 2 * x**3


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)


# -- the camera --------------------------------------------------------------------------


@dataclass
class Camera:
    """One shot's sensor and white balance: what the raw developer undoes."""

    bits: int
    iso: int
    red_gain: float
    blue_gain: float
    exposure: float

    @property
    def white(self) -> int:
        return 2**self.bits - 1

    @property
    def black(self) -> int:
        return 2 ** (self.bits - 6)  # 256 at 14 bits, 64 at 12 bits

    @property
    def dn_per_electron(self) -> float:
        return (self.white - self.black) / FULL_WELL_E * self.iso / 100

    @classmethod
    def random(cls, rng: np.random.Generator, bits: int, iso: int) -> Camera:
        return cls(
            bits=bits,
            iso=iso,
            red_gain=float(rng.uniform(1.9, 2.4)),
            blue_gain=float(rng.uniform(1.5, 1.9)),
            exposure=float(rng.uniform(0.6, 0.9)),
        )

    def describe(self) -> str:
        return (
            f"{self.bits}-bit ISO {self.iso} black {self.black} white {self.white} "
            f"wb r{self.red_gain:.3f} b{self.blue_gain:.3f} exposure {self.exposure:.3f}"
        )


def _upsample2(rgb8: np.ndarray) -> np.ndarray:
    """An 8-bit RGB crop as float in [0, 1], twice the size, by a smooth filter."""
    h, w = rgb8.shape[:2]
    planes = [
        np.asarray(
            Image.fromarray(rgb8[..., c].astype(np.float32) / 255, "F").resize(
                (2 * w, 2 * h), Image.Resampling.BICUBIC
            )
        )
        for c in range(3)
    ]
    return np.clip(np.stack(planes, axis=-1).astype(np.float64), 0.0, 1.0)


def unprocess(srgb: np.ndarray, cam: Camera) -> np.ndarray:
    """sRGB in [0, 1] to linear camera RGB in [0, 1], as the sensor would have seen it."""
    x = srgb_to_linear(inverse_smoothstep(srgb))
    x = np.clip(x @ np.linalg.inv(CAM_TO_SRGB).T, 0.0, 1.0)
    x = x * np.array([1 / cam.red_gain, 1.0, 1 / cam.blue_gain]) * cam.exposure
    return np.clip(x, 0.0, 1.0)


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """RGGB Bayer: R at (even, even), G at (even, odd) and (odd, even), B at (odd, odd)."""
    m = np.empty(rgb.shape[:2], rgb.dtype)
    m[0::2, 0::2] = rgb[0::2, 0::2, 0]
    m[0::2, 1::2] = rgb[0::2, 1::2, 1]
    m[1::2, 0::2] = rgb[1::2, 0::2, 1]
    m[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return m


def expose(m: np.ndarray, cam: Camera, rng: np.random.Generator) -> np.ndarray:
    """The raw: photons (Poisson, in electrons), read noise, black level, ADC, clip."""
    span = cam.white - cam.black
    g = cam.dn_per_electron
    electrons = rng.poisson(np.clip(m, 0, 1) * span / g).astype(np.float64)
    read_dn = np.hypot(3.0 * g, 1.5 * 2.0 ** (cam.bits - 14))
    dn = cam.black + electrons * g + rng.normal(0.0, read_dn, m.shape)
    return np.clip(np.rint(dn), 0, cam.white).astype(np.uint16)


def _conv3(plane: np.ndarray, k: np.ndarray) -> np.ndarray:
    """3x3 correlation with reflect padding (which keeps the Bayer phase at the edges)."""
    h, w = plane.shape
    p = np.pad(plane, 1, mode="reflect")
    return sum(k[i, j] * p[i : i + h, j : j + w] for i in range(3) for j in range(3))


def demosaic_bilinear(m: np.ndarray) -> np.ndarray:
    """Bilinear demosaicking of an RGGB mosaic (float in, float RGB out)."""
    masks = np.zeros((3, *m.shape), bool)
    masks[0, 0::2, 0::2] = True
    masks[1, 0::2, 1::2] = masks[1, 1::2, 0::2] = True
    masks[2, 1::2, 1::2] = True
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 4
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float64) / 4
    planes = [_conv3(np.where(masks[c], m, 0.0), k) for c, k in enumerate((k_rb, k_g, k_rb))]
    return np.stack(planes, axis=-1)


def develop(raw: np.ndarray, cam: Camera) -> np.ndarray:
    """A raw developer: black, demosaic, white balance, colour, gamma, tone; 16-bit RGB."""
    x = (raw.astype(np.float64) - cam.black) / (cam.white - cam.black)
    x = demosaic_bilinear(x)
    x = x * np.array([cam.red_gain, 1.0, cam.blue_gain]) / cam.exposure
    x = np.clip(np.clip(x, 0.0, 1.0) @ CAM_TO_SRGB.T, 0.0, 1.0)
    return _to16(smoothstep(linear_to_srgb(x)))


def _to16(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0.0, 1.0) * 65535).astype(np.uint16)


# -- sources -----------------------------------------------------------------------------


def val_photos(val: Path) -> list[Path]:
    photos = sorted(val.glob("*.png"))
    if len(photos) != 12:
        msg = f"expected the 12 PNG photos of shared/data/val in {val}, found {len(photos)}"
        raise SystemExit(msg)
    return photos


def crop(path: Path, w: int, h: int, seed: int, mode: str = "RGB") -> tuple[np.ndarray, str]:
    """A w x h crop of a val photo at a seeded position, and a note of where it was."""
    with Image.open(path) as im:
        im = im.convert(mode)
        rng = np.random.default_rng(seed)
        x0 = int(rng.integers(0, im.width - w + 1))
        y0 = int(rng.integers(0, im.height - h + 1))
        box = (x0, y0, x0 + w, y0 + h)
        return np.asarray(im.crop(box)), f"{path.name} crop {box}"


# -- the sets ----------------------------------------------------------------------------


def developed16(photos: list[Path]) -> Iterator[Item]:
    isos = (100, 200, 400, 800, 1600, 3200)
    for k, (i, iso) in enumerate(zip((0, 2, 4, 6, 8, 10), isos, strict=True)):
        rng = np.random.default_rng(1000 + k)
        rgb8, where = crop(photos[i], 320, 240, seed=100 + i)
        cam = Camera.random(rng, bits=14, iso=iso)
        raw = expose(mosaic(unprocess(_upsample2(rgb8), cam)), cam, rng)
        name = f"dev_iso{iso:04d}_{photos[i].stem.split('_', 1)[1][:20]}"
        yield Item(name, develop(raw, cam), f"{where}, upsampled x2; {cam.describe()}")


@functools.cache
def _raw12(photos: tuple[Path, ...]) -> tuple[Item, ...]:
    """The right-aligned raws, made once and shared with the left-aligned set."""
    items: list[Item] = []
    for k, (i, iso) in enumerate(zip((1, 5, 9), (200, 800, 3200), strict=True)):
        rng = np.random.default_rng(2000 + k)
        rgb8, where = crop(photos[i], 320, 240, seed=200 + i)
        cam = Camera.random(rng, bits=12, iso=iso)
        raw = expose(mosaic(unprocess(_upsample2(rgb8), cam)), cam, rng)
        linear = np.rint(demosaic_bilinear(raw.astype(np.float64)))
        linear = np.clip(linear, 0, cam.white).astype(np.uint16)
        stem = f"iso{iso:04d}_{photos[i].stem.split('_', 1)[1][:20]}"
        note = f"{where}, upsampled x2; {cam.describe()}"
        items.append(Item(f"bayer_{stem}", raw, f"RGGB mosaic; {note}"))
        items.append(Item(f"linear_{stem}", linear, f"bilinear demosaic; {note}"))
    return tuple(items)


def raw12_right(photos: list[Path]) -> Iterator[Item]:
    yield from _raw12(tuple(photos))


def raw12_left(photos: list[Path]) -> Iterator[Item]:
    for it in _raw12(tuple(photos)):
        yield Item(it.name, it.pixels * np.uint16(16), f"x16 (left-aligned); {it.source}")


_UP_RGB = (1, 5, 7, 11)
_UP_GREY = (0, 2, 4, 10)


def upconverted8(photos: list[Path]) -> Iterator[Item]:
    for i in _UP_RGB:
        rgb8, where = crop(photos[i], 640, 480, seed=300 + i)
        yield Item(f"rgb_{photos[i].stem[:32]}", rgb8.astype(np.uint16) * 257, f"{where} x257")
    for i in _UP_GREY:
        grey8, where = crop(photos[i], 640, 480, seed=400 + i, mode="L")
        yield Item(f"grey_{photos[i].stem[:32]}", grey8.astype(np.uint16) * 257, f"{where} x257")


def control8(photos: list[Path]) -> Iterator[Item]:
    for i in _UP_RGB:
        rgb8, where = crop(photos[i], 640, 480, seed=300 + i)
        yield Item(f"rgb_{photos[i].stem[:32]}", rgb8, f"{where} (8-bit, as upconverted8)")


def _blob(
    lam: np.ndarray, cy: float, cx: float, sy: float, sx: float, theta: float, amp: float
) -> None:
    """Add an elliptical Gaussian to ``lam`` inside its 4-sigma box."""
    h, w = lam.shape
    r = 4 * max(sy, sx)
    y0, y1 = max(0, int(cy - r)), min(h, int(cy + r) + 1)
    x0, x1 = max(0, int(cx - r)), min(w, int(cx + r) + 1)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    c, s = np.cos(theta), np.sin(theta)
    u, v = c * dx + s * dy, -s * dx + c * dy
    lam[y0:y1, x0:x1] += amp * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))


def microscopy(seed: int, bits: int, size: int = 512) -> tuple[np.ndarray, str]:
    """A fluorescence frame: photons -> electrons (QE) -> DN, with read noise, clipped."""
    rng = np.random.default_rng(seed)
    ccd = bits == 12
    offset, dn_per_e, read_e = (100.0, 0.5, 6.0) if ccd else (100.0, 2.0, 1.6)
    scale = 2.0 if ccd else 6.0  # the sCMOS frames are brighter exposures
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    lam = (8.0 + 6.0 * rng.random()) * scale * (1 - 0.5 * (xx**2 + yy**2))  # background
    cells = int(rng.integers(25, 41))
    for _ in range(cells):
        cy, cx = rng.uniform(0, size, 2)
        sy, sx = rng.uniform(6, 18, 2)
        theta = rng.uniform(0, np.pi)
        amp = rng.uniform(150, 1500) * scale
        _blob(lam, cy, cx, sy, sx, theta, amp)
        _blob(lam, cy, cx, sy / 2.5, sx / 2.5, theta, amp * rng.uniform(0.5, 2.0))  # nucleus
    for _ in range(80):
        cy, cx = rng.uniform(0, size, 2)
        _blob(lam, cy, cx, 1.3, 1.3, 0.0, rng.uniform(300, 4000) * scale)
    electrons = rng.poisson(lam * 0.7).astype(np.float64)
    dn = offset + dn_per_e * electrons + rng.normal(0, read_e * dn_per_e, lam.shape)
    out = np.clip(np.rint(dn), 0, 2**bits - 1).astype(np.uint16)
    cam = "12-bit CCD" if ccd else "16-bit sCMOS"
    return out, f"synthetic, seed {seed}, {cam}, {cells} cells, 80 puncta"


def isolines(w: int = 640, h: int = 480, levels: int = 12) -> np.ndarray:
    """Gaussian bumps on a tilted plane, with 1-px antialiased isolines drawn darker."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    f = 0.2 * x / w + 0.1 * y / h
    for cx, cy, s, a in ((0.3, 0.4, 0.15, 0.8), (0.7, 0.6, 0.2, -0.5), (0.55, 0.2, 0.08, 0.4)):
        f += a * np.exp(-(((x / w - cx) ** 2 + (y / h - cy) ** 2 * (h / w) ** 2) / (2 * s**2)))
    f = (f - f.min()) / (f.max() - f.min())
    gy, gx = np.gradient(f * levels)
    frac = f * levels - np.floor(f * levels + 0.5)  # signed distance to a level, in levels
    dist_px = np.abs(frac) / np.maximum(np.hypot(gx, gy), 1e-9)
    line = np.clip(1.0 - dist_px, 0.0, 1.0)
    return _to16((0.1 + 0.85 * f) * (1 - 0.6 * line))


def gradient(w: int = 640, h: int = 480) -> np.ndarray:
    """A smooth field: a sum of low-frequency cosines, scaled to the full 16-bit range."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    f = np.cos(2 * np.pi * (x / w * 0.7 + 0.1)) + 0.6 * np.cos(2 * np.pi * (y / h * 1.3))
    f += 0.4 * np.cos(2 * np.pi * ((x + y) / (w + h) * 2.1 + 0.3))
    return _to16((f - f.min()) / (f.max() - f.min()))


def scientific16(photos: list[Path]) -> Iterator[Item]:
    del photos  # synthetic
    for k, bits in enumerate((12, 12, 16, 16)):
        frame, note = microscopy(seed=500 + k, bits=bits)
        yield Item(f"microscopy{bits}_{k}", frame, note)
    yield Item("isolines", isolines(), "rendered 2-D function with 12 isolines, noiseless")
    yield Item("gradient", gradient(), "rendered sum of cosines, noiseless")


DICOM_FILES = ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm")


def dicom_to_uint16(a: np.ndarray) -> tuple[np.ndarray, str]:
    """Stored DICOM pixels as uint16, exactly: signed data offset by 32768 only if needed."""
    if a.dtype == np.uint16:
        return a, "unsigned"
    if a.dtype != np.int16:
        msg = f"{a.dtype} pixel data does not fit uint16 exactly"
        raise ValueError(msg)
    if int(a.min()) >= 0:
        return a.astype(np.uint16), f"signed, no negative value ({a.min()}..{a.max()}): as is"
    return (a.astype(np.int32) + 32768).astype(np.uint16), "signed: +32768"


def dicom(photos: list[Path]) -> Iterator[Item]:
    del photos
    try:
        import pydicom
    except ImportError:
        print("dicom: skipped: pydicom is not installed (pip install pydicom)")
        return
    folder = Path(pydicom.__file__).parent / "data" / "test_files"  # shipped, not fetched
    for name in DICOM_FILES:
        path = folder / name
        if not path.is_file():
            print(f"dicom: {name} is not in this pydicom ({pydicom.__version__}); skipped")
            continue
        ds = pydicom.dcmread(path)
        if ds.file_meta.TransferSyntaxUID.is_compressed or ds.BitsAllocated != 16:
            print(f"dicom: {name} is compressed or not 16-bit; skipped")
            continue
        pixels, how = dicom_to_uint16(ds.pixel_array)
        note = (
            f"pydicom {pydicom.__version__} test_files/{name}: {ds.Modality}, "
            f"{ds.BitsStored} bits stored, {how}"
        )
        yield Item(f"{ds.Modality.lower()}_{Path(name).stem}", pixels, note)


SETS: dict[str, Callable[[list[Path]], Iterator[Item]]] = {
    "developed16": developed16,
    "raw12_right": raw12_right,
    "raw12_left": raw12_left,
    "upconverted8": upconverted8,
    "control8": control8,
    "scientific16": scientific16,
    "dicom": dicom,
}


def write_png(path: Path, pixels: np.ndarray) -> None:
    """16-bit through imagecodecs (Pillow writes no 16-bit RGB), 8-bit through Pillow."""
    if pixels.dtype == np.uint16:
        import imagecodecs

        path.write_bytes(imagecodecs.png_encode(pixels, level=6))
    else:
        Image.fromarray(pixels).save(path)


def write_set(name: str, items: list[Item], out: Path) -> str:
    """Write one set's folder (replacing an earlier one's images); its summary line."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    rows = ["file\tshape\tdtype\tmin\tmax\tsource"]
    for it in items:
        write_png(folder / f"{it.name}.png", it.pixels)
        lo, hi = int(it.pixels.min()), int(it.pixels.max())
        shape = "x".join(map(str, it.pixels.shape))
        rows.append(f"{it.name}.png\t{shape}\t{it.pixels.dtype}\t{lo}\t{hi}\t{it.source}")
    (folder / "SOURCES.tsv").write_text("\n".join(rows) + "\n")
    if not items:
        return f"{name}: no images"
    mp = sum(it.pixels.shape[0] * it.pixels.shape[1] for it in items) / 1e6
    kinds = sorted({"grey" if it.pixels.ndim == 2 else "RGB" for it in items})
    depth = sorted({8 * it.pixels.itemsize for it in items})
    lo = min(int(it.pixels.min()) for it in items)
    hi = max(int(it.pixels.max()) for it in items)
    return (
        f"{name}: {len(items)} image(s), {mp:.2f} MP, {'+'.join(kinds)}, "
        f"{'/'.join(map(str, depth))}-bit, values {lo}..{hi} -> {folder}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--val", type=Path, default=DEFAULT_VAL, help="the 12 val photos")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated of {','.join(SETS)}")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {','.join(unknown)}")
    photos = val_photos(args.val)
    for name in names:
        t0 = time.perf_counter()
        line = write_set(name, list(SETS[name](photos)), args.out)
        print(f"{line} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
