"""The container: header fields, checksums, bounded reads."""

from __future__ import annotations

import io
import zlib

import pytest

from pillow_l3c import _format
from pillow_l3c._format import HEADER_FIELDS, Header
from pillow_l3c.errors import CorruptStreamError, L3cError
from pillow_l3c.tile_coders.base import LEARNED, Method

MODEL = Method(LEARNED, bytes(range(16)))
WEBP = Method.classical("webp-lossless")


def header(**kw: object) -> Header:
    fields: dict[str, object] = {
        "width": 77,
        "height": 53,
        "mode": "RGB",
        "tile_size": 512,
        "metadata_count": 2,
        "methods": (MODEL, WEBP),
    }
    fields.update(kw)
    return Header(**fields)  # type: ignore[arg-type]


def test_header_roundtrip_and_layout() -> None:
    raw = header().pack()
    size = _format.FIXED_HEADER_BYTES + 2 * _format.METHOD_ENTRY_BYTES + _format.CRC_BYTES
    assert len(raw) == header().byte_size == _format.header_size(raw) == size == 64
    assert raw.startswith(b"\x89L3C\r\n\x1a\n")
    assert raw[HEADER_FIELDS["version"]] == b"\x00\x03"  # version, big-endian
    assert raw[HEADER_FIELDS["width"]] == (77).to_bytes(4, "big")
    assert raw[HEADER_FIELDS["tile_size"]] == (512).to_bytes(4, "big")
    assert raw[HEADER_FIELDS["bits"]] == b"\x08"
    assert raw[HEADER_FIELDS["method_count"]] == b"\x02"
    table = raw[_format.FIXED_HEADER_BYTES : size - _format.CRC_BYTES]
    assert table == b"\x01" + MODEL.id + b"\x02" + b"webp-lossless\0\0\0"
    assert _format.parse_header(raw + b"tiles follow") == header()
    assert _format.read_header(io.BytesIO(raw + b"x")) == header()


def test_format2_headers_still_parse() -> None:
    v2 = header(version=2, methods=(MODEL,))
    raw = v2.pack()
    assert len(raw) == _format.V2_HEADER_BYTES == 46
    assert raw[_format.V2_HEADER_FIELDS["model_id"]] == MODEL.id
    assert _format.parse_header(raw) == v2
    fp = io.BytesIO(raw + b"rest")
    assert _format.read_header(fp) == v2
    assert fp.read() == b"rest"
    with pytest.raises(ValueError, match="a format-2 header names exactly one learned model"):
        header(version=2).pack()


def test_a_newer_format_says_so() -> None:
    raw = bytearray(header().pack())
    raw[HEADER_FIELDS["version"]] = (4).to_bytes(2, "big")
    with pytest.raises(
        _format.NewerFormatError,
        match=r"^written by a newer pillow-l3c \(format 4\); this one reads formats 2 and 3$",
    ):
        _format.parse_header(bytes(raw))


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
    raw = bytearray(header().pack()[: -_format.CRC_BYTES])
    for field, value in kw.items():
        raw[HEADER_FIELDS[field]] = value
    return bytes(raw) + zlib.crc32(bytes(raw)).to_bytes(_format.CRC_BYTES, "big")


def test_unknown_version_zero_size_and_mode_are_refused() -> None:
    with pytest.raises(
        L3cError, match="unsupported L3C format version 1 \\(this reader knows \\(2, 3\\)\\)"
    ):
        _format.parse_header(_repack(version=b"\x00\x01"))
    with pytest.raises(CorruptStreamError, match="invalid L3C image size 0x53"):
        _format.parse_header(_repack(width=bytes(4)))
    with pytest.raises(CorruptStreamError, match="unknown L3C mode code 9"):
        _format.parse_header(_repack(mode=b"\x09"))
    with pytest.raises(CorruptStreamError, match="255 metadata sections"):
        _format.parse_header(_repack(metadata_count=b"\xff"))
    assert _format.parse_header(_repack(bits=b"\x10")).bits == 16
    with pytest.raises(CorruptStreamError, match="12 bits per sample are not supported"):
        _format.parse_header(_repack(bits=b"\x0c"))
    with pytest.raises(CorruptStreamError, match="mode P claims 16 bits per sample"):
        _format.parse_header(_repack(mode=b"\x05", bits=b"\x10"))
    for bad in (0, 4, 12, 1 << 16):
        with pytest.raises(CorruptStreamError, match=f"invalid L3C tile size {bad}"):
            _format.parse_header(_repack(tile_size=bad.to_bytes(4, "big")))


def test_method_tables_are_checked() -> None:
    with pytest.raises(CorruptStreamError, match="lists no coding method"):
        _format.parse_header(header(methods=()).pack())
    with pytest.raises(CorruptStreamError, match="lists a coding method twice"):
        _format.parse_header(header(methods=(MODEL, MODEL)).pack())
    with pytest.raises(CorruptStreamError, match="of unknown kind 7"):
        _format.parse_header(header(methods=(Method(7, bytes(16)),)).pack())
    raw = header().pack()
    with pytest.raises(_format.TruncatedFileError, match="header truncated: 40 of 64 bytes"):
        _format.parse_header(raw[: _format.FIXED_HEADER_BYTES + _format.METHOD_ENTRY_BYTES - 3])


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
    payload = _format.pack_tile(1, [0x1234, 0x5678], [b"a" * 16, b"b" * 200])
    content = _format.unpack_tile(payload)
    assert (content.method, content.checksums) == (1, (0x1234, 0x5678))
    assert content.streams == [b"a" * 16, b"b" * 200]
    head = _format.TILE_HEAD_BYTES + 2 * _format.CRC_BYTES
    assert payload[head : head + 4] == b"\x02\x10\xc8\x01"  # count, then LEB128 lengths
    with pytest.raises(CorruptStreamError, match="add up to 216, not 215"):
        _format.unpack_tile(payload[:-1])
    with pytest.raises(CorruptStreamError, match="ends inside a stream length"):
        _format.unpack_tile(payload[: head + 3])
    with pytest.raises(CorruptStreamError, match="too short"):
        _format.unpack_tile(b"\x00")
    with pytest.raises(CorruptStreamError, match="too short for its checksums"):
        _format.unpack_tile(payload[: head - 1])
    huge = payload[:head] + b"\x01\xff\xff\xff\xff\x7f"
    with pytest.raises(CorruptStreamError, match="more than 32 bits"):
        _format.unpack_tile(huge)
    many = payload[:head] + b"\xff\xff\x03"
    with pytest.raises(CorruptStreamError, match="claims 65535 streams"):
        _format.unpack_tile(many)


def test_format2_tile_payloads_are_checked() -> None:
    payload = _format.pack_v2_tile(0x1234, [b"a" * 16, b"b" * 20])
    content = _format.unpack_tile(payload, 2, 2)
    assert (content.method, content.checksums, content.streams) == (
        0,
        (0x1234,),
        [b"a" * 16, b"b" * 20],
    )
    with pytest.raises(CorruptStreamError, match="has 2 streams, expected 3"):
        _format.unpack_tile(payload, 2, 3)
    with pytest.raises(CorruptStreamError, match="add up to 36, not 35"):
        _format.unpack_tile(payload[:-1], 2, 2)
    inside_lengths = _format.V2_TILE_HEAD_BYTES + _format.LENGTH_BYTES + 1
    with pytest.raises(CorruptStreamError, match="too short for its stream lengths"):
        _format.unpack_tile(payload[:inside_lengths], 2, 2)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 1 << 21, (1 << 32) - 1])
def test_varints_roundtrip(value: int) -> None:
    raw = _format.encode_varint(value)
    assert _format.decode_varint(raw + b"x", 0) == (value, len(raw))
    assert len(raw) == max(1, -(-value.bit_length() // 7))
