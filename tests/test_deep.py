"""16 bits per sample: exact round trips of every mode and path, the bits a tile uses,
the two ways of coding low bits, Pillow's 16-bit modes, and damaged 16-bit tiles."""

from __future__ import annotations

import io
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pillow_l3c
from pillow_l3c import _codec, _deep_files, _depth, _format, _low_bits
from pillow_l3c.cli import main
from pillow_l3c.errors import CorruptStreamError, L3cError

IMAGES = Path(__file__).parent / "images"
GOLDEN = Path(__file__).parent / "golden" / "v3" / "deep"


def _storm() -> np.ndarray:
    with Image.open(IMAGES / "storm_256x192.png") as im:
        return np.asarray(im.convert("RGB"))


def noisy16(bands: int = 3, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A photo as 16-bit samples whose low bytes are noise around a smooth signal: the
    kind of tile whose low bits are predicted, not looked up."""
    photo = _storm()[: size[0], : size[1]].astype(np.int64)
    rng = np.random.default_rng(16)
    v = photo * 256 + rng.integers(0, 256, photo.shape)
    v = np.clip(v, 0, 65535).astype(np.uint16)
    if bands == 1:
        return v[:, :, 1]
    if bands == 2:
        return np.stack([v[:, :, 1], v[:, :, 0]], axis=-1)
    if bands == 4:
        return np.concatenate([v, v[:, :, :1] // 2], axis=-1)
    return v


@pytest.mark.parametrize("bands", [1, 2, 3, 4])
def test_every_band_count_round_trips_as_uint16(bands: int) -> None:
    pixels = noisy16(bands)
    data = pillow_l3c.encode(pixels, tile_size=64)
    assert _format.parse_header(data).bits == 16
    back = pillow_l3c.decode(data)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, pixels)


def test_both_byte_orders_are_stored_by_value() -> None:
    pixels = noisy16(3, (40, 48))
    swapped = pixels.astype(">u2")
    assert pillow_l3c.encode(swapped) == pillow_l3c.encode(pixels)


def test_twelve_bits_cost_what_twelve_bits_cost_wherever_they_sit() -> None:
    right = (noisy16(3) >> 4).astype(np.uint16)  # values 0 .. 4095
    left = right << 4  # the same samples in the high 12 bits
    sizes = [len(pillow_l3c.encode(a, tile_size=64)) for a in (right, left)]
    assert sizes[0] == sizes[1]  # only each tile's shift byte differs
    assert sizes[0] < 0.8 * len(pillow_l3c.encode(noisy16(3), tile_size=64))
    for a in (right, left):
        np.testing.assert_array_equal(pillow_l3c.decode(pillow_l3c.encode(a)), a)


def test_eight_bits_times_257_costs_about_the_eight_bit_image() -> None:
    photo = _storm()[:96, :128]
    deep = photo.astype(np.uint16) * 257  # what most tools make of an 8-bit image
    data = pillow_l3c.encode(deep)
    np.testing.assert_array_equal(pillow_l3c.decode(data), deep)
    assert len(data) < 1.01 * len(pillow_l3c.encode(photo)) + 300  # the lookup table


def test_plans_find_the_bits_a_tile_uses() -> None:
    zeros = np.zeros((8, 8, 1), np.uint16)
    assert _depth.plan(zeros)[0] == _depth.Plan(0, 0, _depth.NONE)
    small = np.arange(64, dtype=np.uint16).reshape(8, 8, 1) * 4  # 0 .. 252: 8 bits
    assert _depth.plan(small)[0] == _depth.Plan(2, 6, _depth.NONE)
    twelve = (np.arange(64, dtype=np.uint16).reshape(8, 8, 1) * 61) << 4
    assert _depth.plan(twelve)[0].shift == 4
    assert _depth.plan(twelve)[0].bits == 12
    assert _depth.plan(twelve)[0].method == _depth.LOOKUP  # 64 values: one per high byte
    assert _depth.plan(noisy16(1, (32, 32))[:, :, None])[0].method == _depth.PREDICTED


@pytest.mark.parametrize("k", [1, 3, 4, 5, 8])
def test_low_bits_round_trip_at_every_width(k: int) -> None:
    rng = np.random.default_rng(k)
    y, x = np.mgrid[0:37, 0:29]
    smooth = (y * 31 + x * 17)[:, :, None] * (1 << k) // 8
    values = (smooth + rng.integers(0, 1 << k, (37, 29, 2))).astype(np.int64)
    streams = _low_bits.encode(values, k)
    assert len(streams) == _low_bits.stream_count(k)
    np.testing.assert_array_equal(_low_bits.decode(streams, values >> k, k), values)


def test_low_bits_of_a_smooth_image_cost_less_than_stored() -> None:
    y, x = np.mgrid[0:64, 0:64]
    values = ((y * 700 + x * 300) // 3)[:, :, None].astype(np.int64)  # a 16-bit ramp
    bits = 8 * sum(map(len, _low_bits.encode(values, 8))) / values.size
    assert bits < 3  # of 8 stored


def test_one_pixel_and_one_row_tiles() -> None:
    for shape in [(1, 1, 3), (1, 37, 1), (29, 1, 2), (9, 9, 4)]:
        pixels = np.random.default_rng(1).integers(0, 65536, shape).astype(np.uint16)
        data = pillow_l3c.encode(pixels.squeeze(axis=2) if shape[2] == 1 else pixels)
        back = pillow_l3c.decode(data)
        np.testing.assert_array_equal(back.reshape(shape), pixels)


def test_screen_content_in_16_bits_goes_to_the_classical_coder() -> None:
    with Image.open(IMAGES / "terminal_160x96.png") as im:
        screen = np.asarray(im.convert("RGB")).astype(np.uint16) * 257
    data = pillow_l3c.encode(screen)
    kinds = {m.kind for m in _format.parse_header(data).methods}
    assert kinds == {2}  # classical only
    np.testing.assert_array_equal(pillow_l3c.decode(data), screen)


def test_p_and_1_have_no_16_bit_form() -> None:
    with pytest.raises(ValueError, match="P needs a uint8 array"):
        _codec.encode(np.zeros((4, 4, 1), np.uint16), "P", {b"PLTE": bytes(4)})
    with pytest.raises(ValueError, match="cannot store mode P with 16 bits per sample"):
        _codec.file_head(4, 4, "P", {b"PLTE": b"\x00" * 4}, _codec.options(), bits=16)


# --- Pillow ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L"])
def test_pillow_16_bit_grey_saves_and_opens_as_i16(tmp_path: Path, mode: str) -> None:
    grey = noisy16(1)
    im = Image.frombytes(mode, grey.shape[::-1], grey.astype(_endian(mode)).tobytes())
    im.save(tmp_path / "g.l3c")
    with Image.open(tmp_path / "g.l3c") as back:
        assert back.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(back), grey)


def _endian(mode: str) -> str:
    return ">u2" if mode.endswith("B") else "<u2"


def test_pillow_mode_i_is_stored_when_it_fits_16_bits(tmp_path: Path) -> None:
    grey = noisy16(1)
    Image.fromarray(grey.astype(np.int32)).save(tmp_path / "i.l3c")
    with Image.open(tmp_path / "i.l3c") as back:
        assert back.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(back), grey)
    wide = Image.fromarray(np.array([[0, 70000]], np.int32))
    with pytest.raises(OSError, match="samples from 0 to 70000 do not fit 16 bits"):
        wide.save(tmp_path / "wide.l3c")
    assert not (tmp_path / "wide.l3c").exists() or (tmp_path / "wide.l3c").stat().st_size == 0


def test_pillow_refuses_16_bit_colour_it_has_no_mode_for(tmp_path: Path) -> None:
    (tmp_path / "c.l3c").write_bytes(pillow_l3c.encode(noisy16(3, (16, 16))))
    with pytest.raises(L3cError, match="RGB of 16 bits per sample, which Pillow has no mode"):
        Image.open(tmp_path / "c.l3c")


def test_pillow_thumbnail_crop_and_verify_of_16_bit_grey(tmp_path: Path) -> None:
    grey = noisy16(1)
    (tmp_path / "g.l3c").write_bytes(pillow_l3c.encode(grey, tile_size=64))
    with Image.open(tmp_path / "g.l3c") as im:
        np.testing.assert_array_equal(np.asarray(im.crop((60, 10, 100, 90))), grey[10:90, 60:100])
    with Image.open(tmp_path / "g.l3c") as im:
        im.thumbnail((32, 24))
        assert im.mode == "I;16"
        assert im.size == (32, 24)
    with Image.open(tmp_path / "g.l3c") as im:
        im.draft("I;16", (32, 24))
        np.testing.assert_array_equal(np.asarray(im), grey[::4, ::4])
    with Image.open(tmp_path / "g.l3c") as im:
        im.verify()


# --- imageio, the command line ------------------------------------------------------------


def test_imageio_writes_and_reads_uint16(tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    pixels = noisy16(4, (40, 56))
    iio.imwrite(tmp_path / "x.l3c", pixels)
    assert iio.improps(tmp_path / "x.l3c").dtype == np.uint16
    iio.imwrite(tmp_path / "g.l3c", pixels[:, :, 0])
    assert iio.immeta(tmp_path / "g.l3c")["mode"] == "I;16"  # as imageio's Pillow plugin says
    back = iio.imread(tmp_path / "x.l3c")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, pixels)


def test_cli_codes_16_bit_grey_png_exactly(tmp_path: Path) -> None:
    grey = noisy16(1)
    Image.fromarray(grey).save(tmp_path / "g.png")
    assert main(["encode", str(tmp_path / "g.png"), "-o", str(tmp_path / "l3c"), "-q"]) == 0
    out = tmp_path / "back"
    assert main(["decode", str(tmp_path / "l3c" / "g.l3c"), "-o", str(out), "-q"]) == 0
    with Image.open(out / "g.png") as back:
        assert back.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(back), grey)


def _sixteen_bit_png(path: Path) -> tuple[np.ndarray, dict[str, object]]:
    """A 16-bit RGB PNG with an ICC profile, EXIF, text and dpi; its pixels and info."""
    from PIL import ImageCms, PngImagePlugin

    imagecodecs = pytest.importorskip("imagecodecs")
    pixels = imagecodecs.png_decode((IMAGES / "ladybird_rgb16_32x24.png").read_bytes())
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "a photographer")
    text.add_itxt("Beschreibung", "ein Marienk\u00e4fer", "de")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    params = {"icc_profile": icc, "pnginfo": text, "dpi": (300, 300), "exif": exif.tobytes()}
    _deep_files.write_png(path, pixels, params)
    with Image.open(path) as im:
        return pixels, dict(im.info)


def test_cli_codes_16_bit_colour_exactly_with_its_metadata(tmp_path: Path) -> None:
    imagecodecs = pytest.importorskip("imagecodecs")
    pixels, info = _sixteen_bit_png(tmp_path / "c.png")
    assert main(["encode", str(tmp_path / "c.png"), "-o", str(tmp_path / "l3c"), "-q"]) == 0
    np.testing.assert_array_equal(
        pillow_l3c.decode((tmp_path / "l3c" / "c.l3c").read_bytes()), pixels
    )
    assert (
        main(["decode", str(tmp_path / "l3c" / "c.l3c"), "-o", str(tmp_path / "back"), "-q"]) == 0
    )
    back = tmp_path / "back" / "c.png"
    np.testing.assert_array_equal(imagecodecs.png_decode(back.read_bytes()), pixels)
    with Image.open(back) as im:
        assert {k: im.info.get(k) for k in info} == info  # ICC, EXIF, text, dpi


def test_cli_reads_16_bit_colour_tiff(tmp_path: Path) -> None:
    imagecodecs = pytest.importorskip("imagecodecs")
    rgba = noisy16(4, (24, 40))
    (tmp_path / "t.tif").write_bytes(imagecodecs.tiff_encode(rgba))
    assert main(["encode", str(tmp_path / "t.tif"), "-o", str(tmp_path), "-q"]) == 0
    np.testing.assert_array_equal(pillow_l3c.decode((tmp_path / "t.l3c").read_bytes()), rgba)


def test_cli_writes_16_bit_colour_as_png_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.l3c").write_bytes(pillow_l3c.encode(noisy16(3, (16, 16))))
    assert main(["decode", str(tmp_path / "c.l3c"), "-o", str(tmp_path / "c.tiff"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"l3c: error: {tmp_path / 'c.l3c'}: a 16-bit RGB image is written as PNG only "
        "(Pillow writes no 16-bit colour, and this tool writes PNG itself), not TIFF"
    )
    assert not (tmp_path / "c.tiff").exists()


def test_cli_refuses_16_bit_colour_without_imagecodecs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import raises ImportError
    src = IMAGES / "ladybird_rgb16_32x24.png"
    assert main(["encode", str(src), "-o", str(tmp_path), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        (
            f"l3c: error: {src}: it has 16 bits per sample (RGB;16B), which Pillow reads as "
            "8 bits (Pillow keeps 16 bits only in grey); to code it exactly, install "
            "imagecodecs (pip install imagecodecs), or store it with pillow_l3c.encode from "
            "a uint16 array"
        )
    ]
    assert not list(tmp_path.iterdir())


# --- damage ----------------------------------------------------------------------------


def _edit_streams(data: bytes, edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """The one-tile file ``data`` with its tile's streams edited and every CRC resealed."""
    fp = io.BytesIO(data)
    _codec.read_header(fp)
    start = fp.tell()
    content = _format.unpack_tile(_format.read_tile(fp))
    payload = _format.pack_tile(content.method, list(content.checksums), edit(content.streams))
    return data[:start] + _format.pack_section(_format.TILE_TAG, payload)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: [bytes([9, 9, 1]), *s[1:]], "claims 9 bits shifted by 9"),
        (lambda s: [bytes([0, 16, 0]), *s[1:]], "low-bits method 0 for 8 low bits"),
        (lambda s: [bytes([0, 16, 7]), *s[1:]], "low-bits method 7"),
        (lambda s: [s[0] + b"x", *s[1:]], "bytes after its depth"),
        (lambda s: [b"\x00", *s[1:]], "fewer than 3 bytes"),
        (lambda s: [bytes([0, 16, 2]) + b"junk", *s[1:]], "damaged low-bits table"),
        (lambda s: s[:-1], "streams, expected"),
        (lambda s: [*s[:-1], b""], "low bits do not decode: an empty low-bits stream"),
        (lambda s: [*s[:-1], b"\x77" + s[-1][1:]], "names scale 119"),
        (lambda s: [s[0], *s[1:-1], b"\xff" + b"\x00" * 3], "low bits do not decode"),
        (lambda s: [s[0], *s[1:-1], s[-1][:1] + bytes(len(s[-1]) - 1)], "checksum|decode"),
    ],
)
def test_damaged_16_bit_tiles_raise(edit: Callable[[list[bytes]], list[bytes]], match: str) -> None:
    data = pillow_l3c.encode(noisy16(3, (40, 48)), coder="learned")
    with pytest.raises(CorruptStreamError, match=match):
        pillow_l3c.decode(_edit_streams(data, edit))


def test_mutated_16_bit_files_never_decode_to_other_pixels() -> None:
    pixels = noisy16(1, (24, 32))
    data = pillow_l3c.encode(pixels, coder="learned")
    rng = np.random.default_rng(5)
    for _ in range(150):

        def mutate(streams: list[bytes]) -> list[bytes]:
            i = int(rng.integers(len(streams)))
            s = bytearray(streams[i])
            if s:
                s[int(rng.integers(len(s)))] ^= 1 << int(rng.integers(8))
            return [*streams[:i], bytes(s), *streams[i + 1 :]]

        damaged = _edit_streams(data, mutate)
        try:
            back = pillow_l3c.decode(damaged)
        except CorruptStreamError:
            continue
        np.testing.assert_array_equal(back, pixels)  # a flip the coder never reads


# --- golden files ----------------------------------------------------------------------


GOLDEN_CASES = ["noisy_rgb16_tiles", "twelve_left_grey", "times257_rgb"]


def golden_pixels() -> dict[str, tuple[np.ndarray, dict[str, int]]]:
    photo = _storm()[:64, :96]
    return {
        "noisy_rgb16_tiles": (noisy16(3, (64, 96)), {"tile_size": 32}),
        "twelve_left_grey": ((noisy16(1, (64, 96)) >> 4 << 4).astype(np.uint16), {}),
        "times257_rgb": (photo.astype(np.uint16) * 257, {}),
    }


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_16_bit_golden_files_decode_and_are_written_byte_for_byte(name: str) -> None:
    """Committed 16-bit files keep decoding, and today's encoder writes their bytes."""
    pixels, params = golden_pixels()[name]
    np.testing.assert_array_equal(np.load(GOLDEN / f"{name}.npy"), pixels)
    data = (GOLDEN / f"{name}.l3c").read_bytes()
    np.testing.assert_array_equal(pillow_l3c.decode(data), pixels)
    assert pillow_l3c.encode(pixels, coder="learned", **params) == data


def make_golden_files(folder: Path = GOLDEN) -> None:
    """Writes the 16-bit golden files (once per change of the 16-bit format)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (pixels, params) in golden_pixels().items():
        np.save(folder / f"{name}.npy", pixels)
        (folder / f"{name}.l3c").write_bytes(pillow_l3c.encode(pixels, coder="learned", **params))


def test_dask_writes_and_opens_16_bit_arrays(tmp_path: Path) -> None:
    da = pytest.importorskip("dask.array")
    from pillow_l3c import dask_array

    pixels = noisy16(3)
    dask_array.to_l3c(
        da.from_array(pixels, chunks=(32, 32, 3)), str(tmp_path / "d.l3c"), tile_size=64
    )
    data = (tmp_path / "d.l3c").read_bytes()
    assert data == pillow_l3c.encode(pixels, tile_size=64)  # byte for byte one process's
    lazy = dask_array.open_array(str(tmp_path / "d.l3c"))
    assert lazy.dtype == np.uint16
    np.testing.assert_array_equal(lazy[10:70, 50:120].compute(), pixels[10:70, 50:120])


def test_cli_reads_a_16_bit_ppm_exactly(tmp_path: Path) -> None:
    """Pillow opens a PPM of more than 255 levels as 8-bit RGB: the tool reads it raw."""
    pixels = noisy16(3, (20, 24)) >> 4  # maxval 4095
    header = b"P6 24 20 4095\n"
    (tmp_path / "p.ppm").write_bytes(header + pixels.astype(">u2").tobytes())
    with Image.open(tmp_path / "p.ppm") as im:
        assert im.mode == "RGB"  # what Pillow alone would store
    assert main(["encode", str(tmp_path / "p.ppm"), "-o", str(tmp_path), "-q"]) == 0
    np.testing.assert_array_equal(pillow_l3c.decode((tmp_path / "p.l3c").read_bytes()), pixels)


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_cli_compare_takes_other_16_bit_grey_modes(
    tmp_path: Path, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    grey = noisy16(1, (24, 32))
    im = (
        Image.fromarray(grey.astype(np.int32))
        if mode == "I"
        else Image.frombytes(mode, (32, 24), grey.astype(">u2").tobytes())
    )
    im.save(tmp_path / "g.tif")
    assert main(["compare", str(tmp_path / "g.tif")]) == 0
    assert "round trip exact" in capsys.readouterr().out


def test_a_lookup_table_must_be_one_whole_zlib_stream() -> None:
    table = zlib.compress(bytes(256), 9)
    assert _depth.Plan.unpack(bytes([0, 12, 2]) + table, 1).method == _depth.LOOKUP
    for bad in (table + b"junk", table[:-2]):
        with pytest.raises(CorruptStreamError, match="damaged low-bits table"):
            _depth.Plan.unpack(bytes([0, 12, 2]) + bad, 1)


def test_a_tile_of_no_bits_must_decode_to_zeros() -> None:
    with pytest.raises(CorruptStreamError, match="values over its 0 bits"):
        _depth.join(_depth.Plan(0, 0, _depth.NONE), np.ones((2, 2, 1), np.uint8), [])


def test_imageio_takes_big_endian_uint16() -> None:
    iio = pytest.importorskip("imageio.v3")
    pixels = noisy16(3, (16, 16))
    data = iio.imwrite("<bytes>", pixels.astype(">u2"), extension=".l3c")
    np.testing.assert_array_equal(pillow_l3c.decode(data), pixels)


def test_numcodecs_byte_order_applies_to_16_bit_chunks_only() -> None:
    from pillow_l3c.numcodecs import L3C

    data = pillow_l3c.encode(np.zeros((8, 8), np.uint8), metadata={"numcodecs.dtype": ">u2"})
    assert L3C().decode(data).dtype == np.uint8


def test_cli_crops_16_bit_colour_to_png(tmp_path: Path) -> None:
    imagecodecs = pytest.importorskip("imagecodecs")
    pixels = noisy16(3)
    (tmp_path / "c.l3c").write_bytes(pillow_l3c.encode(pixels, tile_size=64))
    out = tmp_path / "part.png"
    assert main(["crop", str(tmp_path / "c.l3c"), "60,10,100,90", "-o", str(out)]) == 0
    np.testing.assert_array_equal(imagecodecs.png_decode(out.read_bytes()), pixels[10:90, 60:100])


def test_a_cluster_decode_task_writes_16_bit_colour_as_png() -> None:
    imagecodecs = pytest.importorskip("imagecodecs")
    pytest.importorskip("dask")
    from pillow_l3c import cluster

    pixels = noisy16(4, (24, 40))
    data = pillow_l3c.encode(pixels, metadata={"icc_profile": b"profile", "dpi": (300, 300)})
    png = cluster._decode(data, None, None, 1)
    np.testing.assert_array_equal(imagecodecs.png_decode(png), pixels)
    with Image.open(io.BytesIO(png)) as im:
        assert im.info["icc_profile"] == b"profile"
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)  # pHYs holds dots per metre
