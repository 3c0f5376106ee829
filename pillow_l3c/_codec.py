"""Image <-> .l3c bytes: pad, run the model, quantize mixtures, call the coder.

The network and the mixture arithmetic run on the model's device; only int32 mixture
parameters and symbols cross to the C++ coder, which computes each CDF on demand, so
no CDF table of the image is ever built.

Order of coding, per layer (the decoder's order; rANS encodes each stream in
reverse): z(S) under a uniform prior, then z(S-1) .. z(1) each from D(s+1), then the
coded planes from D(1), each coupled to the planes before it. RGB is one layer; a grey
band is a layer with one plane; alpha is a second layer of its own.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from pillow_l3c import _format, _model
from pillow_l3c._format import Container, Header
from pillow_l3c.errors import CorruptStreamError, ModelMismatchError

if TYPE_CHECKING:
    import torch

PRECISION = 16  # CDF precision of every stream, in bits
PAD_MULTIPLE = 8  # three stride-2 scales


@dataclass(frozen=True)
class Layer:
    """One pass of the model over a three-channel view of some of the image's bands.

    ``view`` picks the band shown to the network as R, G and B; ``coded`` are the bands
    coded as its colour planes, in order (R, then G coupled to R, then B). A grey band
    is seen as (Y, Y, Y) and only its R plane is coded: G and B would carry nothing.
    """

    tag: bytes  # one byte that starts every section tag of the layer
    view: tuple[int, int, int]
    coded: tuple[int, ...]

    def latent_tag(self, scale: int) -> bytes:
        return self.tag + b"LT%d" % scale

    def plane_tag(self, plane: int) -> bytes:
        return self.tag + b"PL%d" % plane

    def tags(self, scales: int) -> set[bytes]:
        latents = {self.latent_tag(s) for s in range(1, scales + 1)}
        return latents | {self.plane_tag(j) for j in range(len(self.coded))}


COLOUR = Layer(b"C", (0, 1, 2), (0, 1, 2))
GREY = Layer(b"C", (0, 0, 0), (0,))
LAYERS: dict[str, tuple[Layer, ...]] = {
    "RGB": (COLOUR,),
    "RGBA": (COLOUR, Layer(b"A", (3, 3, 3), (3,))),
    "L": (GREY,),
    "LA": (GREY, Layer(b"A", (1, 1, 1), (1,))),
}


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


def encode(
    pixels: np.ndarray,
    mode: str = "RGB",
    device: str | None = None,
    metadata: dict[bytes, bytes] | None = None,
) -> bytes:
    """Encode a uint8 array (H, W, bands) of ``mode`` as a complete .l3c file.

    ``metadata`` maps metadata section tags (``_format.METADATA_TAGS``) to bytes that
    are stored verbatim.
    """
    if mode not in _format.MODES:
        msg = f"cannot write mode {mode} as L3C"
        raise OSError(msg)
    bands = _format.MODES[mode][1]
    if pixels.ndim == 2 and bands == 1:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != bands:
        got = f"{pixels.dtype} {pixels.shape}"
        msg = f"{mode} needs a uint8 array of shape (H, W, {bands}), got {got}"
        raise ValueError(msg)
    if min(pixels.shape[:2]) < 1 or max(pixels.shape[:2]) > _format.MAX_DIMENSION:
        msg = f"cannot store an image of {pixels.shape[1]}x{pixels.shape[0]} pixels"
        raise ValueError(msg)
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    model = _model.load(device)
    sections = {tag: bytes(data) for tag, data in (metadata or {}).items()}
    for tag in sections:
        if tag not in _format.METADATA_TAGS:
            msg = f"{tag!r} is not an L3C metadata section"
            raise ValueError(msg)
    for layer in LAYERS[mode]:
        sections.update(_encode_layer(model, pixels, layer))
    header = Header(w, h, mode, model.model_id, zlib.crc32(pixels.tobytes()), len(sections))
    return header.pack() + _format.pack_sections(sections)


def _encode_layer(
    model: _model.LoadedModel, pixels: np.ndarray, layer: Layer
) -> dict[bytes, bytes]:
    import torch

    from pillow_l3c import _coder

    net, dev = model.module, model.device
    h, w = pixels.shape[:2]
    sections: dict[bytes, bytes] = {}
    with _inference():
        view = pad_image(pixels[:, :, list(layer.view)])
        x = torch.from_numpy(view).permute(2, 0, 1)[None].contiguous().to(dev)
        symbols = net.extract(x)
        top = symbols[-1].reshape(-1).to(torch.int32).cpu().numpy()
        sections[layer.latent_tag(model.scales)] = _coder.encode_cdf(
            top, uniform_cdf(model.levels), PRECISION
        )
        feat = None
        for s in range(model.scales, 0, -1):
            feat, params = net.predict(s, symbols[s - 1], feat)
            if s > 1:
                target = symbols[s - 2].reshape(-1).to(torch.int32).cpu().numpy()
                mix = quantize_mixture(*net.latent_mixture(params))
                sections[layer.latent_tag(s - 1)] = _coder.encode_mixture(
                    target, *mix, model.levels, PRECISION
                )
        for j, band in enumerate(layer.coded):
            mix = quantize_mixture(*_crop(net.rgb_mixture(params, j, x), x, h, w))
            target = pixels[:, :, band].reshape(-1).astype(np.int32)
            sections[layer.plane_tag(j)] = _coder.encode_mixture(target, *mix, 256, PRECISION)
    return sections


def _crop(
    mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor], x: torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the mixtures of the real pixels, dropping the padding."""
    hp, wp = x.shape[2], x.shape[3]
    return tuple(t.reshape(t.shape[0], hp, wp)[:, :h, :w].reshape(t.shape[0], -1) for t in mixture)  # type: ignore[return-value]


def read(fp: BinaryIO) -> Container:
    """Header and sections of a file, all lengths and checksums verified."""
    header = _format.read_header(fp)
    return Container(header, _format.read_sections(fp, header.section_count))


def decode(data: bytes | BinaryIO, device: str | None = None) -> tuple[Header, np.ndarray]:
    fp = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    container = read(fp)
    return container.header, decode_container(container, device)


def _check_size(header: Header) -> None:
    """Pillow's decompression-bomb policy, for callers that bypass Image.open."""
    from PIL import Image

    Image._decompression_bomb_check((header.width, header.height))


def check_model(header: Header) -> None:
    available = _model.model_id()
    if header.model_id != available:
        msg = (
            f"file was written by model {header.model_id.hex()}, but the available model "
            f"is {available.hex()} ({_model.weights_path().name})"
        )
        raise ModelMismatchError(msg)


def decode_container(container: Container, device: str | None = None) -> np.ndarray:
    """Pixels (H, W, bands) uint8 of a parsed file; raises CorruptStreamError if damaged."""
    header, sections = container.header, container.sections
    _check_size(header)
    check_model(header)
    model = _model.load(device)
    layers = LAYERS[header.mode]
    expected = set().union(*(layer.tags(model.scales) for layer in layers))
    coded = {tag for tag in sections if tag not in _format.METADATA_TAGS}
    if coded != expected:
        msg = f"L3C file has sections {sorted(coded)}, expected {sorted(expected)}"
        raise CorruptStreamError(msg)
    pixels = np.empty((header.height, header.width, header.planes), dtype=np.uint8)
    for layer in layers:
        _decode_layer(model, sections, layer, pixels)
    if zlib.crc32(pixels.tobytes()) != header.pixel_crc:
        msg = "L3C pixel checksum mismatch: the file is damaged"
        raise CorruptStreamError(msg)
    return pixels


def _decode_layer(
    model: _model.LoadedModel, sections: dict[bytes, bytes], layer: Layer, pixels: np.ndarray
) -> None:
    """Decode the bands of ``layer`` into ``pixels`` (H, W, bands)."""
    import torch

    from pillow_l3c import _coder

    net, dev = model.module, model.device
    h, w = pixels.shape[:2]
    hp, wp = h + (-h % PAD_MULTIPLE), w + (-w % PAD_MULTIPLE)
    shapes = [model.latent_shape(s, hp, wp) for s in range(1, model.scales + 1)]
    with _inference():
        top = _coder.decode_cdf(
            sections[layer.latent_tag(model.scales)],
            uniform_cdf(model.levels),
            int(np.prod(shapes[-1])),
            PRECISION,
        )
        z = torch.from_numpy(top.astype(np.int64)).reshape(1, *shapes[-1]).to(dev)
        feat = None
        for s in range(model.scales, 0, -1):
            feat, params = net.predict(s, z, feat)
            if s > 1:
                mix = quantize_mixture(*net.latent_mixture(params))
                sym = _coder.decode_mixture(
                    sections[layer.latent_tag(s - 1)], *mix, model.levels, PRECISION
                )
                z = torch.from_numpy(sym.astype(np.int64)).reshape(1, *shapes[s - 2]).to(dev)
        x = torch.zeros((1, 3, hp, wp), dtype=torch.uint8, device=dev)
        for j, band in enumerate(layer.coded):
            mix = quantize_mixture(*_crop(net.rgb_mixture(params, j, x), x, h, w))
            plane = _coder.decode_mixture(sections[layer.plane_tag(j)], *mix, 256, PRECISION)
            pixels[:, :, band] = plane.reshape(h, w)
            x[0, j, :h, :w] = torch.from_numpy(pixels[:, :, band]).to(dev)
