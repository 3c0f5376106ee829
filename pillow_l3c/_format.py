"""The .l3c container: header and length-prefixed sections (docs/FORMAT.md).

Pure standard library, so that ``Image.open`` and ``l3c info`` never import torch.
Every length is checked against the bytes actually present before it is used.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pillow_l3c._constants import RANS_HEADER_BYTES
from pillow_l3c.errors import CorruptStreamError, L3cError
from pillow_l3c.tile_coders.base import CLASSICAL, LEARNED, METHOD_ID_BYTES, Method

# Like PNG's: a high-bit byte catches 7-bit transfers, CR LF and LF catch newline
# conversion, and ^Z stops a DOS `type`.
MAGIC = b"\x89L3C\r\n\x1a\n"
VERSION = 3  # what this writer writes
READABLE = (2, 3)  # what this reader reads
MODEL_ID_BYTES = METHOD_ID_BYTES
MAX_DIMENSION = (1 << 31) - 1
TILE_MULTIPLE = 8  # three stride-2 scales
MIN_TILE, MAX_TILE = 8, 1 << 15
MAX_METHODS = 255
BITS_PER_SAMPLE = (8, 16)  # 16: format 3, the modes in DEEP_MODES (docs/FORMAT.md)

# mode name -> (code, bands); only modes stored exactly are listed. P is a band of
# palette indices (its palette and transparency in the PLTE and TRNS sections), 1 a
# band of 0 and 1; both are format 3 only.
MODES: dict[str, tuple[int, int]] = {
    "RGB": (1, 3),
    "L": (2, 1),
    "LA": (3, 2),
    "RGBA": (4, 4),
    "P": (5, 1),
    "1": (6, 1),
}
V2_MODES = frozenset({"RGB", "L", "LA", "RGBA"})
DEEP_MODES = V2_MODES  # the modes whose samples may have 16 bits
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
# Sections that define the pixels of a P image (format 3): its palette and transparency.
PALETTE_TAG, TRANSPARENCY_TAG = b"PLTE", b"TRNS"
IMAGE_TAGS = frozenset({PALETTE_TAG, TRANSPARENCY_TAG})
LEADING_TAGS = frozenset(METADATA_TAGS) | IMAGE_TAGS  # the sections before the tiles
MODE_NAMES = {code: name for name, (code, _) in MODES.items()}
TILE_TAG = b"TILE"

# Format 3's fixed header fields in file order (docs/FORMAT.md, "Layout"); then the
# method table (METHOD_ENTRY_BYTES per method) and the CRC-32 of all bytes before it.
_HEADER_LAYOUT = (
    ("magic", f"{len(MAGIC)}s"),
    ("version", "H"),
    ("width", "I"),
    ("height", "I"),
    ("mode", "B"),
    ("bits", "B"),
    ("tile_size", "I"),
    ("metadata_count", "B"),
    ("method_count", "B"),
)
# Format 2's, whose one model id stands where format 3 has its method table.
_V2_LAYOUT = (
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
_V2_HEAD = struct.Struct(">" + "".join(code for _, code in _V2_LAYOUT))
_METHOD = struct.Struct(f">B{METHOD_ID_BYTES}s")
_VERSION = struct.Struct(">H")
_CRC = struct.Struct(">I")
_SECTION = struct.Struct(">4sI")  # tag, payload length
_V2_TILE_HEAD = struct.Struct(">IB")  # pixel CRC-32, number of streams
_TILE_HEAD = struct.Struct(">BB")  # method index, number of checksums
_LENGTH = struct.Struct(">I")
FIXED_HEADER_BYTES = _HEAD.size
METHOD_ENTRY_BYTES = _METHOD.size
V2_HEADER_BYTES = _V2_HEAD.size + _CRC.size
MAX_HEADER_BYTES = _HEAD.size + MAX_METHODS * _METHOD.size + _CRC.size
RANS_MIN_BYTES = RANS_HEADER_BYTES  # no rANS stream is shorter than its header
MAX_VARINT_BYTES = 5  # a LEB128 length of up to 2^32 - 1


def _fields(layout: tuple[tuple[str, str], ...]) -> dict[str, slice]:
    fields, offset = {}, 0
    for name, code in layout:
        size = struct.calcsize(">" + code)
        fields[name] = slice(offset, offset + size)
        offset += size
    return fields


# Where each fixed header field lies, for tests and tools: raw[HEADER_FIELDS["width"]]
# are its 4 bytes. The method table follows at FIXED_HEADER_BYTES, then the CRC.
HEADER_FIELDS: dict[str, slice] = _fields(_HEADER_LAYOUT)
V2_HEADER_FIELDS: dict[str, slice] = {
    **_fields(_V2_LAYOUT),
    "crc": slice(_V2_HEAD.size, _V2_HEAD.size + _CRC.size),
}
# A section: tag and payload length (SECTION_HEAD_BYTES), payload, CRC-32 (CRC_BYTES).
SECTION_FIELDS: dict[str, slice] = {"tag": slice(0, 4), "length": slice(4, _SECTION.size)}
SECTION_HEAD_BYTES = _SECTION.size
CRC_BYTES = _CRC.size
# A format-3 tile's payload: method index and checksum count (TILE_HEAD_BYTES), the
# checksums (CRC_BYTES each), the stream count and each stream's length (LEB128
# varints), then the streams. Format 2's: pixel CRC-32 and stream count
# (V2_TILE_HEAD_BYTES), a LENGTH_BYTES length per stream, the streams.
TILE_HEAD_BYTES = _TILE_HEAD.size
V2_TILE_HEAD_BYTES = _V2_TILE_HEAD.size
LENGTH_BYTES = _LENGTH.size


class NotL3cError(L3cError):
    """The bytes do not start with an L3C header.

    An ``L3cError`` (an ``OSError``) like every error of the package, so that
    ``except OSError`` around ``pillow_l3c.decode`` catches it. The Pillow plugin turns
    it into a ``SyntaxError`` in ``_open``, which is how Pillow learns to try its other
    plugins (a class cannot derive from both: their layouts conflict).
    """


class NewerFormatError(L3cError):
    """A file of a format version this reader does not know yet (a newer writer's)."""


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
    """A file's fixed header: the image, its tile grid and the methods its tiles use."""

    width: int
    height: int
    mode: str
    tile_size: int
    metadata_count: int
    methods: tuple[Method, ...]
    version: int = VERSION
    bits: int = 8

    @property
    def planes(self) -> int:
        return MODES[self.mode][1]

    @property
    def model_id(self) -> bytes:
        """The id of the file's first learned model (format 2's only one), else b""."""
        return next((m.id for m in self.methods if m.kind == LEARNED), b"")

    @property
    def byte_size(self) -> int:
        """The header's length in the file: where its first section starts."""
        if self.version == 2:
            return V2_HEADER_BYTES
        return _HEAD.size + len(self.methods) * _METHOD.size + _CRC.size

    @property
    def rows(self) -> int:
        """Rows of tiles."""
        return -(-self.height // self.tile_size)

    @property
    def columns(self) -> int:
        """Tiles in a row."""
        return -(-self.width // self.tile_size)

    def tile(self, row: int, column: int) -> Tile:
        """The tile at ``row``, ``column``; the last row and column are cut to the image."""
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
        if self.version == 2:
            if len(self.methods) != 1 or self.methods[0].kind != LEARNED:
                msg = "a format-2 header names exactly one learned model"
                raise ValueError(msg)
            head = _V2_HEAD.pack(
                MAGIC,
                2,
                self.width,
                self.height,
                code,
                0,
                self.model_id,
                self.tile_size,
                self.metadata_count,
            )
        else:
            fixed = _HEAD.pack(
                MAGIC,
                self.version,
                self.width,
                self.height,
                code,
                self.bits,
                self.tile_size,
                self.metadata_count,
                len(self.methods),
            )
            head = fixed + b"".join(_METHOD.pack(m.kind, m.id) for m in self.methods)
        return head + _CRC.pack(zlib.crc32(head))


def header_version(data: bytes) -> int:
    """The format version of the bytes at a file's start; NotL3cError if not L3C.

    A version this reader does not know is told apart from damage only by being
    larger than the largest it reads (a newer writer's file says so, never "cannot
    identify"), before any checksum: a newer header's layout is not known here.
    """
    if len(data) < len(MAGIC) or not data.startswith(MAGIC):
        msg = "not an L3C file"
        raise NotL3cError(msg)
    if len(data) < len(MAGIC) + _VERSION.size:
        msg = f"L3C header truncated: {len(data)} bytes"
        raise TruncatedFileError(msg)
    (version,) = _VERSION.unpack_from(data, len(MAGIC))
    if version > max(READABLE):
        readable = " and ".join(map(str, READABLE))
        msg = f"written by a newer pillow-l3c (format {version}); this one reads formats {readable}"
        raise NewerFormatError(msg)
    if version not in READABLE:
        msg = f"unsupported L3C format version {version} (this reader knows {READABLE})"
        raise L3cError(msg)
    return version


def header_size(data: bytes) -> int:
    """The length of the header at the start of ``data`` (given enough bytes to tell)."""
    if header_version(data) == 2:
        return V2_HEADER_BYTES
    if len(data) < _HEAD.size:
        msg = f"L3C header truncated: {len(data)} of {_HEAD.size} bytes"
        raise TruncatedFileError(msg)
    methods = data[HEADER_FIELDS["method_count"].start]
    return _HEAD.size + methods * _METHOD.size + _CRC.size


def parse_header(data: bytes) -> Header:
    """Parse and validate the header at the start of ``data`` (bytes after it ignored).

    Raises:
        NotL3cError: wrong magic (not an L3C file at all), or too short to tell.
        NewerFormatError: a format version this reader does not know yet.
        CorruptStreamError: an L3C file whose header is damaged or unsupported.
    """
    version = header_version(data)
    size = header_size(data)
    if len(data) < size:
        msg = f"L3C header truncated: {len(data)} of {size} bytes"
        raise TruncatedFileError(msg)
    head = data[: size - _CRC.size]
    (crc,) = _CRC.unpack_from(data, size - _CRC.size)
    if zlib.crc32(head) != crc:
        msg = "L3C header checksum mismatch (damaged file)"
        raise CorruptStreamError(msg)
    if version == 2:
        _, _, width, height, code, reserved, model_id, tile, count = _V2_HEAD.unpack(head)
        methods: tuple[Method, ...] = (Method(LEARNED, model_id),)
        bits, max_count = (8 if reserved == 0 else -1), 3
    else:
        _, _, width, height, code, bits, tile, count, n = _HEAD.unpack_from(head)
        methods = tuple(
            Method(*_METHOD.unpack_from(head, _HEAD.size + i * _METHOD.size)) for i in range(n)
        )
        max_count = len(LEADING_TAGS)
        _check_methods(methods)
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        msg = f"invalid L3C image size {width}x{height}"
        raise CorruptStreamError(msg)
    if code not in MODE_NAMES or (version == 2 and MODE_NAMES[code] not in V2_MODES):
        msg = f"unknown L3C mode code {code}"
        raise CorruptStreamError(msg)
    if bits not in BITS_PER_SAMPLE:
        msg = f"L3C files of {bits} bits per sample are not supported (this reader: 8 and 16)"
        raise CorruptStreamError(msg)
    if bits != 8 and MODE_NAMES[code] not in DEEP_MODES:
        msg = f"L3C file of mode {MODE_NAMES[code]} claims {bits} bits per sample"
        raise CorruptStreamError(msg)
    if not (MIN_TILE <= tile <= MAX_TILE and tile % TILE_MULTIPLE == 0):
        msg = f"invalid L3C tile size {tile}"
        raise CorruptStreamError(msg)
    if count > max_count:
        msg = f"L3C header announces {count} metadata sections (at most {max_count})"
        raise CorruptStreamError(msg)
    return Header(width, height, MODE_NAMES[code], tile, count, methods, version, bits)


def _check_methods(methods: tuple[Method, ...]) -> None:
    if not methods:
        msg = "L3C header lists no coding method"
        raise CorruptStreamError(msg)
    if len(set(methods)) != len(methods):
        msg = "L3C header lists a coding method twice"
        raise CorruptStreamError(msg)
    for m in methods:
        if m.kind not in (LEARNED, CLASSICAL):
            msg = f"L3C header lists a coding method of unknown kind {m.kind}"
            raise CorruptStreamError(msg)


def encode_varint(value: int) -> bytes:
    """``value`` (0 .. 2^32 - 1) as an unsigned LEB128 varint."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at ``pos``; every read bounded."""
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(data):
            msg = "L3C tile section ends inside a stream length"
            raise CorruptStreamError(msg)
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value >= 1 << 32:
                break
            return value, pos + i + 1
    msg = "L3C tile section has a stream length of more than 32 bits"
    raise CorruptStreamError(msg)


@dataclass(frozen=True)
class TilePayload:
    """A tile section's content: which method coded it, its checksums, its streams."""

    method: int  # index into the header's method table
    checksums: tuple[int, ...]
    streams: list[bytes]


def pack_tile(method: int, checksums: list[int], streams: list[bytes]) -> bytes:
    """A format-3 tile section's payload."""
    if not 1 <= len(checksums) <= 255:
        msg = f"a tile has 1 to 255 checksums, got {len(checksums)}"
        raise ValueError(msg)
    head = _TILE_HEAD.pack(method, len(checksums)) + b"".join(_CRC.pack(c) for c in checksums)
    lengths = encode_varint(len(streams)) + b"".join(encode_varint(len(s)) for s in streams)
    return head + lengths + b"".join(streams)


def pack_v2_tile(pixel_crc: int, streams: list[bytes]) -> bytes:
    """A format-2 tile section's payload (for tests of the format-2 reader)."""
    lengths = b"".join(_LENGTH.pack(len(s)) for s in streams)
    return _V2_TILE_HEAD.pack(pixel_crc, len(streams)) + lengths + b"".join(streams)


def unpack_tile(payload: bytes, version: int = VERSION, v2_streams: int = 0) -> TilePayload:
    """The method, checksums and streams of a tile section, every length checked
    against the payload. A format-2 tile names no method (its file has one) and its
    stream count must be ``v2_streams``."""
    if version == 2:
        return _unpack_v2_tile(payload, v2_streams)
    if len(payload) < _TILE_HEAD.size:
        msg = "L3C tile section is too short"
        raise CorruptStreamError(msg)
    method, count = _TILE_HEAD.unpack_from(payload)
    pos = _TILE_HEAD.size + count * _CRC.size
    if count == 0 or pos > len(payload):
        msg = "L3C tile section is too short for its checksums"
        raise CorruptStreamError(msg)
    checksums = tuple(
        _CRC.unpack_from(payload, _TILE_HEAD.size + i * _CRC.size)[0] for i in range(count)
    )
    streams, pos = decode_varint(payload, pos)
    if streams > len(payload) - pos:  # each length takes a byte: bounded before the loop
        msg = f"L3C tile section claims {streams} streams"
        raise CorruptStreamError(msg)
    lengths = []
    for _ in range(streams):
        n, pos = decode_varint(payload, pos)
        lengths.append(n)
    return TilePayload(method, checksums, _split(payload, pos, lengths))


def _split(payload: bytes, pos: int, lengths: list[int]) -> list[bytes]:
    if pos + sum(lengths) != len(payload):
        msg = f"L3C tile stream lengths add up to {sum(lengths)}, not {len(payload) - pos}"
        raise CorruptStreamError(msg)
    out = []
    for n in lengths:
        out.append(payload[pos : pos + n])
        pos += n
    return out


def _unpack_v2_tile(payload: bytes, streams: int) -> TilePayload:
    if len(payload) < _V2_TILE_HEAD.size:
        msg = "L3C tile section is too short"
        raise CorruptStreamError(msg)
    crc, count = _V2_TILE_HEAD.unpack_from(payload)
    if count != streams:
        msg = f"L3C tile has {count} streams, expected {streams}"
        raise CorruptStreamError(msg)
    pos = _V2_TILE_HEAD.size + count * _LENGTH.size
    if pos > len(payload):
        msg = "L3C tile section is too short for its stream lengths"
        raise CorruptStreamError(msg)
    lengths = [
        _LENGTH.unpack_from(payload, _V2_TILE_HEAD.size + _LENGTH.size * i)[0] for i in range(count)
    ]
    return TilePayload(0, (crc,), _split(payload, pos, lengths))


def min_tile_bytes(version: int, v2_streams: int = 0) -> int:
    """The smallest a tile section can be: a bound that refuses a few bytes that claim
    gigapixels before the pixels are allocated."""
    if version == 2:  # no rANS stream is shorter than its header
        streams = v2_streams * (_LENGTH.size + RANS_MIN_BYTES)
        return _SECTION.size + _V2_TILE_HEAD.size + streams + _CRC.size
    return _SECTION.size + _TILE_HEAD.size + _CRC.size + 1 + _CRC.size


def read_header(fp: BinaryIO) -> Header:
    """The header at ``fp``'s position, leaving ``fp`` just after it."""
    data = fp.read(len(MAGIC) + _VERSION.size)
    header_version(data)
    data += fp.read(FIXED_HEADER_BYTES - len(data))
    need = header_size(data)
    if need > len(data):
        data += fp.read(need - len(data))
    elif len(data) > need:  # a format-2 header is shorter than format 3's fixed part
        fp.seek(need - len(data), io.SEEK_CUR)
        data = data[:need]
    return parse_header(data)


def read_metadata(fp: BinaryIO, count: int) -> dict[bytes, bytes]:
    """The ``count`` metadata sections that follow the header, each checked by its CRC-32."""
    metadata: dict[bytes, bytes] = {}
    for _ in range(count):
        tag, payload = _read_section(fp)
        if tag not in LEADING_TAGS:
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
