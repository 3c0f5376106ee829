"""The container: header fields, checksums, bounded reads."""

from __future__ import annotations

import io
import zlib

import pytest

from pillow_l3c import _format
from pillow_l3c._format import Header
from pillow_l3c.errors import CorruptStreamError, L3cError


def header(**kw: object) -> Header:
    fields = {
        "width": 77,
        "height": 53,
        "mode": "RGB",
        "model_id": bytes(range(16)),
        "pixel_crc": 0xDEADBEEF,
        "section_count": 2,
    }
    fields.update(kw)
    return Header(**fields)  # type: ignore[arg-type]


def test_header_roundtrip_and_layout() -> None:
    raw = header().pack()
    assert len(raw) == _format.HEADER_BYTES == 46
    assert raw.startswith(b"\x89L3C\r\n\x1a\n")
    assert raw[8:10] == b"\x00\x01"  # version, big-endian
    assert raw[10:14] == (77).to_bytes(4, "big")
    assert _format.parse_header(raw) == header()


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n" + bytes(40), b"GIF89a", b"\x89L3C\n"])
def test_other_files_are_not_l3c(data: bytes) -> None:
    with pytest.raises(SyntaxError, match="not an L3C file"):
        _format.parse_header(data)


def test_text_mode_damage_is_caught() -> None:
    raw = header().pack().replace(b"\r\n", b"\n", 1)
    with pytest.raises(SyntaxError):
        _format.parse_header(raw)


def test_header_bit_flip_fails_checksum() -> None:
    raw = bytearray(header().pack())
    raw[12] ^= 0x10
    with pytest.raises(CorruptStreamError, match="header checksum"):
        _format.parse_header(bytes(raw))


def _repack(**kw: object) -> bytes:
    """A header with checksummed but invalid fields."""
    raw = bytearray(header().pack()[:-4])
    for offset, value in kw.values():  # type: ignore[misc]
        raw[offset : offset + len(value)] = value
    return bytes(raw) + zlib.crc32(bytes(raw)).to_bytes(4, "big")


def test_unknown_version_zero_size_and_mode_are_refused() -> None:
    with pytest.raises(L3cError, match="unsupported L3C format version 2"):
        _format.parse_header(_repack(v=(8, b"\x00\x02")))
    with pytest.raises(CorruptStreamError, match="invalid L3C image size 0x53"):
        _format.parse_header(_repack(w=(10, bytes(4))))
    with pytest.raises(CorruptStreamError, match="unknown L3C mode code 9"):
        _format.parse_header(_repack(m=(18, b"\x09")))
    with pytest.raises(CorruptStreamError, match="65535 sections"):
        _format.parse_header(_repack(n=(40, b"\xff\xff")))


def test_sections_roundtrip_and_checksums() -> None:
    sections = {b"LAT1": b"abc", b"PL00": bytes(1000)}
    packed = _format.pack_sections(sections)
    assert _format.read_sections(io.BytesIO(packed), 2) == sections
    damaged = bytearray(packed)
    damaged[9] ^= 1
    with pytest.raises(CorruptStreamError, match="checksum mismatch"):
        _format.read_sections(io.BytesIO(bytes(damaged)), 2)


def test_huge_length_is_truncation_not_allocation() -> None:
    packed = b"LAT1" + (0xFFFFFFF0).to_bytes(4, "big") + b"xyz"
    with pytest.raises(_format.TruncatedFileError, match="truncated"):
        _format.read_sections(io.BytesIO(packed), 1)


def test_every_truncation_of_sections_raises() -> None:
    packed = _format.pack_sections({b"LAT1": b"abcdef", b"PL00": b"xy"})
    for cut in range(len(packed)):
        with pytest.raises(CorruptStreamError):
            _format.read_sections(io.BytesIO(packed[:cut]), 2)
