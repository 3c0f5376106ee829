"""Partial decoding: Image.crop before load and the lazy dask array read only the
tiles under the region (counted by a spy on the tile decoder)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import dask
import numpy as np
import pytest
from PIL import Image, ImageFile

import pillow_l3c
from pillow_l3c import _codec, _format, _region, dask_array
from pillow_l3c.tile_coders.base import LEARNED, Method

TILE = 64  # storm (256x192) in 4 x 3 tiles


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The index of every tile decoded from now on."""
    seen: list[int] = []
    real = _codec.decode_tile_payload

    def spy(header, coders, tile, payload, level=0):
        seen.append(tile.index)
        return real(header, coders, tile, payload, level)

    monkeypatch.setattr(_codec, "decode_tile_payload", spy)
    return seen


@pytest.fixture(scope="module")
def storm_file(storm: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("region") / "storm.l3c"
    Image.fromarray(storm).save(path, tile_size=TILE)
    return path


@pytest.mark.parametrize(
    ("box", "tiles"),
    [
        ((70, 10, 130, 60), [1, 2]),  # inside one row of tiles, across a column edge
        ((60, 60, 70, 70), [0, 1, 4, 5]),  # the corner of four tiles
        ((-5, -7, 20, 30), [0]),  # past the top-left: Pillow fills with zeros
        ((250, 180, 270, 200), [11]),  # past the bottom-right
        ((3.4, 2.6, 99.5, 50.2), [0, 1]),  # fractional: Pillow rounds
        ((300, 10, 310, 20), []),  # outside the image
        ((10, 10, 10, 30), []),  # empty
    ],
)
def test_crop_before_load_decodes_only_the_tiles_under_the_box(
    storm: np.ndarray, storm_file: Path, decoded: list[int], box: tuple, tiles: list[int]
) -> None:
    with Image.open(storm_file) as im:
        part = im.crop(box)
        assert sorted(decoded) == tiles
        assert im.tile, "the image itself stays unloaded"
        assert part.info["model_id"] == im.info["model_id"]
    expected = Image.fromarray(storm).crop(box)
    assert (part.mode, part.size) == (expected.mode, expected.size)
    assert part.tobytes() == expected.tobytes()


def test_crop_after_load_and_inverted_boxes_are_pillows(storm_file: Path) -> None:
    with Image.open(storm_file) as im:
        with pytest.raises(ValueError, match="Coordinate 'right' is less than 'left'"):
            im.crop((20, 0, 10, 5))
        im.load()
        assert im.crop((0, 0, 5, 5)).size == (5, 5)


def test_crop_of_a_damaged_tile_raises(storm: np.ndarray, decoded: list[int]) -> None:
    buf = io.BytesIO()
    Image.fromarray(storm).save(buf, "L3C", tile_size=TILE)
    data = bytearray(buf.getvalue())
    data[-100] ^= 0x10  # inside the last tile's coded data
    with Image.open(io.BytesIO(bytes(data))) as im:
        np.testing.assert_array_equal(np.asarray(im.crop((0, 0, 64, 64))), storm[:64, :64])
        with pytest.raises(OSError, match=r"section b'TILE' checksum mismatch"):
            im.crop((200, 150, 256, 192))
    assert decoded == [0]


def test_lazy_array_decodes_only_the_tiles_it_computes(
    storm: np.ndarray, storm_file: Path, decoded: list[int]
) -> None:
    arr = dask_array.open_array(str(storm_file))
    assert arr.shape == storm.shape
    assert arr.dtype == np.uint8
    assert arr.chunks == ((64, 64, 64), (64, 64, 64, 64), (3,))
    assert decoded == []  # opening decodes nothing
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(arr[70:100, 130:140].compute(), storm[70:100, 130:140])
        assert decoded == [6]
        decoded.clear()
        np.testing.assert_array_equal(arr[60:70, 60:70, 1].compute(), storm[60:70, 60:70, 1])
        assert sorted(decoded) == [0, 1, 4, 5]
    decoded.clear()
    np.testing.assert_array_equal(arr.compute(scheduler="threads"), storm)
    assert sorted(decoded) == list(range(12))


def test_lazy_array_of_grey_is_two_dimensional(storm: np.ndarray, tmp_path: Path) -> None:
    grey = np.asarray(Image.fromarray(storm).convert("L"))
    Image.fromarray(grey).save(tmp_path / "g.l3c", tile_size=TILE)
    arr = dask_array.open_array(f"file://{tmp_path / 'g.l3c'}")
    assert arr.shape == grey.shape
    np.testing.assert_array_equal(arr[100:150, 10:200].compute(), grey[100:150, 10:200])


def test_lazy_array_of_a_truncated_file_raises_when_the_missing_tile_is_read(
    storm: np.ndarray, tmp_path: Path
) -> None:
    buf = io.BytesIO()
    Image.fromarray(storm).save(buf, "L3C", tile_size=TILE)
    (tmp_path / "cut.l3c").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    arr = dask_array.open_array(str(tmp_path / "cut.l3c"))
    np.testing.assert_array_equal(arr[:64, :64].compute(), storm[:64, :64])
    with pytest.raises(OSError, match="L3C file is truncated: tile 11 of 12 is missing"):
        arr[150:, 200:].compute()


class _CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        self.bytes_read += len(out)
        return out


def test_one_tile_reads_the_section_heads_before_it_and_its_own_section_only(
    storm: np.ndarray, storm_file: Path
) -> None:
    data = storm_file.read_bytes()
    f = _CountingFile(data)
    reader = _region.TileReader(f)
    last = reader.header.tile(2, 3)
    np.testing.assert_array_equal(reader.read((192, 128, 256, 192)), storm[128:, 192:])
    read = f.bytes_read
    section = 8 + len(reader.payload(last)) + 4  # its head, payload and CRC
    heads = 8 * (last.index + 1)  # the walk: the heads of the 11 tiles before it and its own
    assert read == _format.header_size(data) + heads + section
    assert read < len(data) // 5


def test_lazy_array_refuses_tiles_over_the_limit_when_it_opens(tmp_path: Path) -> None:
    from pillow_l3c import _model

    model_id = _model.model_id(_model.find().path)
    methods = (Method(LEARNED, model_id),)
    (tmp_path / "huge.l3c").write_bytes(_format.Header(9000, 9000, "RGB", 8192, 0, methods).pack())
    with pytest.raises(pillow_l3c.TileTooLargeError, match="tiles of 8192x8192 pixels"):
        dask_array.open_array(str(tmp_path / "huge.l3c"))


@pytest.mark.parametrize(
    "box", [(0, 60, 10, 70), (80, 0, 90, 10), (-2, 54, 1, 57), (70, 50, 80, 60)]
)
def test_crop_past_a_short_last_tile_row_or_column(
    citrus: np.ndarray, decoded: list[int], box: tuple[int, int, int, int]
) -> None:
    """citrus is 77 x 53: with 24-pixel tiles its last row of tiles is 5 high and its
    last column 5 wide, so a box past the image can still fall in that tile's grid cell
    (found by the file fuzzer, seed 2030: a box below a 9-high image of 8-pixel tiles)."""
    buf = io.BytesIO()
    Image.fromarray(citrus).save(buf, "L3C", tile_size=24)
    with Image.open(buf) as im:
        part = im.crop(box)
    expected = Image.fromarray(citrus).crop(box)
    assert part.tobytes() == expected.tobytes()
    assert len(decoded) == (2 if box == (70, 50, 80, 60) else 0)


def _tile_spans(data: bytes) -> list[_format.SectionSpan]:
    fp = io.BytesIO(data)
    _codec.read_header(fp)
    return [_format.skip_section(fp, len(data)) for _ in range(12)]


@pytest.mark.parametrize("trailer", [b"", b"trailing junk", b"TILE" + bytes(100)])
def test_a_damaged_section_length_is_reported_not_followed(
    storm: np.ndarray, storm_file: Path, trailer: bytes
) -> None:
    """No checksum covers a skipped length: one that lands on a later section boundary
    would shift every later tile by one if the walk trusted it (review finding); bytes
    after the last tile, which the walk accepts, must not hide it."""
    data = bytearray(storm_file.read_bytes())
    first, second = _tile_spans(bytes(data))[:2]
    length = _format.SECTION_FIELDS["length"]
    start = first.offset - _format.SECTION_HEAD_BYTES
    data[start + length.start : start + length.stop] = (second.end - first.offset - 4).to_bytes(
        4, "big"
    )  # tile 0's section now swallows tile 1's
    data += trailer  # the last found "tile" is the trailer, or the walk runs into it
    with Image.open(io.BytesIO(bytes(data))) as im:
        with pytest.raises(OSError, match=r"L3C section b'TILE' checksum mismatch"):
            im.crop((128, 0, 192, 64))  # tile 2
        with pytest.raises(OSError, match=r"L3C section b'TILE' checksum mismatch"):
            im.load()


@pytest.mark.parametrize("trailer", [b"trailing junk", bytes(16)])
def test_bytes_after_the_last_tile_are_ignored(
    storm: np.ndarray, storm_file: Path, tmp_path: Path, decoded: list[int], trailer: bytes
) -> None:
    """Bytes appended to a file (a copy tool's padding): load() ignored them, crop
    before load and open_array raised. The walk now checks every section's CRC once."""
    path = tmp_path / "padded.l3c"
    path.write_bytes(storm_file.read_bytes() + trailer)
    with Image.open(path) as im:
        whole = Image.fromarray(np.asarray(im))
    np.testing.assert_array_equal(np.asarray(whole), storm)
    decoded.clear()
    with Image.open(path) as im:
        for box in [(70, 10, 130, 60), (250, 180, 270, 200)]:
            assert im.crop(box).tobytes() == whole.crop(box).tobytes()
        assert im.tile, "the image itself stays unloaded"
    assert sorted(decoded) == [1, 2, 11]  # the CRC check reads the others, never decodes
    arr = dask_array.open_array(str(path))
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(arr[60:130, 100:256].compute(), storm[60:130, 100:256])


def test_crop_of_a_truncated_file_under_load_truncated_images(
    storm: np.ndarray, storm_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = storm_file.read_bytes()
    cut = data[: _tile_spans(data)[8].offset + 100]  # tiles 0-7 complete
    with Image.open(io.BytesIO(cut)) as im, pytest.raises(OSError, match="tile 8 of 12 is missing"):
        im.crop((0, 120, 256, 192))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(cut)) as im:
        part = np.asarray(im.crop((0, 120, 256, 192)))
    np.testing.assert_array_equal(part[:8], storm[120:128])  # tiles 4-7
    assert not part[8:].any()  # the missing tiles 8-11 stay black, as after load()


def test_a_replaced_file_opens_as_its_new_content(storm: np.ndarray, tmp_path: Path) -> None:
    """The per-process reader cache is keyed by the file's version (review finding:
    after an atomic replace, open_array kept returning the old image)."""
    path = tmp_path / "x.l3c"
    Image.fromarray(storm).save(path, tile_size=TILE)
    old = dask_array.open_array(str(path))
    np.testing.assert_array_equal(old[:64, :64].compute(), storm[:64, :64])
    flipped = np.ascontiguousarray(storm[::-1, :, :2])
    new_file = tmp_path / "new.l3c"
    Image.fromarray(np.dstack([flipped, flipped[:, :, :1]])).convert("RGB").save(new_file)
    os.replace(new_file, path)
    new = dask_array.open_array(str(path))
    np.testing.assert_array_equal(new[:, :, :2].compute(), flipped)
    assert new.name != old.name
    # the first array reads the file it opened (its reader holds the old file open)
    np.testing.assert_array_equal(old[64:128, :64].compute(), storm[64:128, :64])


@pytest.mark.parametrize("grey", [False, True])
def test_to_l3c_writes_the_bytes_that_one_process_writes(
    storm: np.ndarray, tmp_path: Path, grey: bool
) -> None:
    import dask.array as da

    pixels = np.asarray(Image.fromarray(storm).convert("L")) if grey else storm
    expected = io.BytesIO()
    Image.fromarray(pixels).save(expected, "L3C", tile_size=TILE)
    chunks = (50, 70) if grey else (50, 70, 3)  # chunks that are not tiles
    dask_array.to_l3c(da.from_array(pixels, chunks=chunks), str(tmp_path / "x.l3c"), tile_size=TILE)
    assert (tmp_path / "x.l3c").read_bytes() == expected.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == ["x.l3c"]  # no partial file left
    # and a lazily read file written again is the same file
    again = dask_array.open_array(str(tmp_path / "x.l3c"))
    dask_array.to_l3c(again, str(tmp_path / "y.l3c"), tile_size=TILE)
    assert (tmp_path / "y.l3c").read_bytes() == expected.getvalue()


def test_to_l3c_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"needs a uint8 or uint16 array \(H, W\) or \(H, W, 1..4\), got"
    ):
        dask_array.to_l3c(np.zeros((8, 8, 5), np.uint8), str(tmp_path / "x.l3c"))
    with pytest.raises(ValueError, match="tile size must be a multiple of 8"):
        dask_array.to_l3c(np.zeros((8, 8, 3), np.uint8), str(tmp_path / "x.l3c"), tile_size=12)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("width", [100, 520])  # one unsure tile; a sure one and an unsure one
def test_to_l3c_of_a_flat_image_with_unsure_tiles_is_what_save_writes(
    tmp_path: Path, width: int
) -> None:
    """Tiles too small to judge are coded both ways; even when the classical coder wins
    them, Image.save keeps its grid (it regrids before coding them), and so must to_l3c."""
    flat = np.full((30, width, 3), 200, np.uint8)
    expected = io.BytesIO()
    Image.fromarray(flat).save(expected, "L3C")
    dask_array.to_l3c(flat, str(tmp_path / "x.l3c"))
    assert (tmp_path / "x.l3c").read_bytes() == expected.getvalue()


def test_to_l3c_refuses_a_palette_image_before_computing_anything(tmp_path: Path) -> None:
    import dask.array as da

    computed: list[int] = []

    def block(x: np.ndarray) -> np.ndarray:
        computed.append(1)
        return x

    meta = np.empty((0, 0), np.uint8)
    indices = da.zeros((16, 16), np.uint8, chunks=8).map_blocks(block, dtype=np.uint8, meta=meta)
    with pytest.raises(ValueError, match="to_l3c cannot write mode P"):
        dask_array.to_l3c(indices, str(tmp_path / "x.l3c"), mode="P")
    with pytest.raises(ValueError, match="mode RGB needs 3 bands, the array has 1"):
        dask_array.to_l3c(indices, str(tmp_path / "x.l3c"), mode="RGB")
    assert computed == []
    assert list(tmp_path.iterdir()) == []


def test_lazy_array_of_a_remote_file_fetches_heads_and_its_tile_only(
    storm_file: Path,
) -> None:
    """A remote filesystem (S3, GCS, HTTP) hands fsspec a buffered file whose every fetch
    is a range request (here counted); its default read-ahead would fetch the file."""
    import fsspec
    from fsspec.implementations.memory import MemoryFileSystem
    from fsspec.spec import AbstractBufferedFile

    data = storm_file.read_bytes()
    fetched: list[int] = []

    class Remote(AbstractBufferedFile):
        def _fetch_range(self, start: int, end: int) -> bytes:
            fetched.append(end - start)
            return data[start:end]

    class RemoteFS(MemoryFileSystem):
        protocol = "remote-test"

        def _open(self, path, mode="rb", **kwargs):
            return Remote(self, path, mode, size=len(data), **kwargs)

        def info(self, path, **kwargs):
            return {"name": self._strip_protocol(path), "size": len(data), "type": "file"}

    fsspec.register_implementation("remote-test", RemoteFS, clobber=True)
    arr = dask_array.open_array("remote-test://storm.l3c")
    with dask.config.set(scheduler="synchronous"):
        arr[128:, 192:].compute()  # the last of 12 tiles
    # the header, 12 section heads and one tile's section: not the file
    assert sum(fetched) < len(data) // 5


def test_to_l3c_takes_bilevel_arrays_effort_and_coder(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    from PIL import Image

    from pillow_l3c import dask_array

    bits = np.random.default_rng(2).random((40, 70)) > 0.6
    dask_array.to_l3c(bits, str(tmp_path / "b.l3c"), effort=3)
    image = Image.fromarray(bits)
    with Image.open(tmp_path / "b.l3c") as im:
        assert im.mode == "1"
        assert im.tobytes() == image.tobytes()
    saved = tmp_path / "s.l3c"
    image.save(saved, effort=3)
    assert (tmp_path / "b.l3c").read_bytes() == saved.read_bytes()
    flat = np.full((30, 40, 3), 9, np.uint8)
    dask_array.to_l3c(flat, str(tmp_path / "f.l3c"), coder="learned")
    assert _format.parse_header((tmp_path / "f.l3c").read_bytes()).methods[0].kind == 1
    with pytest.raises(ValueError, match=r"^effort must be an int from 1 to 9, got 10$"):
        dask_array.to_l3c(flat, str(tmp_path / "g.l3c"), effort=10)
