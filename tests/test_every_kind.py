"""Every kind of image through the tile coders: palettes, bilevel, screenshots, photos
inside screenshots, icons; and what format 3 promises about them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import pillow_l3c
from pillow_l3c import _codec, _format
from pillow_l3c.tile_coders.base import CLASSICAL, LEARNED

from .conftest import IMAGES


def _saved(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "L3C", **params)
    return out.getvalue()


def _reopened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_a_palette_image_keeps_indices_palette_and_transparency() -> None:
    with Image.open(IMAGES / "icon_p_48x48.png") as src:
        src.load()
    assert src.mode == "P"
    assert "transparency" in src.info
    data = _saved(src)
    im = _reopened(data)
    assert (im.mode, im.size) == ("P", src.size)
    assert im.tobytes() == src.tobytes()  # the indices
    assert im.palette.mode == src.palette.mode
    assert im.getpalette(src.palette.mode) == src.getpalette(src.palette.mode)
    assert im.info["transparency"] == src.info["transparency"]
    assert im.convert("RGBA").tobytes() == src.convert("RGBA").tobytes()
    header = _format.parse_header(data)
    assert [m.kind for m in header.methods] == [CLASSICAL]  # no model codes indices


def test_a_palette_with_one_transparent_index() -> None:
    image = Image.new("P", (40, 24), 3)
    image.putpalette(bytes(range(48)))
    image.paste(7, (5, 5, 20, 12))
    image.info["transparency"] = 7
    im = _reopened(_saved(image))
    assert im.tobytes() == image.tobytes()
    assert im.info["transparency"] == 7
    assert im.getpalette()[:48] == list(range(48))


def test_a_palette_of_rgba_entries_loads_with_its_alphas() -> None:
    image = Image.new("P", (20, 12), 1)
    image.paste(3, (2, 2, 9, 7))
    image.putpalette(bytes(range(16)), "RGBA")  # 4 entries, alpha in each
    im = _reopened(_saved(image))
    assert im.tobytes() == image.tobytes()
    assert im.palette.mode == "RGBA"
    assert im.getpalette("RGBA") == image.getpalette("RGBA")
    assert im.convert("RGBA").tobytes() == image.convert("RGBA").tobytes()
    crop = Image.open(io.BytesIO(_saved(image))).crop((1, 1, 10, 8))
    assert crop.convert("RGBA").tobytes() == image.crop((1, 1, 10, 8)).convert("RGBA").tobytes()


def _palette_file(plte: bytes, trns: bytes | None = None) -> bytes:
    """A 5x6 P file of one classical tile, with these PLTE and TRNS payloads."""
    from pillow_l3c.tile_coders.classical import ClassicalCoder

    coder, indices = ClassicalCoder(), np.zeros((6, 5, 1), np.uint8)
    streams = coder.encode_tile(indices, "P", _codec.EncodeOptions())
    sections = [(_format.PALETTE_TAG, plte)] + ([(_format.TRANSPARENCY_TAG, trns)] if trns else [])
    header = _format.Header(5, 6, "P", 8, len(sections), (coder.method,))
    tile = _format.pack_tile(0, coder.checksums(indices), streams)
    return (
        header.pack()
        + b"".join(_format.pack_section(*s) for s in sections)
        + _format.pack_section(_format.TILE_TAG, tile)
    )


@pytest.mark.parametrize(
    ("plte", "trns"),
    [
        (b"\0" + bytes(3 * 257), None),  # 257 entries
        (b"\1" + bytes(6), None),  # RGBA entries of 4 bytes, 6 bytes
        (b"\2" + bytes(3), None),  # an unknown palette mode
        (b"\0" + bytes(12), b"\0\1\x2c"),  # transparent index 300: no index is
        (b"\0" + bytes(12), b"\2"),  # an unknown kind of transparency
    ],
    ids=["257-entries", "rgba-6-bytes", "palette-mode-2", "index-300", "trns-kind-2"],
)
def test_a_damaged_palette_or_transparency_is_corrupt_on_every_path(
    plte: bytes, trns: bytes | None
) -> None:
    data = _palette_file(plte, trns)
    with pytest.raises(pillow_l3c.CorruptStreamError, match=r"L3C (palette|transparency) section"):
        pillow_l3c.decode(data)
    with pytest.raises(pillow_l3c.CorruptStreamError, match=r"L3C (palette|transparency) section"):
        pillow_l3c.read_metadata(data)
    with pytest.raises(OSError, match="cannot identify"):
        Image.open(io.BytesIO(data))


@pytest.mark.parametrize("transparency", [-1, 256, bytes(257)])
def test_a_transparency_no_reader_takes_is_refused_when_saving(
    transparency: int | bytes,
) -> None:
    image = Image.new("P", (4, 4))
    image.putpalette(bytes(12))
    with pytest.raises(ValueError, match="transparency of a P image is an index from 0 to 255"):
        _saved(image, transparency=transparency)


def test_a_bilevel_image_is_stored_exactly() -> None:
    rng = np.random.default_rng(3)
    bits = rng.random((37, 53)) > 0.7
    image = Image.fromarray(bits)
    assert image.mode == "1"
    im = _reopened(_saved(image))
    assert im.mode == "1"
    assert im.tobytes() == image.tobytes()
    np.testing.assert_array_equal(np.asarray(im), bits)
    cropped = Image.open(io.BytesIO(_saved(image))).crop((3, 4, 30, 20))
    assert cropped.mode == "1"
    assert cropped.tobytes() == image.crop((3, 4, 30, 20)).tobytes()


def test_a_screenshot_is_coded_classically_in_one_large_tile() -> None:
    with Image.open(IMAGES / "terminal_160x96.png") as src:
        screenshot = src.convert("RGB")
    data = _saved(screenshot)
    header = _format.parse_header(data)
    assert [m.describe() for m in header.methods] == ["webp-lossless"]
    assert header.tile_size == _codec.SYNTHETIC_TILE
    assert _reopened(data).tobytes() == screenshot.tobytes()
    learned = _saved(screenshot, coder="learned")
    png = io.BytesIO()
    screenshot.save(png, "PNG", optimize=True)
    assert len(data) < len(png.getvalue()) < len(learned)


def test_a_photo_inside_a_screenshot_mixes_methods_tile_by_tile(storm: np.ndarray) -> None:
    """A UI of flat colour around a photo: the flat tiles go to the classical coder,
    the photo's to the model, in one file whose method table lists both."""
    canvas = np.full((192, 384, 3), (236, 236, 240), np.uint8)
    canvas[:, 192:] = storm[:, :192]
    canvas[10:20, 10:180] = (40, 90, 200)  # a toolbar
    data = pillow_l3c.encode(canvas, tile_size=64)
    header = _format.parse_header(data)
    assert [m.kind for m in header.methods] == [LEARNED, CLASSICAL]
    fp = io.BytesIO(data)
    _codec.read_header(fp)
    used = [_format.unpack_tile(_format.read_tile(fp)).method for _ in header.tiles()]
    columns = header.columns
    assert {used[r * columns + c] for r in range(header.rows) for c in range(3)} == {1}
    assert {used[r * columns + c] for r in range(header.rows) for c in range(3, 6)} == {0}
    np.testing.assert_array_equal(pillow_l3c.decode(data), canvas)
    # forcing one kind costs bits either way
    assert len(data) < len(pillow_l3c.encode(canvas, tile_size=64, coder="learned"))
    assert len(data) < len(pillow_l3c.encode(canvas, tile_size=64, coder="classical"))


def test_photos_go_to_the_model_alone(storm: np.ndarray) -> None:
    data = pillow_l3c.encode(storm)
    assert data == pillow_l3c.encode(storm, coder="learned")  # not a bit more
    assert [m.kind for m in _format.parse_header(data).methods] == [LEARNED]


def test_an_icon_costs_little_more_than_its_png() -> None:
    with Image.open(IMAGES / "icon_p_48x48.png") as src:
        src.load()
        png = io.BytesIO()
        src.save(png, "PNG", optimize=True)
        rgba = src.convert("RGBA")
    data = _saved(src)
    assert len(data) <= len(png.getvalue()) + 64
    rgba_png = io.BytesIO()
    rgba.save(rgba_png, "PNG", optimize=True)
    assert len(_saved(rgba)) <= len(rgba_png.getvalue())


def test_a_file_of_classical_tiles_decodes_without_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    with Image.open(IMAGES / "terminal_160x96.png") as src:
        (tmp_path / "t.l3c").write_bytes(_saved(src.convert("RGB")))
    code = (
        "import sys, pillow_l3c\n"
        "from PIL import Image\n"
        f"im = Image.open({str(tmp_path / 't.l3c')!r}); im.load()\n"
        "assert im.size == (160, 96)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_newer_format_is_an_os_error_that_says_so(small_l3c: bytes) -> None:
    newer = bytearray(small_l3c)
    newer[_format.HEADER_FIELDS["version"]] = (4).to_bytes(2, "big")
    message = "written by a newer pillow-l3c (format 4); this one reads formats 2 and 3"
    with pytest.raises(OSError, match=r"^written by a newer pillow-l3c \(format 4\)") as raised:
        Image.open(io.BytesIO(bytes(newer)))
    assert str(raised.value) == message
    assert not isinstance(raised.value, SyntaxError)
    with pytest.raises(_format.NewerFormatError, match="format 4"):
        pillow_l3c.decode(bytes(newer))


def test_a_tile_naming_a_method_the_file_lacks_is_corrupt(small_l3c: bytes) -> None:
    import zlib

    data = bytearray(small_l3c)
    start = _format.header_size(small_l3c) + _format.SECTION_HEAD_BYTES
    data[start] = 5  # the tile's method index: the table has one entry
    data[-4:] = zlib.crc32(bytes(data[start:-4]), zlib.crc32(b"TILE")).to_bytes(4, "big")
    with pytest.raises(pillow_l3c.CorruptStreamError, match="names coding method 5; the file"):
        pillow_l3c.decode(bytes(data))


@pytest.mark.parametrize("mode", ["P", "1"])
def test_a_learned_tile_in_a_palette_or_bilevel_file_is_corrupt(
    small_l3c: bytes, mode: str
) -> None:
    model = _format.parse_header(small_l3c).methods[0]
    sections = [(_format.PALETTE_TAG, bytes(4))] if mode == "P" else []
    header = _format.Header(8, 8, mode, 8, len(sections), (model,))
    tile = _format.pack_section(_format.TILE_TAG, _format.pack_tile(0, [0], [b"x"] * 3))
    data = header.pack() + b"".join(_format.pack_section(*s) for s in sections) + tile
    with pytest.raises(pillow_l3c.CorruptStreamError, match=f"mode {mode} lists a learned model"):
        pillow_l3c.decode(data)
    with pytest.raises(UnidentifiedImageError):  # a damaged header, as for PNG's
        Image.open(io.BytesIO(data))


def test_unknown_classical_coders_are_named() -> None:
    from pillow_l3c.tile_coders.base import Method

    header = _format.Header(8, 8, "RGB", 8, 0, (Method.classical("qoi-2099"),))
    tile = _format.pack_section(_format.TILE_TAG, _format.pack_tile(0, [0], [b"x"]))
    with pytest.raises(pillow_l3c.CorruptStreamError, match="'qoi-2099', which this version"):
        pillow_l3c.decode(header.pack() + tile)


@pytest.mark.parametrize("effort", [1, 9])
def test_effort_never_changes_the_pixels(effort: int) -> None:
    with Image.open(IMAGES / "terminal_160x96.png") as src:
        screenshot = src.convert("RGB")
    assert _reopened(_saved(screenshot, effort=effort)).tobytes() == screenshot.tobytes()


def test_bad_effort_and_coder_are_refused() -> None:
    image = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError, match=r"^effort must be an int from 1 to 9, got 0$"):
        _saved(image, effort=0)
    with pytest.raises(ValueError, match=r'^coder must be "auto", "learned" or "classical"'):
        _saved(image, coder="jpeg")


def test_a_palette_transparency_is_kept_not_warned_about() -> None:
    import warnings

    from pillow_l3c.errors import MetadataNotKeptWarning

    with Image.open(IMAGES / "icon_p_48x48.png") as src:
        src.load()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetadataNotKeptWarning)
        data = _saved(src)
    assert _reopened(data).info["transparency"] == src.info["transparency"]


@pytest.mark.parametrize("entries", [0, 1, 5, 256])
def test_rgba_palettes_of_any_length(entries: int) -> None:
    """Found by the fuzzer: an RGBA palette (or an empty one) failed at load with
    Pillow's "unrecognized raw mode"."""
    image = Image.new("P", (8, 6), 0)
    rgba = bytes(range(256)) * 4
    image.putpalette(rgba[: 4 * entries], "RGBA")
    if entries:
        image.putpixel((2, 3), entries - 1)
    im = _reopened(_saved(image))
    assert im.tobytes() == image.tobytes()
    assert im.palette.mode == image.palette.mode
    assert im.getpalette("RGBA") == image.getpalette("RGBA")
    assert im.convert("RGBA").tobytes() == image.convert("RGBA").tobytes()


def test_a_palette_file_naming_a_learned_model_is_corrupt(small_l3c: bytes) -> None:
    """Found by the fuzzer: a bilevel or P header with a learned method reached the
    model's stream count with a mode it has no layers for (a KeyError)."""
    import zlib

    data = bytearray(small_l3c)
    data[_format.HEADER_FIELDS["mode"]] = bytes([_format.MODES["1"][0]])
    size = _format.header_size(bytes(data))
    data[size - 4 : size] = zlib.crc32(bytes(data[: size - 4])).to_bytes(4, "big")
    with pytest.raises(pillow_l3c.CorruptStreamError, match="mode 1 lists a learned model"):
        pillow_l3c.decode(bytes(data))
    with pytest.raises(OSError, match=r"cannot identify|mode 1 lists a learned model"):
        Image.open(io.BytesIO(bytes(data))).load()
