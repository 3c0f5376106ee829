"""A P image's palette and transparency as the PLTE and TRNS sections (docs/FORMAT.md).

A palette image is its index plane (coded as a tile's one band) and these two: PNG
keeps them so, and an index plane without its palette is not the image. Pillow gives
the palette as ``im.palette.mode`` ("RGB" or "RGBA") and its bytes, and transparency
as ``im.info["transparency"]``: one index, or one alpha byte per palette entry.
"""

from __future__ import annotations

import struct
from typing import Any

from pillow_l3c._format import PALETTE_TAG, TRANSPARENCY_TAG
from pillow_l3c.errors import CorruptStreamError

PALETTE_MODES = {"RGB": 0, "RGBA": 1}
_BYTES_PER_ENTRY = {"RGB": 3, "RGBA": 4}
_INDEX, _ALPHAS = 0, 1
_TRNS_INDEX = struct.Struct(">BH")  # room for 16 bits; an 8-bit index plane uses 0 .. 255
MAX_INDEX = 255


def sections(im: Any) -> dict[bytes, bytes]:
    """PLTE (and TRNS, if it has one) of Pillow P image ``im``."""
    palette = im.palette
    mode = palette.mode if palette is not None else "RGB"
    if mode not in PALETTE_MODES:
        msg = f"cannot write a P image with a {mode} palette as L3C"
        raise OSError(msg)
    data = bytes(im.getpalette(mode) or b"")
    out = {PALETTE_TAG: bytes([PALETTE_MODES[mode]]) + data}
    transparency = im.encoderinfo.get("transparency", im.info.get("transparency"))
    if isinstance(transparency, int | bytes | bytearray) and not _fits(transparency):
        # What ``transparency`` refuses on read: a file this writes must open.
        msg = (
            "transparency of a P image is an index from 0 to 255 or up to 256 alpha "
            f"bytes, got {transparency if isinstance(transparency, int) else len(transparency)}"
        )
        raise ValueError(msg)
    if isinstance(transparency, int):
        out[TRANSPARENCY_TAG] = _TRNS_INDEX.pack(_INDEX, transparency)
    elif isinstance(transparency, bytes | bytearray):
        out[TRANSPARENCY_TAG] = bytes([_ALPHAS]) + bytes(transparency)
    elif transparency is not None:
        msg = f"transparency of a P image is an index or bytes, got {type(transparency).__name__}"
        raise TypeError(msg)
    return out


def _fits(transparency: int | bytes | bytearray) -> bool:
    """Whether a transparency names a palette entry (an index) or alphas for at most
    all 256 of them: an index plane has no other."""
    if isinstance(transparency, int):
        return 0 <= transparency <= MAX_INDEX
    return len(transparency) <= MAX_INDEX + 1


def palette(payload: bytes) -> tuple[str, bytes]:
    """(mode, bytes) of a PLTE section; at most 256 whole entries."""
    modes = {v: k for k, v in PALETTE_MODES.items()}
    if not payload or payload[0] not in modes:
        msg = "L3C palette section has an unknown palette mode"
        raise CorruptStreamError(msg)
    mode, data = modes[payload[0]], payload[1:]
    size = _BYTES_PER_ENTRY[mode]
    if len(data) % size or len(data) > 256 * size:
        msg = f"L3C palette section holds {len(data)} bytes: not up to 256 {mode} entries"
        raise CorruptStreamError(msg)
    return mode, data


def transparency(payload: bytes) -> int | bytes:
    """The ``info["transparency"]`` of a TRNS section: an index, or alpha bytes."""
    if payload[:1] == bytes([_INDEX]) and len(payload) == _TRNS_INDEX.size:
        index = _TRNS_INDEX.unpack(payload)[1]
        if index <= MAX_INDEX:
            return index
    elif payload[:1] == bytes([_ALPHAS]) and len(payload) <= MAX_INDEX + 2:
        return payload[1:]
    msg = "L3C transparency section is damaged"
    raise CorruptStreamError(msg)
