"""The container: header fields, checksums, bounded reads."""

from __future__ import annotations

import io
import zlib

import pytest

from pillow_l3c import _format
from pillow_l3c._format import HEADER_FIELDS, Header
from pillow_l3c.errors import CorruptStreamError, L3cError


def header(**kw: object) -> Header:
    fields = {
        "width": 77,
        "height": 53,
        "mode": "RGB",
        "model_id": bytes(range(16)),
        "tile_size": 512,
        "metadata_count": 2,
    }
    fields.update(kw)
    return Header(**fields)  # type: ignore[arg-type]


def test_header_roundtrip_and_layout() -> None:
    raw = header().pack()
    assert len(raw) == _format.HEADER_BYTES == 46
    assert raw.startswith(b"\x89L3C\r\n\x1a\n")
    assert raw[HEADER_FIELDS["version"]] == b"\x00\x02"  # version, big-endian
    assert raw[HEADER_FIELDS["width"]] == (77).to_bytes(4, "big")
    assert raw[HEADER_FIELDS["tile_size"]] == (512).to_bytes(4, "big")
    assert _format.parse_header(raw) == header()


def test_tiles_cover_the_image_in_raster_order() -> None:
    h = header(width=1100, height=513)
    tiles = list(h.tiles())
    assert h.tile_count() == len(tiles) == 3 * 2
    assert [(t.top, t.left, t.height, t.width) for t in tiles] == [
        (0, 0, 512, 512),
        (0, 512, 512, 512),
        (0, 1024, 512, 76),
        (512, 0, 1, 512),
        (512, 512, 1, 512),
        (512, 1024, 1, 76),
    ]
    assert header(width=1, height=1).tile_count() == 1


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n" + bytes(40), b"GIF89a", b"\x89L3C\n"])
def test_other_files_are_not_l3c(data: bytes) -> None:
    with pytest.raises(_format.NotL3cError, match="not an L3C file"):
        _format.parse_header(data)


def test_text_mode_damage_is_caught() -> None:
    raw = header().pack().replace(b"\r\n", b"\n", 1)
    with pytest.raises(_format.NotL3cError):
        _format.parse_header(raw)


def test_header_bit_flip_fails_checksum() -> None:
    raw = bytearray(header().pack())
    raw[HEADER_FIELDS["width"].start + 2] ^= 0x10
    with pytest.raises(CorruptStreamError, match="header checksum"):
        _format.parse_header(bytes(raw))


def _repack(**kw: bytes) -> bytes:
    """A header with checksummed but invalid fields (keyword: field name)."""
    crc = HEADER_FIELDS["crc"]
    raw = bytearray(header().pack()[: crc.start])
    for field, value in kw.items():
        raw[HEADER_FIELDS[field]] = value
    return bytes(raw) + zlib.crc32(bytes(raw)).to_bytes(_format.CRC_BYTES, "big")


def test_unknown_version_zero_size_and_mode_are_refused() -> None:
    with pytest.raises(
        L3cError, match="unsupported L3C format version 1 \\(this reader knows 2\\)"
    ):
        _format.parse_header(_repack(version=b"\x00\x01"))
    with pytest.raises(CorruptStreamError, match="invalid L3C image size 0x53"):
        _format.parse_header(_repack(width=bytes(4)))
    with pytest.raises(CorruptStreamError, match="unknown L3C mode code 9"):
        _format.parse_header(_repack(mode=b"\x09"))
    with pytest.raises(CorruptStreamError, match="65535 metadata sections"):
        _format.parse_header(_repack(metadata_count=b"\xff\xff"))
    for bad in (0, 4, 12, 1 << 16):
        with pytest.raises(CorruptStreamError, match=f"invalid L3C tile size {bad}"):
            _format.parse_header(_repack(tile_size=bad.to_bytes(4, "big")))


def test_sections_roundtrip_and_checksums() -> None:
    packed = _format.pack_section(b"ICCP", b"abc") + _format.pack_section(b"TILE", bytes(1000))
    fp = io.BytesIO(packed)
    assert _format.read_metadata(fp, 1) == {b"ICCP": b"abc"}
    assert _format.read_tile(fp) == bytes(1000)
    damaged = bytearray(packed)
    damaged[9] ^= 1
    with pytest.raises(CorruptStreamError, match="checksum mismatch"):
        _format.read_metadata(io.BytesIO(bytes(damaged)), 1)


def test_sections_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(CorruptStreamError, match="'TILE' is not a metadata section"):
        _format.read_metadata(io.BytesIO(_format.pack_section(b"TILE", b"")), 1)
    with pytest.raises(CorruptStreamError, match="'EXIF' where a tile was expected"):
        _format.read_tile(io.BytesIO(_format.pack_section(b"EXIF", b"")))
    twice = _format.pack_section(b"EXIF", b"a") * 2
    with pytest.raises(CorruptStreamError, match="appears twice"):
        _format.read_metadata(io.BytesIO(twice), 2)


def test_huge_length_is_truncation_not_allocation() -> None:
    packed = b"TILE" + (0xFFFFFFF0).to_bytes(4, "big") + b"xyz"
    with pytest.raises(_format.TruncatedFileError, match="truncated"):
        _format.read_tile(io.BytesIO(packed))


def test_every_truncation_of_sections_raises() -> None:
    packed = _format.pack_section(b"TILE", b"abcdef")
    for cut in range(len(packed)):
        with pytest.raises(CorruptStreamError):
            _format.read_tile(io.BytesIO(packed[:cut]))


def test_tile_payload_lengths_are_checked() -> None:
    payload = _format.pack_tile(0x1234, [b"a" * 16, b"b" * 20])
    assert _format.unpack_tile(payload, 2) == (0x1234, [b"a" * 16, b"b" * 20])
    with pytest.raises(CorruptStreamError, match="has 2 streams, expected 3"):
        _format.unpack_tile(payload, 3)
    with pytest.raises(CorruptStreamError, match="add up to 36, not 35"):
        _format.unpack_tile(payload[:-1], 2)
    inside_lengths = _format.TILE_HEAD_BYTES + _format.LENGTH_BYTES + 1
    with pytest.raises(CorruptStreamError, match="too short for its stream lengths"):
        _format.unpack_tile(payload[:inside_lengths], 2)
    with pytest.raises(CorruptStreamError, match="too short"):
        _format.unpack_tile(b"\x00", 2)
    first = slice(_format.TILE_HEAD_BYTES, _format.TILE_HEAD_BYTES + _format.LENGTH_BYTES)
    huge = payload[: first.start] + b"\xff\xff\xff\xff" + payload[first.stop :]
    with pytest.raises(CorruptStreamError, match="add up to"):
        _format.unpack_tile(huge, 2)
