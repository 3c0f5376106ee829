"""The classical tile coder (WebP lossless per tile) and its per-tile choice."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pillow_l3c.errors import CorruptStreamError
from pillow_l3c.tile_coders import classical
from pillow_l3c.tile_coders.base import CLASSICAL, EncodeOptions, Method

IMAGES = Path(__file__).parent / "images"
CODER = classical.ClassicalCoder()


def roundtrip(pixels: np.ndarray, mode: str, effort: int = 7) -> list[bytes]:
    streams = CODER.encode_tile(pixels, mode, EncodeOptions(effort=effort))
    assert len(streams) == CODER.stream_count(mode, *pixels.shape[:2])
    out = CODER.decode_tile(streams, mode, *pixels.shape[:2])
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, pixels.reshape(out.shape))
    assert out.shape == (*pixels.shape[:2], classical.BANDS[mode])
    assert CODER.checksums(out) == CODER.checksums(pixels)
    return streams


def screenshot() -> np.ndarray:
    with Image.open(IMAGES / "terminal_160x96.png") as img:
        return np.asarray(img.convert("RGB"))


def photo() -> np.ndarray:
    with Image.open(IMAGES / "storm_256x192.png") as img:
        return np.asarray(img.convert("RGB"))


def test_method_names_the_coder() -> None:
    assert CODER.method == Method.classical("webp-lossless")
    assert CODER.method.kind == CLASSICAL


@pytest.mark.parametrize("effort", [1, 5, 9])
def test_rgb_screenshot_round_trips(effort: int) -> None:
    roundtrip(screenshot(), "RGB", effort)


def test_rgba_keeps_colour_under_alpha_zero() -> None:
    rng = np.random.default_rng(1)
    px = rng.integers(0, 256, (40, 56, 4), dtype=np.uint8)
    px[:, :, 3] = np.where(rng.random((40, 56)) < 0.5, 0, px[:, :, 3])
    roundtrip(px, "RGBA")


def test_opaque_rgba_comes_back_with_alpha() -> None:
    px = np.zeros((8, 9, 4), np.uint8)
    px[..., 0] = 200
    px[..., 3] = 255  # libwebp writes this without alpha; decode must add it back
    roundtrip(px, "RGBA")


@pytest.mark.parametrize("mode", ["L", "LA"])
def test_grey_modes_come_back_as_their_bands(mode: str) -> None:
    rng = np.random.default_rng(2)
    px = rng.integers(0, 256, (33, 47, classical.BANDS[mode]), dtype=np.uint8)
    roundtrip(px, mode)


def test_p_index_plane_of_an_icon_with_transparency() -> None:
    with Image.open(IMAGES / "icon_p_48x48.png") as img:
        assert img.mode == "P"
        assert "transparency" in img.info
        idx = np.asarray(img)[:, :, None]
    streams = roundtrip(idx, "P", effort=9)
    assert len(streams[0]) < (IMAGES / "icon_p_48x48.png").stat().st_size


@pytest.mark.parametrize("effort", [1, 9])
def test_mode_1_plane(effort: int) -> None:
    img = Image.fromarray(screenshot()).convert("L").point(lambda v: 255 * (v > 90)).convert("1")
    plane = np.asarray(img).astype(np.uint8)[:, :, None]
    assert set(np.unique(plane)) <= {0, 1}
    roundtrip(plane, "1", effort)
    # np.asarray of a mode-1 image is bool whose True bytes are 255, not 1: the coder
    # takes it (cast by value) and gives back the 0/1 plane
    as_bool = np.asarray(img)[:, :, None]
    assert as_bool.dtype == np.bool_
    (stream,) = CODER.encode_tile(as_bool, "1", EncodeOptions(effort=effort))
    np.testing.assert_array_equal(CODER.decode_tile([stream], "1", 96, 160), plane)


def test_mode_1_refuses_0_255() -> None:
    with pytest.raises(ValueError, match="0 and 1"):
        CODER.encode_tile(np.full((4, 4, 1), 255, np.uint8), "1", EncodeOptions())


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 517), (517, 3)])
def test_odd_sizes(mode: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    high = 2 if mode == "1" else 256
    px = rng.integers(0, high, (*shape, classical.BANDS[mode]), dtype=np.uint8)
    roundtrip(px, mode, effort=9)


def test_stream_count_and_unknown_mode() -> None:
    assert CODER.stream_count("RGB", 512, 512) == 1
    with pytest.raises(ValueError, match="no mode"):
        CODER.stream_count("CMYK", 4, 4)


def test_bad_shape_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        CODER.encode_tile(np.zeros((4, 4, 3), np.uint8), "RGBA", EncodeOptions())


def test_damaged_stream_raises() -> None:
    px = screenshot()
    (stream,) = CODER.encode_tile(px, "RGB", EncodeOptions(effort=3))
    bad_signature = stream[:1] + b"\x00" + stream[2:]  # VP8L's signature byte 0x2f
    with pytest.raises(CorruptStreamError, match="does not decode"):
        CODER.decode_tile([bad_signature], "RGB", *px.shape[:2])
    with pytest.raises(CorruptStreamError, match="does not decode"):
        CODER.decode_tile([stream[: len(stream) // 2]], "RGB", *px.shape[:2])


def test_flipped_bits_raise_or_give_a_tile_of_the_right_shape() -> None:
    # libwebp may decode damaged entropy codes into other pixels: the container's
    # checksum catches those; what the coder must never do is crash or change shape.
    px = screenshot()
    (stream,) = CODER.encode_tile(px, "RGB", EncodeOptions(effort=3))
    rng = np.random.default_rng(5)
    for _ in range(20):
        damaged = bytearray(stream)
        for i in rng.integers(1, len(damaged), 3):
            damaged[i] ^= 1 << int(rng.integers(0, 8))
        try:
            out = CODER.decode_tile([bytes(damaged)], "RGB", *px.shape[:2])
        except CorruptStreamError:
            continue
        assert out.shape == px.shape
        assert out.dtype == np.uint8


@pytest.mark.parametrize(
    ("streams", "match"),
    [([], "1 stream"), ([b""], "empty"), ([b"\x07abc"], "unknown"), ([b"\x01"], "decode")],
)
def test_malformed_streams_raise(streams: list[bytes], match: str) -> None:
    with pytest.raises(CorruptStreamError, match=match):
        CODER.decode_tile(streams, "RGB", 4, 4)


def test_header_claiming_another_size_raises() -> None:
    px = screenshot()
    (stream,) = CODER.encode_tile(px, "RGB", EncodeOptions(effort=1))
    with pytest.raises(CorruptStreamError, match="holds 160x96, the tile is 160x95"):
        CODER.decode_tile([stream], "RGB", 95, 160)
    # a bitstream whose own header says 161 wide: rewrite VP8L's 14-bit width field
    bits = int.from_bytes(stream[2:6], "little")
    bits = (bits & ~0x3FFF) | 160  # width - 1 = 160
    forged = stream[:2] + struct.pack("<I", bits) + stream[6:]
    with pytest.raises(CorruptStreamError, match="holds 161x96"):
        CODER.decode_tile([forged], "RGB", 96, 160)


def test_rgb_stream_read_as_rgba_tile_is_checked() -> None:
    rng = np.random.default_rng(4)
    px = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    (stream,) = CODER.encode_tile(px, "RGBA", EncodeOptions(effort=1))
    with pytest.raises(CorruptStreamError, match="decodes as mode RGBA"):
        CODER.decode_tile([stream], "RGB", 16, 16)


def test_grey_stream_with_colour_raises() -> None:
    (stream,) = CODER.encode_tile(screenshot(), "RGB", EncodeOptions(effort=1))
    with pytest.raises(CorruptStreamError, match="R, G and B not equal"):
        CODER.decode_tile([stream], "L", 96, 160)


def test_stream_is_webp_without_riff_header() -> None:
    px = screenshot()
    (stream,) = CODER.encode_tile(px, "RGB", EncodeOptions(effort=9))
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "WEBP", lossless=True, quality=100, method=6, exact=True)
    assert stream[0] == classical.TAG_VP8L
    webp = buf.getvalue()
    (n,) = struct.unpack_from("<I", webp, 16)
    assert stream[1:] == webp[20 : 20 + n]  # the VP8L chunk's payload, RIFF rebuilt on read


def test_prefers_classical_on_screenshot_and_photo() -> None:
    assert classical.prefers_classical(screenshot(), "RGB") is True
    assert classical.prefers_classical(photo(), "RGB") is not True
    for mode in ("P", "1"):
        assert classical.prefers_classical(np.zeros((64, 64, 1), np.uint8), mode) is True


def test_a_pillow_without_webp_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import features

    from pillow_l3c.errors import L3cError

    (stream,) = CODER.encode_tile(screenshot(), "RGB", EncodeOptions(effort=1))
    monkeypatch.setattr(features, "check", lambda name: name != "webp")
    with pytest.raises(L3cError, match=r"^this Pillow has no WebP support"):
        CODER.decode_tile([stream], "RGB", *screenshot().shape[:2])
    with pytest.raises(L3cError, match=r"^this Pillow has no WebP support"):
        CODER.encode_tile(screenshot(), "RGB", EncodeOptions())
