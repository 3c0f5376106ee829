"""Image <-> .l3c bytes: pad, run the model, quantize mixtures, call the coder.

The network and the mixture arithmetic run on the model's device; only int32 mixture
parameters and symbols cross to the C++ coder, which computes each CDF on demand, so
no CDF table of the image is ever built.

Order of coding (the decoder's order; rANS encodes each stream in reverse):
z(S) under a uniform prior, then z(S-1) .. z(1) each from D(s+1), then the colour
planes R, G, B from D(1), each coupled to the planes before it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from pillow_l3c import _format, _model
from pillow_l3c._format import Container, Header
from pillow_l3c.errors import CorruptStreamError, ModelMismatchError

if TYPE_CHECKING:
    import torch

PRECISION = 16  # CDF precision of every stream, in bits
PAD_MULTIPLE = 8  # three stride-2 scales


def latent_tag(scale: int) -> bytes:
    return b"LAT%d" % scale


def plane_tag(plane: int) -> bytes:
    return b"PL%02d" % plane


def quantize_mixture(
    logits: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float mixture (K, n) in bins -> the coder's integer parameters (n, K).

    This is the single place where floats become the integers that decide every CDF;
    encoder and decoder must call it on identical tensors.
    """
    import torch

    from pillow_l3c import _coder

    # Weights sum to exactly 2^12: floor, then the first takes the remainder (< K).
    weights = torch.floor(torch.softmax(logits.float(), dim=0) * (1 << _coder.WEIGHT_BITS))
    weights[0] += (1 << _coder.WEIGHT_BITS) - weights.sum(dim=0)
    means = torch.round(mean.float() * (1 << _coder.MEAN_FRACTION_BITS)).clamp(-(1 << 28), 1 << 28)
    inv = torch.round((1 << _coder.INV_SCALE_FRACTION_BITS) / scale.float()).clamp(1, 1 << 20)
    return tuple(t.t().contiguous().to(torch.int32).cpu().numpy() for t in (weights, means, inv))  # type: ignore[return-value]


@contextmanager
def _inference() -> Iterator[None]:
    """No autograd, and no TorchScript profiling: the profiling executor re-optimizes
    for every new image shape, which doubled the time of a one-off encode."""
    import torch

    with torch.inference_mode(), torch.jit.optimized_execution(False):
        yield


def uniform_cdf(alphabet: int) -> np.ndarray:
    return ((np.arange(alphabet + 1, dtype=np.int64) << PRECISION) // alphabet).astype(np.int32)[
        None
    ]


def pad_image(pixels: np.ndarray) -> np.ndarray:
    """Edge-replicate to multiples of 8. The padding is never coded: the decoder needs
    only latents to run every predictor, and colour coupling is per pixel."""
    h, w = pixels.shape[:2]
    ph, pw = -h % PAD_MULTIPLE, -w % PAD_MULTIPLE
    return np.pad(pixels, ((0, ph), (0, pw), (0, 0)), mode="edge")


def encode(pixels: np.ndarray, mode: str = "RGB", device: str | None = None) -> bytes:
    """Encode an (H, W, 3) uint8 array as a complete .l3c file."""
    import torch

    from pillow_l3c import _coder

    if mode not in _format.MODES:
        msg = f"cannot write mode {mode} as L3C"
        raise OSError(msg)
    planes = _format.MODES[mode][1]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != planes:
        got = f"{pixels.dtype} {pixels.shape}"
        msg = f"{mode} needs a uint8 array of shape (H, W, {planes}), got {got}"
        raise ValueError(msg)
    if min(pixels.shape[:2]) < 1 or max(pixels.shape[:2]) > _format.MAX_DIMENSION:
        msg = f"cannot store an image of {pixels.shape[1]}x{pixels.shape[0]} pixels"
        raise ValueError(msg)
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    model = _model.load(device)
    net, dev = model.module, model.device
    sections: dict[bytes, bytes] = {}
    with _inference():
        x = torch.from_numpy(pad_image(pixels)).permute(2, 0, 1)[None].contiguous().to(dev)
        symbols = net.extract(x)
        top = symbols[-1].reshape(-1).to(torch.int32).cpu().numpy()
        sections[latent_tag(model.scales)] = _coder.encode_cdf(
            top, uniform_cdf(model.levels), PRECISION
        )
        feat = None
        for s in range(model.scales, 0, -1):
            feat, params = net.predict(s, symbols[s - 1], feat)
            if s > 1:
                target = symbols[s - 2].reshape(-1).to(torch.int32).cpu().numpy()
                mix = quantize_mixture(*net.latent_mixture(params))
                sections[latent_tag(s - 1)] = _coder.encode_mixture(
                    target, *mix, model.levels, PRECISION
                )
        for c in range(planes):
            mix = quantize_mixture(*_crop(net.rgb_mixture(params, c, x), x, h, w))
            target = pixels[:, :, c].reshape(-1).astype(np.int32)
            sections[plane_tag(c)] = _coder.encode_mixture(target, *mix, 256, PRECISION)
    header = Header(w, h, mode, model.model_id, zlib.crc32(pixels.tobytes()), len(sections))
    return header.pack() + _format.pack_sections(sections)


def _crop(
    mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor], x: torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the mixtures of the real pixels, dropping the padding."""
    hp, wp = x.shape[2], x.shape[3]
    return tuple(t.reshape(t.shape[0], hp, wp)[:, :h, :w].reshape(t.shape[0], -1) for t in mixture)  # type: ignore[return-value]


def read(fp: BinaryIO) -> Container:
    """Header and sections of a file, all lengths and checksums verified."""
    header = _format.read_header(fp)
    return Container(header, _format.read_sections(fp, header))


def decode(data: bytes | BinaryIO, device: str | None = None) -> tuple[Header, np.ndarray]:
    fp = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    container = read(fp)
    return container.header, decode_container(container, device)


def check_model(header: Header) -> None:
    available = _model.model_id()
    if header.model_id != available:
        msg = (
            f"file was written by model {header.model_id.hex()}, but the available model "
            f"is {available.hex()} ({_model.weights_path().name})"
        )
        raise ModelMismatchError(msg)


def decode_container(container: Container, device: str | None = None) -> np.ndarray:
    """Pixels (H, W, planes) uint8 of a parsed file; raises CorruptStreamError if damaged."""
    import torch

    from pillow_l3c import _coder

    header, sections = container.header, container.sections
    check_model(header)
    model = _model.load(device)
    net, dev = model.module, model.device
    expected = {latent_tag(s) for s in range(1, model.scales + 1)}
    expected |= {plane_tag(c) for c in range(header.planes)}
    if set(sections) != expected:
        msg = f"L3C file has sections {sorted(sections)}, expected {sorted(expected)}"
        raise CorruptStreamError(msg)
    h, w = header.height, header.width
    hp, wp = h + (-h % PAD_MULTIPLE), w + (-w % PAD_MULTIPLE)
    shapes = [(model.latent_shape(s, hp, wp)) for s in range(1, model.scales + 1)]
    with _inference():
        n_top = int(np.prod(shapes[-1]))
        top = _coder.decode_cdf(
            sections[latent_tag(model.scales)], uniform_cdf(model.levels), n_top, PRECISION
        )
        z = torch.from_numpy(top.astype(np.int64)).reshape(1, *shapes[-1]).to(dev)
        feat = None
        for s in range(model.scales, 0, -1):
            feat, params = net.predict(s, z, feat)
            if s > 1:
                mix = quantize_mixture(*net.latent_mixture(params))
                sym = _coder.decode_mixture(
                    sections[latent_tag(s - 1)], *mix, model.levels, PRECISION
                )
                z = torch.from_numpy(sym.astype(np.int64)).reshape(1, *shapes[s - 2]).to(dev)
        x = torch.zeros((1, header.planes, hp, wp), dtype=torch.uint8, device=dev)
        pixels = np.empty((h, w, header.planes), dtype=np.uint8)
        for c in range(header.planes):
            mix = quantize_mixture(*_crop(net.rgb_mixture(params, c, x), x, h, w))
            plane = _coder.decode_mixture(sections[plane_tag(c)], *mix, 256, PRECISION)
            pixels[:, :, c] = plane.reshape(h, w)
            x[0, c, :h, :w] = torch.from_numpy(pixels[:, :, c]).to(dev)
    if zlib.crc32(pixels.tobytes()) != header.pixel_crc:
        msg = "L3C pixel checksum mismatch: the file is damaged"
        raise CorruptStreamError(msg)
    return pixels
