"""The .l3c container: header and length-prefixed sections (docs/FORMAT.md).

Pure standard library, so that ``Image.open`` and ``l3c info`` never import torch.
Every length is checked against the bytes actually present before it is used.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from pillow_l3c.errors import CorruptStreamError, L3cError

# Like PNG's: a high-bit byte catches 7-bit transfers, CR LF and LF catch newline
# conversion, and ^Z stops a DOS `type`.
MAGIC = b"\x89L3C\r\n\x1a\n"
VERSION = 1
MODEL_ID_BYTES = 16
MAX_DIMENSION = (1 << 31) - 1
MAX_SECTIONS = 64

# mode name -> (code, bands); only modes stored exactly are listed.
MODES: dict[str, tuple[int, int]] = {"RGB": (1, 3), "L": (2, 1), "LA": (3, 2), "RGBA": (4, 4)}
# Metadata sections, stored verbatim before the coded ones, and their Pillow info keys.
METADATA_TAGS: dict[bytes, str] = {b"ICCP": "icc_profile", b"EXIF": "exif", b"XMP ": "xmp"}
MODE_NAMES = {code: name for name, (code, _) in MODES.items()}

_HEAD = struct.Struct(">8sHIIBB16sIH")  # magic .. number of sections
_CRC = struct.Struct(">I")
_SECTION = struct.Struct(">4sI")
HEADER_BYTES = _HEAD.size + _CRC.size


class NotL3cError(SyntaxError):
    """The bytes do not start with an L3C header (Pillow moves on to other plugins)."""


class TruncatedFileError(CorruptStreamError):
    """The file ends before a length in it says it should."""


@dataclass
class Header:
    width: int
    height: int
    mode: str
    model_id: bytes
    pixel_crc: int
    section_count: int
    version: int = VERSION

    @property
    def planes(self) -> int:
        return MODES[self.mode][1]

    def pack(self) -> bytes:
        code = MODES[self.mode][0]
        head = _HEAD.pack(
            MAGIC,
            self.version,
            self.width,
            self.height,
            code,
            0,
            self.model_id,
            self.pixel_crc,
            self.section_count,
        )
        return head + _CRC.pack(zlib.crc32(head))


@dataclass
class Container:
    header: Header
    sections: dict[bytes, bytes] = field(default_factory=dict)


def parse_header(data: bytes) -> Header:
    """Parse and validate the fixed header.

    Raises:
        NotL3cError: wrong magic (not an L3C file at all), or too short to tell.
        CorruptStreamError: an L3C file whose header is damaged or unsupported.
    """
    if len(data) < len(MAGIC) or not data.startswith(MAGIC):
        msg = "not an L3C file"
        raise NotL3cError(msg)
    if len(data) < HEADER_BYTES:
        msg = f"L3C header truncated: {len(data)} of {HEADER_BYTES} bytes"
        raise TruncatedFileError(msg)
    head = data[: _HEAD.size]
    (crc,) = _CRC.unpack_from(data, _HEAD.size)
    if zlib.crc32(head) != crc:
        msg = "L3C header checksum mismatch (damaged file)"
        raise CorruptStreamError(msg)
    _, version, width, height, code, reserved, model_id, pixel_crc, count = _HEAD.unpack(head)
    if version != VERSION:
        msg = f"unsupported L3C format version {version} (this reader knows {VERSION})"
        raise L3cError(msg)
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        msg = f"invalid L3C image size {width}x{height}"
        raise CorruptStreamError(msg)
    if code not in MODE_NAMES or reserved != 0:
        msg = f"unknown L3C mode code {code}"
        raise CorruptStreamError(msg)
    if count > MAX_SECTIONS:
        msg = f"L3C header announces {count} sections (at most {MAX_SECTIONS})"
        raise CorruptStreamError(msg)
    return Header(width, height, MODE_NAMES[code], model_id, pixel_crc, count, version)


def read_header(fp: BinaryIO) -> Header:
    return parse_header(fp.read(HEADER_BYTES))


def read_sections(fp: BinaryIO, count: int) -> dict[bytes, bytes]:
    """Read ``count`` sections, each checked by its CRC-32.

    Lengths are never trusted: a section is read in bounded pieces, so a length that
    points past the end of the file costs no memory and raises TruncatedFileError.
    """
    sections: dict[bytes, bytes] = {}
    for _ in range(count):
        _add_section(sections, *_read_section(fp))
    return sections


def read_metadata(fp: BinaryIO, count: int) -> dict[bytes, bytes]:
    """Read the metadata sections at the start of the ``count`` sections.

    Stops before the first coded section (``fp`` is left at its start), so that
    ``Image.open`` gets the metadata without reading the image data.
    """
    metadata: dict[bytes, bytes] = {}
    for _ in range(count):
        start = fp.tell()
        tag = fp.read(4)
        fp.seek(start)
        if tag not in METADATA_TAGS:
            break
        _add_section(metadata, *_read_section(fp))
    return metadata


def _add_section(sections: dict[bytes, bytes], tag: bytes, payload: bytes) -> None:
    if tag in sections:
        msg = f"L3C section {tag!r} appears twice"
        raise CorruptStreamError(msg)
    sections[tag] = payload


def _read_section(fp: BinaryIO) -> tuple[bytes, bytes]:
    tag, length = _SECTION.unpack(_read_exact(fp, _SECTION.size))
    payload = _read_exact(fp, length)
    (crc,) = _CRC.unpack(_read_exact(fp, _CRC.size))
    if zlib.crc32(payload, zlib.crc32(tag)) != crc:
        msg = f"L3C section {tag!r} checksum mismatch (damaged file)"
        raise CorruptStreamError(msg)
    return tag, payload


def pack_sections(sections: dict[bytes, bytes]) -> bytes:
    out = []
    for tag, payload in sections.items():
        out.append(_SECTION.pack(tag, len(payload)))
        out.append(payload)
        out.append(_CRC.pack(zlib.crc32(payload, zlib.crc32(tag))))
    return b"".join(out)


def _read_exact(fp: BinaryIO, size: int, block: int = 1 << 20) -> bytes:
    parts = []
    remaining = size
    while remaining:
        chunk = fp.read(min(block, remaining))
        if not chunk:
            msg = f"L3C file is truncated ({size - remaining} of {size} bytes of a section)"
            raise TruncatedFileError(msg)
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)
