"""The Pillow plugin with the bundled model, on real photo crops and edge cases."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, UnidentifiedImageError

import pillow_l3c
from pillow_l3c import _codec, _format, _model
from pillow_l3c._format import HEADER_FIELDS
from pillow_l3c.errors import CorruptStreamError, ModelMismatchError
from pillow_l3c.tile_coders import learned
from pillow_l3c.tile_coders.base import LEARNED, Method

from .conftest import IMAGES


def test_sanity(tmp_path: Path, photo: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    Image.fromarray(photo).save(path)
    with Image.open(path) as im:
        assert im.format == "L3C"
        assert im.format_description == "L3C learned lossless image"
        assert (im.mode, im.size) == ("RGB", (photo.shape[1], photo.shape[0]))
        assert Image.MIME["L3C"] == "image/x-l3c"
        np.testing.assert_array_equal(np.asarray(im), photo)


@pytest.mark.parametrize(("w", "h"), [(1, 1), (3, 5), (1, 300), (301, 1), (127, 129)])
def test_sizes_not_multiple_of_8(w: int, h: int) -> None:
    with Image.open(IMAGES / "storm_256x192.png") as src:
        base = np.asarray(src.convert("RGB").resize((max(w, 8), max(h, 8))))
    pixels = np.ascontiguousarray(base[:h, :w])
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="L3C")
    buf.seek(0)
    with Image.open(buf) as im:
        assert im.size == (w, h)
        np.testing.assert_array_equal(np.asarray(im), pixels)


def test_save_to_file_object_and_encoder_options(small_photo: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(small_photo).save(buf, format="L3C", device="cpu")
    assert buf.getvalue() == pillow_l3c.encode(small_photo)  # deterministic encoder


def test_open_reads_only_the_header(small_l3c: bytes) -> None:
    fp = io.BytesIO(small_l3c)
    with Image.open(fp) as im:
        assert fp.tell() <= 64 + _format.header_size(small_l3c)  # Pillow's prefix, no sections
        table = _format.FIXED_HEADER_BYTES + 1  # the method table's first id
        assert im.info["model_id"] == small_l3c[table : table + _format.MODEL_ID_BYTES].hex()


def test_import_and_open_do_not_import_torch(tmp_path: Path, small_l3c: bytes) -> None:
    path = tmp_path / "x.l3c"
    path.write_bytes(small_l3c)
    code = (
        "import sys, pillow_l3c; from PIL import Image; im = Image.open(sys.argv[1]); "
        "print(im.size, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "(64, 48) False"


@pytest.mark.parametrize("mode", ["PA", "F", "CMYK", "YCbCr", "LAB", "HSV"])
def test_other_modes_are_refused_before_writing(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "x.l3c"
    with pytest.raises(OSError, match=f"cannot write mode {mode} as L3C"):
        Image.new(mode, (8, 8)).save(path)
    assert not path.exists()
    buf = io.BytesIO()
    with pytest.raises(OSError, match=f"cannot write mode {mode} as L3C"):
        Image.new(mode, (8, 8)).save(buf, format="L3C")
    assert buf.getvalue() == b""


def test_not_l3c_falls_through_to_other_plugins() -> None:
    with Image.open(IMAGES / "ladybird_64x48.png") as im:
        assert im.format == "PNG"
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"\x89L3C\r\n\x1a\n" + bytes(60)))  # damaged header
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"not an image at all, not even close"))


def _parse(data: bytes, chunk: int = 1000) -> Image.Image:
    parser = ImageFile.Parser()
    for start in range(0, len(data), chunk):
        parser.feed(data[start : start + chunk])
    return parser.close()


@pytest.mark.parametrize("chunk", [1000, 7, 1 << 20])
def test_parser_fed_in_chunks(storm: np.ndarray, storm_l3c: bytes, chunk: int) -> None:
    """ImageFile.Parser raised a bare AssertionError on the second chunk: it fed the
    bytes to the decoder, which reads the file itself. It now loads at close()."""
    assert len(storm_l3c) > 2000
    im = _parse(storm_l3c, chunk)
    assert (im.format, im.mode, im.size) == ("L3C", "RGB", (256, 192))
    np.testing.assert_array_equal(np.asarray(im), storm)


def test_parser_fed_a_truncated_file(small_l3c: bytes) -> None:
    length = len(small_l3c) - _format.header_size(small_l3c) - 12  # the one tile's payload
    with pytest.raises(OSError, match="image file is truncated") as raised:
        _parse(small_l3c[:-100])  # its CRC and the last 96 bytes of its payload cut
    assert type(raised.value) is OSError
    assert str(raised.value) == (
        f"image file is truncated (L3C file is truncated ({length - 96} of {length} "
        "bytes of a section))"
    )


def test_decoder_fed_bytes_says_why(small_l3c: bytes) -> None:
    header = _format.parse_header(small_l3c)
    decoder = Image._getdecoder("RGB", "l3c", (header,))
    with pytest.raises(pillow_l3c.L3cError) as raised:
        decoder.decode(small_l3c)
    assert str(raised.value) == (
        "the L3C decoder reads whole tiles from the file itself and cannot be fed "
        "bytes; open the file with Image.open"
    )


def test_one_frame(small_photo: np.ndarray, small_l3c: bytes) -> None:
    from PIL import ImageSequence

    with Image.open(io.BytesIO(small_l3c)) as im:
        assert (im.n_frames, im.is_animated, im.tell()) == (1, False, 0)
        im.seek(0)
        with pytest.raises(EOFError, match="no more images in file"):
            im.seek(1)
        frames = [np.asarray(frame) for frame in ImageSequence.Iterator(im)]
    assert len(frames) == 1
    np.testing.assert_array_equal(frames[0], small_photo)


@pytest.mark.parametrize("data", [b"x", b"", b"\x89PNG\r\n\x1a\n" + bytes(40)])
def test_not_l3c_is_an_l3c_error_outside_pillow(data: bytes) -> None:
    """README: every error is an L3cError, so an OSError (it was a SyntaxError)."""
    with pytest.raises(pillow_l3c.L3cError) as raised:
        pillow_l3c.decode(data)
    assert isinstance(raised.value, OSError)
    assert type(raised.value) is _format.NotL3cError
    assert str(raised.value) == "not an L3C file"
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))


@pytest.mark.parametrize("keep", [47, 48, 60, 200, -20, -1])  # the header is 47 bytes
def test_truncated(small_l3c: bytes, keep: int) -> None:
    with (
        Image.open(io.BytesIO(small_l3c[:keep])) as im,
        pytest.raises(OSError, match="image file is truncated"),
    ):
        im.load()


def test_truncated_with_load_truncated_images(
    small_l3c: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(small_l3c[:-100])) as im:
        im.load()
        assert im.size == (64, 48)


def test_damaged_payload_raises_never_wrong_pixels(small_l3c: bytes) -> None:
    start = _format.header_size(small_l3c)
    for offset in range(start, len(small_l3c), max(1, len(small_l3c) // 40)):
        damaged = bytearray(small_l3c)
        damaged[offset] ^= 0x04
        with Image.open(io.BytesIO(bytes(damaged))) as im, pytest.raises(CorruptStreamError):
            im.load()


def test_pixel_checksum_guards_the_decoded_image(small_l3c: bytes) -> None:
    import zlib

    damaged = bytearray(small_l3c)
    start = _format.header_size(small_l3c) + 8  # the one tile's payload
    damaged[start + _format.TILE_HEAD_BYTES] ^= 1  # its first pixel CRC
    damaged[-4:] = zlib.crc32(bytes(damaged[start:-4]), zlib.crc32(b"TILE")).to_bytes(4, "big")
    with pytest.raises(CorruptStreamError, match="pixel checksum mismatch in tile 0"):
        pillow_l3c.decode(bytes(damaged))


def _tile_offsets(data: bytes) -> list[int]:
    """Where each tile section of a file without metadata starts."""
    pos, offsets = _format.header_size(data), []
    while pos < len(data):
        offsets.append(pos)
        pos += 12 + int.from_bytes(data[pos + 4 : pos + 8], "big")
    return offsets


def test_truncated_file_keeps_its_complete_tiles(
    storm: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pillow_l3c.encode(storm, tile_size=64)  # 256x192: 4 x 3 tiles
    offsets = _tile_offsets(data)
    assert len(offsets) == 12
    cut = data[: offsets[5] + 100]  # tiles 0-4 complete, tile 5 cut short
    with Image.open(io.BytesIO(cut)) as im, pytest.raises(OSError, match="image file is truncated"):
        im.load()
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(cut)) as im:
        im.load()
        got = np.asarray(im)
    np.testing.assert_array_equal(got[:64], storm[:64])  # tiles 0-3
    np.testing.assert_array_equal(got[64:128, :64], storm[64:128, :64])  # tile 4
    assert not got[64:128, 64:].any()
    assert not got[128:].any()


@pytest.fixture(scope="module")
def storm_l3c(storm: np.ndarray) -> bytes:
    """storm (256x192) in 4 x 3 tiles of 64, no metadata."""
    return pillow_l3c.encode(storm, tile_size=64)


def test_verify_a_good_file(tmp_path: Path, storm_l3c: bytes) -> None:
    path = tmp_path / "x.l3c"
    path.write_bytes(storm_l3c + b"trailing junk")  # ignored, as load() ignores it
    with Image.open(path) as im:
        fp = im.fp
        assert im.verify() is None
        assert im.fp is None  # closed, as Pillow's verify leaves PNG files
        assert fp.closed
    with Image.open(io.BytesIO(storm_l3c)) as im:
        im.verify()
        assert im.fp is None
        with pytest.raises(RuntimeError, match="verify must be called directly after open"):
            im.verify()


def test_verify_finds_a_damaged_tile(storm_l3c: bytes) -> None:
    """Image.verify() checked nothing: it returned None for any file that opened."""
    damaged = bytearray(storm_l3c)
    damaged[_tile_offsets(storm_l3c)[7] + 50] ^= 0x01  # in tile 7's coded streams
    with Image.open(io.BytesIO(bytes(damaged))) as im, pytest.raises(CorruptStreamError) as raised:
        im.verify()
    assert str(raised.value) == "L3C section b'TILE' checksum mismatch (damaged file)"


def test_verify_finds_a_tile_naming_a_method_the_file_lacks(small_l3c: bytes) -> None:
    """A damaged method index whose section CRC was resealed: no checksum can see it,
    and load() would refuse the file, so verify must too."""
    import zlib

    data = bytearray(small_l3c)
    start = _format.header_size(small_l3c) + _format.SECTION_HEAD_BYTES
    data[start] = 5  # the tile's method index: the table has one entry
    data[-4:] = zlib.crc32(bytes(data[start:-4]), zlib.crc32(b"TILE")).to_bytes(4, "big")
    with (
        Image.open(io.BytesIO(bytes(data))) as im,
        pytest.raises(
            pillow_l3c.CorruptStreamError, match="names coding method 5; the file lists 1"
        ),
    ):
        im.verify()


def test_verify_finds_a_damaged_metadata_section(small_photo: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(small_photo).save(buf, format="L3C", icc_profile=b"p" * 500)
    data = buf.getvalue()
    at = _format.header_size(data) + _format.SECTION_HEAD_BYTES + 10  # in the ICC profile
    damaged = bytearray(data)
    damaged[at] ^= 0x01
    with pytest.raises(UnidentifiedImageError):  # open reads and checks the metadata
        Image.open(io.BytesIO(bytes(damaged)))
    buf = io.BytesIO(data)
    with Image.open(buf) as im:
        with buf.getbuffer() as view:
            view[at] ^= 0x01  # damaged after open: verify reads the file again
        with pytest.raises(CorruptStreamError) as raised:
            im.verify()
    assert str(raised.value) == "L3C section b'ICCP' checksum mismatch (damaged file)"


@pytest.mark.parametrize("into", [0, 100])
def test_verify_finds_a_truncated_file(storm_l3c: bytes, into: int) -> None:
    start = _tile_offsets(storm_l3c)[5]
    length = int.from_bytes(storm_l3c[start + 4 : start + 8], "big")
    cut = storm_l3c[: start + into]  # tiles 0-4 complete, tile 5 missing or cut short
    with (
        Image.open(io.BytesIO(cut)) as im,
        pytest.raises(OSError, match="image file is truncated") as raised,
    ):
        im.verify()
    assert type(raised.value) is OSError
    section = "0 of 8 bytes" if into == 0 else f"{into - 8} of {length} bytes"
    assert str(raised.value) == (
        f"image file is truncated (L3C file is truncated ({section} of a section))"
    )


def test_verify_finds_more_tiles_than_the_header(storm_l3c: bytes) -> None:
    last = _tile_offsets(storm_l3c)[-1]
    with (
        Image.open(io.BytesIO(storm_l3c + storm_l3c[last:])) as im,
        pytest.raises(CorruptStreamError) as raised,
    ):
        im.verify()
    assert str(raised.value) == "L3C file has more than the 12 tile sections of its header"


def test_verify_does_not_import_torch(tmp_path: Path, storm_l3c: bytes) -> None:
    path = tmp_path / "x.l3c"
    path.write_bytes(storm_l3c)
    code = (
        "import sys, pillow_l3c; from PIL import Image; im = Image.open(sys.argv[1]); "
        "im.verify(); print(im.fp, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "None False"


def test_tiny_file_claiming_a_huge_image_is_refused_before_allocation(small_l3c: bytes) -> None:
    data = _with_size(small_l3c, 9000, 9000)  # 81 MP: 324 tiles of 512
    with pytest.raises(_format.TruncatedFileError, match="324 tiles need at least"):
        pillow_l3c.decode(data)
    with Image.open(io.BytesIO(data)) as im, pytest.raises(OSError, match="324 tiles need"):
        im.load()


@pytest.mark.parametrize("tile_size", [8, 24, 64])
def test_any_tile_size_round_trips(citrus: np.ndarray, tile_size: int) -> None:
    data = pillow_l3c.encode(citrus, tile_size=tile_size)
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["l3c_tile_size"] == tile_size
        np.testing.assert_array_equal(np.asarray(im), citrus)


def test_bad_tile_size_is_refused_before_writing(citrus: np.ndarray) -> None:
    out = io.BytesIO()
    with pytest.raises(
        ValueError, match="tile size must be a multiple of 8 from 8 to 32768, got 100"
    ):
        Image.fromarray(citrus).save(out, format="L3C", tile_size=100)
    assert out.getvalue() == b""


def test_files_do_not_depend_on_workers_or_torch_threads(storm: np.ndarray) -> None:
    import torch

    before = torch.get_num_threads()
    reference = pillow_l3c.encode(storm, tile_size=128, workers=1)
    try:
        torch.set_num_threads(2)
        torch.set_float32_matmul_precision("medium")
        assert pillow_l3c.encode(storm, tile_size=128, workers=2) == reference
        assert torch.get_num_threads() == 2  # the caller's settings are restored
        assert torch.get_float32_matmul_precision() == "medium"
        torch.set_float32_matmul_precision("highest")
        torch.set_num_threads(1)
        assert pillow_l3c.encode(storm, tile_size=128, workers=3) == reference
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(pillow_l3c.decode(reference, workers=2), storm)


def test_other_model_is_named(
    tmp_path: Path, small_l3c: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from pillow_l3c.network.architecture import L3C, L3cConfig
    from pillow_l3c.network.export import export

    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    other_id = export(L3C(L3cConfig(filters=8, resblocks=1, mixtures=2)), other)
    monkeypatch.setenv("PILLOW_L3C_WEIGHTS", str(other))
    with pytest.raises(ModelMismatchError) as err:
        pillow_l3c.decode(small_l3c)
    assert _format.parse_header(small_l3c).model_id.hex() in str(err.value)
    assert other_id != _model.model_id(other)  # a file id names the file; files name its integers
    assert _model.model_id(other).hex() in str(err.value)
    # and a file written by that model round-trips with it
    pixels = np.zeros((9, 10, 3), np.uint8)
    np.testing.assert_array_equal(pillow_l3c.decode(pillow_l3c.encode(pixels)), pixels)


@pytest.mark.gpu
def test_gpu_encode_decodes_on_gpu(photo: np.ndarray) -> None:
    data = pillow_l3c.encode(photo, device="cuda")
    np.testing.assert_array_equal(pillow_l3c.decode(data, device="cuda"), photo)
    pillow_l3c.register("cuda")
    try:
        with Image.open(io.BytesIO(data)) as im:
            np.testing.assert_array_equal(np.asarray(im), photo)
    finally:
        pillow_l3c.register(None)


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4, 5), np.uint8),  # grey, LA, RGB and RGBA are taken (test_api.py)
        np.zeros((4, 4, 3, 1), np.uint8),
        np.zeros((4, 4, 3), np.int16),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_encode_api_rejects_other_arrays(array: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"uint16 array of shape|cannot store an image"):
        pillow_l3c.encode(array)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA"])
def test_grey_and_alpha_modes_roundtrip(tmp_path: Path, photo: np.ndarray, mode: str) -> None:
    rgb = Image.fromarray(photo)
    h, w = photo.shape[:2]
    alpha = Image.fromarray(
        np.where(np.add.outer(np.arange(h), np.arange(w)) % 17 < 9, 255, 0).astype(np.uint8)
    )
    im = rgb.convert("L") if mode in ("L", "LA") else rgb
    if mode != "L":
        im = im.convert(mode)
        im.putalpha(alpha)
    path = tmp_path / "x.l3c"
    im.save(path)
    with Image.open(path) as back:
        assert back.mode == mode
        np.testing.assert_array_equal(np.asarray(back), np.asarray(im))


@pytest.mark.parametrize("model", ["l3c-small", "poly-fast", "poly-small"])
def test_grey_costs_one_plane(photo: np.ndarray, model: str) -> None:
    grey = np.asarray(Image.fromarray(photo).convert("L"))
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    as_rgb = pillow_l3c.encode(rgb, model=model, coder="learned")
    as_l = _encode_mode(grey, "L", model)
    # One coded plane: the tile holds the streams of one plane, not three.
    fp = io.BytesIO(as_l)
    _format.read_header(fp)
    count = len(_format.unpack_tile(_format.read_tile(fp)).streams)
    coder = learned(_model.load(name=model))
    assert count == coder.stream_count("L", *grey.shape)
    assert count < coder.stream_count("RGB", *grey.shape)
    # L3C's three planes cost three times; the polyphase model codes R and B of a grey
    # pixel from its G almost for free, but still not for nothing.
    assert len(as_rgb) > (1.5 if model == "l3c-small" else 1.03) * len(as_l)


def _encode_mode(pixels: np.ndarray, mode: str, model: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, format="L3C", model=model, coder="learned")
    return buf.getvalue()


def test_metadata_survives(tmp_path: Path, small_photo: np.ndarray) -> None:
    icc = b"fake icc profile " * 20
    exif = Image.Exif()
    exif[0x010E] = "a description"  # ImageDescription
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>"
    path = tmp_path / "x.l3c"
    Image.fromarray(small_photo).save(path, icc_profile=icc, exif=exif, xmp=xmp)
    with Image.open(path) as im:
        assert im.info["icc_profile"] == icc
        assert im.info["xmp"] == xmp
        assert im.getexif()[0x010E] == "a description"
        np.testing.assert_array_equal(np.asarray(im), small_photo)
        again = tmp_path / "y.l3c"
        im.save(again)  # metadata carried over from im.info
    with Image.open(again) as im2:
        assert im2.info["icc_profile"] == icc
        assert im2.info["xmp"] == xmp


def test_metadata_is_read_without_the_image_data(small_photo: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(small_photo).save(buf, format="L3C", icc_profile=b"p" * 5000)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data[: _format.header_size(data) + 12 + 5000])) as im:
        assert im.info["icc_profile"] == b"p" * 5000  # the coded sections are not there


def _with_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` with another image size in its header, the header CRC re-sealed."""
    import zlib

    raw = bytearray(data)
    raw[HEADER_FIELDS["width"]] = width.to_bytes(4, "big")
    raw[HEADER_FIELDS["height"]] = height.to_bytes(4, "big")
    size = _format.header_size(data)
    crc = slice(size - _format.CRC_BYTES, size)
    raw[crc] = zlib.crc32(bytes(raw[: crc.start])).to_bytes(_format.CRC_BYTES, "big")
    return bytes(raw)


def test_decompression_bombs_are_refused_before_allocation(small_l3c: bytes) -> None:
    from PIL import Image as PILImage

    huge = _with_size(small_l3c, 50_000, 50_000)
    with pytest.raises(PILImage.DecompressionBombError):
        PILImage.open(io.BytesIO(huge))
    with pytest.raises(PILImage.DecompressionBombError):
        pillow_l3c.decode(huge)
    big = _with_size(small_l3c, 10_000, 10_000)  # over MAX_IMAGE_PIXELS, under twice it
    with pytest.warns(PILImage.DecompressionBombWarning), pytest.raises(CorruptStreamError):
        pillow_l3c.decode(big)  # warned, then too short for its tiles


def test_threads_encode_and_decode_exactly() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from .conftest import PHOTOS, load_photo

    photos = [load_photo(name) for name in PHOTOS] * 3
    expected = [pillow_l3c.encode(p) for p in photos]
    with ThreadPoolExecutor(8) as pool:
        encoded = list(pool.map(pillow_l3c.encode, photos))
        decoded = list(pool.map(pillow_l3c.decode, encoded))
    assert encoded == expected
    for got, want in zip(decoded, photos, strict=True):
        np.testing.assert_array_equal(got, want)
    from pillow_l3c import _model

    loaded = [key for key in _model._loaded if key[0] == _model.weights_path()]
    assert len(loaded) == 1  # one model per process and device, shared by the threads


def _roundtrip_in_worker(name: str) -> bool:
    from .conftest import load_photo

    photo = load_photo(name)
    return bool(np.array_equal(pillow_l3c.decode(pillow_l3c.encode(photo)), photo))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pools(method: str, small_l3c: bytes) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .conftest import PHOTOS

    pillow_l3c.decode(small_l3c)  # the parent has loaded the model before forking
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
        assert all(pool.map(_roundtrip_in_worker, PHOTOS))


def test_every_truncation_raises(small_l3c: bytes) -> None:
    for keep in range(len(small_l3c)):
        try:
            with Image.open(io.BytesIO(small_l3c[:keep])) as im:
                im.load()
        except (UnidentifiedImageError, OSError):
            continue
        pytest.fail(f"a file cut to {keep} bytes decoded")


def test_configured_workers_are_what_load_and_imageio_use(
    monkeypatch: pytest.MonkeyPatch, storm: np.ndarray
) -> None:
    """configure(workers=N) decides how many tiles Image.open(...).load() and imageio
    decode at once (register() stored it and nothing read it)."""
    import imageio.v3 as iio

    from pillow_l3c import _codec

    data = pillow_l3c.encode(storm, tile_size=64)  # 4 x 3 tiles
    seen: list[int] = []
    original = _codec._ordered_map

    def spy(fn, items, workers):  # type: ignore[no-untyped-def]
        seen.append(workers)
        return original(fn, items, workers)

    monkeypatch.setattr(_codec, "_ordered_map", spy)
    try:
        pillow_l3c.configure(workers=3)
        with Image.open(io.BytesIO(data)) as im:
            np.testing.assert_array_equal(np.asarray(im), storm)
        np.testing.assert_array_equal(iio.imread(data, extension=".l3c"), storm)
        pillow_l3c.register(workers=5)  # the former name does the same
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    finally:
        pillow_l3c.configure()
    assert seen == [3, 3, 5]


def test_a_broken_imageio_plugin_is_not_silenced(tmp_path: Path) -> None:
    """Only the absence of imageio may pass quietly; a plugin that fails to import
    (an imageio change, say) raises."""
    shadow = tmp_path / "imageio" / "core"
    shadow.mkdir(parents=True)
    (tmp_path / "imageio" / "__init__.py").write_text("")
    (shadow / "__init__.py").write_text("")
    (shadow / "request.py").write_text("raise ImportError('changed API')\n")
    code = "import pillow_l3c"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 1
    assert "ImportError: changed API" in run.stderr
    code = "import sys; sys.modules['imageio'] = None; import pillow_l3c; print('ok')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "ok"


@pytest.fixture
def tile_limit() -> Iterator[None]:
    """Restore the default decode settings after a test changes them."""
    yield
    pillow_l3c.configure()


def _header_only(width: int, height: int, tile: int) -> bytes:
    model_id = _model.model_id(_model.find().path)
    return _format.Header(width, height, "RGB", tile, 0, (Method(LEARNED, model_id),)).pack()


def test_a_file_of_huge_tiles_is_refused_before_decoding(tile_limit: None) -> None:
    data = _header_only(9000, 9000, 8192)  # one tile would need about 30 GB
    message = (
        "L3C tiles of 8192x8192 pixels are over the limit of 4194304 pixels per tile "
        "(decoding one takes memory in proportion to its pixels); for a trusted file, "
        "raise it with pillow_l3c.configure(max_tile_pixels=...)"
    )
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (9000, 9000)  # the header still opens
        with pytest.raises(pillow_l3c.TileTooLargeError) as raised:
            im.crop((0, 0, 10, 10))
        assert str(raised.value) == message
        with pytest.raises(pillow_l3c.TileTooLargeError, match="8192x8192 pixels"):
            im.load()
    with pytest.raises(pillow_l3c.TileTooLargeError, match="8192x8192 pixels"):
        pillow_l3c.decode(data)
    # lifted for a trusted file, the next check speaks: the tiles are missing
    pillow_l3c.configure(max_tile_pixels=None)
    header = _format.parse_header(data)
    with pytest.raises(_format.TruncatedFileError, match="tiles need at least"):
        _codec.decode_tiles(header, io.BytesIO(data[header.byte_size :]))


def test_large_tile_size_over_a_small_image_is_one_small_tile(
    citrus: np.ndarray, tile_limit: None
) -> None:
    pillow_l3c.configure(max_tile_pixels=77 * 53)
    data = pillow_l3c.encode(citrus, tile_size=32768)  # one tile of 77 x 53
    np.testing.assert_array_equal(pillow_l3c.decode(data), citrus)
    pillow_l3c.configure(max_tile_pixels=77 * 53 - 1)
    with pytest.raises(pillow_l3c.TileTooLargeError, match="tiles of 77x53 pixels"):
        pillow_l3c.decode(data)
    with pytest.raises(ValueError, match="tile_size 64 makes tiles of 4096 pixels, over the"):
        pillow_l3c.encode(np.zeros((100, 100, 3), np.uint8), tile_size=64)


def test_a_synthetic_image_is_regridded_within_a_lowered_tile_limit(tile_limit: None) -> None:
    """An all-classical image goes to tiles larger than the default, but never larger
    than this process's decoders accept: the file the writer picks must open."""
    white = Image.new("RGB", (1500, 1100), "white")
    pillow_l3c.configure(max_tile_pixels=1024 * 1024)
    out = io.BytesIO()
    white.save(out, "L3C")
    header = _format.parse_header(out.getvalue())
    assert 512 < header.tile_size <= 1024
    assert min(header.tile_size, 1100) * header.tile_size <= 1024 * 1024
    with Image.open(out) as im:
        assert im.tobytes() == white.tobytes()
