"""The .l3c container: header and length-prefixed sections (docs/FORMAT.md).

Pure standard library, so that ``Image.open`` and ``l3c info`` never import torch.
Every length is checked against the bytes actually present before it is used.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pillow_l3c._constants import RANS_HEADER_BYTES
from pillow_l3c.errors import CorruptStreamError, L3cError

# Like PNG's: a high-bit byte catches 7-bit transfers, CR LF and LF catch newline
# conversion, and ^Z stops a DOS `type`.
MAGIC = b"\x89L3C\r\n\x1a\n"
VERSION = 2
MODEL_ID_BYTES = 16
MAX_DIMENSION = (1 << 31) - 1
TILE_MULTIPLE = 8  # three stride-2 scales
MIN_TILE, MAX_TILE = 8, 1 << 15

# mode name -> (code, bands); only modes stored exactly are listed.
MODES: dict[str, tuple[int, int]] = {"RGB": (1, 3), "L": (2, 1), "LA": (3, 2), "RGBA": (4, 4)}
# Metadata sections, before the tiles, and the Pillow info keys they hold; ICCP, EXIF,
# XMP and CMNT verbatim, TEXT and DPI as ``_metadata`` packs them.
METADATA_TAGS: dict[bytes, str] = {
    b"ICCP": "icc_profile",
    b"EXIF": "exif",
    b"XMP ": "xmp",
    b"TEXT": "text",
    b"DPI ": "dpi",
    b"CMNT": "comment",
}
MODE_NAMES = {code: name for name, (code, _) in MODES.items()}
TILE_TAG = b"TILE"

# The header's fields in file order (docs/FORMAT.md, "Layout"), then its CRC-32.
_HEADER_LAYOUT = (
    ("magic", f"{len(MAGIC)}s"),
    ("version", "H"),
    ("width", "I"),
    ("height", "I"),
    ("mode", "B"),
    ("reserved", "B"),
    ("model_id", f"{MODEL_ID_BYTES}s"),
    ("tile_size", "I"),
    ("metadata_count", "H"),
)
_HEAD = struct.Struct(">" + "".join(code for _, code in _HEADER_LAYOUT))
_CRC = struct.Struct(">I")
_SECTION = struct.Struct(">4sI")  # tag, payload length
_TILE_HEAD = struct.Struct(">IB")  # pixel CRC-32, number of streams
_LENGTH = struct.Struct(">I")
HEADER_BYTES = _HEAD.size + _CRC.size
RANS_MIN_BYTES = RANS_HEADER_BYTES  # no stream is shorter than its rANS header


def _header_fields() -> dict[str, slice]:
    fields, offset = {}, 0
    for name, code in _HEADER_LAYOUT:
        size = struct.calcsize(">" + code)
        fields[name] = slice(offset, offset + size)
        offset += size
    fields["crc"] = slice(offset, offset + _CRC.size)
    return fields


# Where each header field lies, for tests and tools: raw[HEADER_FIELDS["width"]] are
# its 4 bytes; "crc" is the CRC-32 of every byte before it.
HEADER_FIELDS: dict[str, slice] = _header_fields()
# A section: tag and payload length (SECTION_HEAD_BYTES), payload, CRC-32 (CRC_BYTES).
SECTION_FIELDS: dict[str, slice] = {"tag": slice(0, 4), "length": slice(4, _SECTION.size)}
SECTION_HEAD_BYTES = _SECTION.size
CRC_BYTES = _CRC.size
# A tile's payload: pixel CRC-32 and stream count (TILE_HEAD_BYTES), then one length
# (LENGTH_BYTES) per stream, then the streams.
TILE_HEAD_BYTES = _TILE_HEAD.size
LENGTH_BYTES = _LENGTH.size


class NotL3cError(L3cError):
    """The bytes do not start with an L3C header.

    An ``L3cError``, so that ``except OSError`` catches it as every other error of the
    package; the Pillow plugin's ``_open`` turns it into the ``SyntaxError`` that makes
    Pillow move on to other plugins (a class cannot derive from both).
    """


class TruncatedFileError(CorruptStreamError):
    """The file ends before a length in it says it should."""


@dataclass(frozen=True)
class Tile:
    """One independently coded square of the image (the last row and column may be smaller)."""

    index: int
    top: int
    left: int
    height: int
    width: int


@dataclass
class Header:
    width: int
    height: int
    mode: str
    model_id: bytes
    tile_size: int
    metadata_count: int
    version: int = VERSION

    @property
    def planes(self) -> int:
        return MODES[self.mode][1]

    @property
    def rows(self) -> int:
        """Rows of tiles."""
        return -(-self.height // self.tile_size)

    @property
    def columns(self) -> int:
        """Tiles in a row."""
        return -(-self.width // self.tile_size)

    def tile(self, row: int, column: int) -> Tile:
        """The tile at ``row``, ``column`` of the grid; the last row and column are cut
        to the image."""
        t = self.tile_size
        top, left = row * t, column * t
        return Tile(
            row * self.columns + column,
            top,
            left,
            min(t, self.height - top),
            min(t, self.width - left),
        )

    def tiles(self) -> Iterator[Tile]:
        """The tiles in file order: rows of tiles from the top, each from the left.

        A generator: a damaged header may claim millions of tiles, and the reader
        stops at the first one missing from the file."""
        for row in range(self.rows):
            for column in range(self.columns):
                yield self.tile(row, column)

    def tile_count(self) -> int:
        return self.rows * self.columns

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
            self.tile_size,
            self.metadata_count,
        )
        return head + _CRC.pack(zlib.crc32(head))


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
    _, version, width, height, code, reserved, model_id, tile, count = _HEAD.unpack(head)
    if version != VERSION:
        msg = f"unsupported L3C format version {version} (this reader knows {VERSION})"
        raise L3cError(msg)
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        msg = f"invalid L3C image size {width}x{height}"
        raise CorruptStreamError(msg)
    if code not in MODE_NAMES or reserved != 0:
        msg = f"unknown L3C mode code {code}"
        raise CorruptStreamError(msg)
    if not (MIN_TILE <= tile <= MAX_TILE and tile % TILE_MULTIPLE == 0):
        msg = f"invalid L3C tile size {tile}"
        raise CorruptStreamError(msg)
    if count > len(METADATA_TAGS):
        msg = f"L3C header announces {count} metadata sections (at most {len(METADATA_TAGS)})"
        raise CorruptStreamError(msg)
    return Header(width, height, MODE_NAMES[code], model_id, tile, count, version)


def pack_tile(pixel_crc: int, streams: list[bytes]) -> bytes:
    """A tile section's payload: the CRC-32 of its pixels, then its length-prefixed streams."""
    lengths = b"".join(_LENGTH.pack(len(s)) for s in streams)
    return _TILE_HEAD.pack(pixel_crc, len(streams)) + lengths + b"".join(streams)


def unpack_tile(payload: bytes, streams: int) -> tuple[int, list[bytes]]:
    """(pixel CRC-32, streams) of a tile section; every length checked against the payload."""
    if len(payload) < _TILE_HEAD.size:
        msg = "L3C tile section is too short"
        raise CorruptStreamError(msg)
    crc, count = _TILE_HEAD.unpack_from(payload)
    if count != streams:
        msg = f"L3C tile has {count} streams, expected {streams}"
        raise CorruptStreamError(msg)
    pos = _TILE_HEAD.size + count * _LENGTH.size
    if pos > len(payload):
        msg = "L3C tile section is too short for its stream lengths"
        raise CorruptStreamError(msg)
    lengths = [
        _LENGTH.unpack_from(payload, _TILE_HEAD.size + _LENGTH.size * i)[0] for i in range(count)
    ]
    if pos + sum(lengths) != len(payload):
        msg = f"L3C tile stream lengths add up to {sum(lengths)}, not {len(payload) - pos}"
        raise CorruptStreamError(msg)
    out = []
    for n in lengths:
        out.append(payload[pos : pos + n])
        pos += n
    return crc, out


def min_tile_bytes(streams: int) -> int:
    """The smallest a tile section can be: no stream is shorter than its rANS header."""
    return _SECTION.size + _TILE_HEAD.size + streams * (_LENGTH.size + RANS_MIN_BYTES) + _CRC.size


def model_file_id(path: Path) -> bytes:
    """The id a file's header gives its model: the first 16 bytes of the SHA-256 of
    the model file (its exported TorchScript bytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()[:MODEL_ID_BYTES]


def read_header(fp: BinaryIO) -> Header:
    return parse_header(fp.read(HEADER_BYTES))


def read_metadata(fp: BinaryIO, count: int) -> dict[bytes, bytes]:
    """The ``count`` metadata sections that follow the header, each checked by its CRC-32."""
    metadata: dict[bytes, bytes] = {}
    for _ in range(count):
        tag, payload = _read_section(fp)
        if tag not in METADATA_TAGS:
            msg = f"L3C section {tag!r} is not a metadata section"
            raise CorruptStreamError(msg)
        _add_section(metadata, tag, payload)
    return metadata


def read_tile(fp: BinaryIO) -> bytes:
    """The payload of the next tile section."""
    tag, payload = _read_section(fp)
    if tag != TILE_TAG:
        msg = f"L3C section {tag!r} where a tile was expected"
        raise CorruptStreamError(msg)
    return payload


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


def pack_section(tag: bytes, payload: bytes) -> bytes:
    crc = _CRC.pack(zlib.crc32(payload, zlib.crc32(tag)))
    return _SECTION.pack(tag, len(payload)) + payload + crc


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


@dataclass(frozen=True)
class SectionSpan:
    """Where one section's payload lies in a file, found without reading it."""

    tag: bytes
    offset: int
    length: int

    @property
    def end(self) -> int:
        """Where the next section starts (after this one's checksum)."""
        return self.offset + self.length + _CRC.size


def skip_section(fp: BinaryIO, file_size: int) -> SectionSpan:
    """The span of the section at ``fp``, leaving ``fp`` after its checksum.

    Only its 8-byte head is read: a reader that wants one tile of a large file walks
    the sections before it this way and never reads their coded data. The length is
    checked against ``file_size`` before it is used, so a damaged length cannot send
    the walk past the end. The payload's checksum is checked when it is read."""
    start = fp.tell()
    tag, length = _SECTION.unpack(_read_exact(fp, _SECTION.size))
    offset = start + _SECTION.size
    if offset + length + _CRC.size > file_size:
        msg = f"L3C file is truncated: section {tag!r} at byte {start} needs {length} bytes"
        raise TruncatedFileError(msg)
    span = SectionSpan(tag, offset, length)
    fp.seek(span.end)
    return span


def read_section_at(fp: BinaryIO, span: SectionSpan) -> bytes:
    """The payload of the section at ``span``, checked against its CRC-32."""
    fp.seek(span.offset - _SECTION.size)
    tag, payload = _read_section(fp)
    if tag != span.tag or len(payload) != span.length:
        msg = "L3C file changed while it was read"
        raise CorruptStreamError(msg)
    return payload
