"""What an image carries besides its pixels, and the one place that decides where it goes.

A lossless format is trusted with originals, so every path in and out of .l3c (the
Pillow plugin, imageio, ``pillow_l3c.encode``, each ``l3c`` verb, the Dask layer)
takes its metadata from here:

- ``Metadata.from_image`` collects what a Pillow image carries (ICC profile, EXIF,
  XMP, PNG text chunks, dpi, a JPEG or GIF comment) and names what the format cannot
  hold (a PNG gamma, a colour-key transparency, ...), which the caller warns about;
- ``to_sections`` / ``from_sections`` are the file's metadata sections
  (docs/FORMAT.md, "Metadata");
- ``save_params`` turns it into the save parameters of an output format and names
  what that format cannot hold, and ``lossless_save_params`` refuses an output format
  that would not store the decoded pixels exactly.

No numpy and no torch: ``Image.open`` of a .l3c and ``l3c info`` stay light.
"""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pillow_l3c._format import IMAGE_TAGS, METADATA_TAGS
from pillow_l3c.errors import CorruptStreamError, MetadataNotKeptWarning

# Section tag -> the Pillow ``info`` key it holds (docs/FORMAT.md, "Metadata").
SECTION_KEYS = METADATA_TAGS
# ``info`` entries that Pillow's readers set, that change what the image means or
# how it is shown, and that .l3c has no place for: saving drops them with a warning.
NOT_STORED: dict[str, str] = {
    "transparency": "a colour-key transparency",
    "gamma": "a PNG gamma",
    "chromaticity": "PNG chromaticities",
    "srgb": "a PNG sRGB rendering intent",
    "aspect": "a pixel aspect ratio",
}
XMP_PNG_KEY = "XML:com.adobe.xmp"
# ``info`` entries with str values that are not text chunks: how a file was coded
# (TIFF's "compression"), or metadata kept in its own section (PNG's XMP chunk).
NOT_TEXT = frozenset(
    {"compression", "xmp", XMP_PNG_KEY, "icc_profile", "exif", "comment", "model_id"}
)

_TEXT_ENTRY = struct.Struct(">BHHHI")  # international?, key, language, translated key, value
_DPI = struct.Struct(">dd")


@dataclass
class TextEntry:
    """One PNG text chunk: tEXt/zTXt (``international`` False) or iTXt with its language."""

    value: str
    international: bool = False
    language: str = ""
    translated_key: str = ""


@dataclass
class Metadata:
    """Everything an image carries besides its pixels that .l3c stores."""

    icc_profile: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    comment: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, TextEntry] = field(default_factory=dict)

    # --- from and to Pillow --------------------------------------------------------

    @classmethod
    def from_image(
        cls, im: Any, params: Mapping[str, Any] | None = None
    ) -> tuple[Metadata, list[str]]:
        """The metadata of Pillow image ``im`` and what of it cannot be stored.

        Save parameters (``params``: ``icc_profile=``, ``exif=``, ``xmp=``, ``dpi=``,
        ``comment=``, ``text=`` a dict, ``pnginfo=`` a PngInfo) win over ``im.info``,
        as in Pillow's own PNG, JPEG and WebP plugins, so that a script that saves to
        .l3c instead of .png keeps its metadata without a change. Text chunks come
        from ``im.text`` where the image has it (a PNG or .l3c file), else from the
        str entries of ``im.info``, which is where ``convert()`` and ``copy()`` leave
        them.
        """
        params = dict(params or {})
        info = dict(getattr(im, "info", {}) or {})
        meta = cls.from_info(info, params)
        text = params.get("text")
        if text is None and params.get("pnginfo") is not None:
            text = _pnginfo_text(params["pnginfo"])
        if text is None:
            text = _image_text(im, info)
        meta.text = {k: _entry(v) for k, v in text.items() if k != XMP_PNG_KEY}
        if meta.xmp is None and XMP_PNG_KEY in text:
            meta.xmp = str(text[XMP_PNG_KEY]).encode("utf-8")
        dropped = [
            f"{what} ({key})"
            for key, what in NOT_STORED.items()
            if info.get(key) is not None and key not in params and not _is_stale(im, key)
        ]
        return meta, dropped

    @classmethod
    def from_info(
        cls, info: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> Metadata:
        """ICC, EXIF, XMP, dpi and comment from save parameters, else from ``info``."""
        params = params or {}

        def get(key: str) -> Any:
            value = params.get(key)
            return value if value is not None else info.get(key)

        exif = get("exif")
        if exif is not None and hasattr(exif, "tobytes"):  # a PIL.Image.Exif
            exif = exif.tobytes()
        dpi = get("dpi")
        meta = cls(
            icc_profile=_bytes(get("icc_profile"), "icc_profile"),
            exif=_bytes(exif, "exif"),
            xmp=_bytes(get("xmp"), "xmp"),
            comment=_bytes(get("comment"), "comment"),
            dpi=_dpi(dpi) if dpi is not None else None,
        )
        text = params.get("text")
        if text is not None:
            if not isinstance(text, Mapping):
                msg = f"text must be a dict of str to str, got {type(text).__name__}"
                raise TypeError(msg)
            meta.text = {str(k): _entry(v) for k, v in text.items()}
        return meta

    def info(self) -> dict[str, Any]:
        """Pillow's ``info`` for an image with this metadata: the keys PNG and JPEG use,
        and each text chunk under its key as PNG puts them (unless the key is taken)."""
        out: dict[str, Any] = {}
        for key in ("icc_profile", "exif", "xmp", "comment", "dpi"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        for key, value in self.text_values().items():
            out.setdefault(key, value)
        return out

    def text_values(self) -> dict[str, str]:
        """The text chunks as PNG's ``im.text`` gives them (iTXt as PngImagePlugin.iTXt)."""
        from PIL import PngImagePlugin

        return {
            k: PngImagePlugin.iTXt(e.value, e.language, e.translated_key)
            if e.international
            else e.value
            for k, e in self.text.items()
        }

    # --- the file's sections --------------------------------------------------------

    def to_sections(self) -> dict[bytes, bytes]:
        """The metadata sections of a file (tag -> payload), in the order they are written."""
        out: dict[bytes, bytes] = {}
        for tag, key in SECTION_KEYS.items():
            value = getattr(self, key)
            if not value:
                continue
            if key == "text":
                out[tag] = _pack_text(value)
            elif key == "dpi":
                out[tag] = _DPI.pack(*value)
            else:
                out[tag] = bytes(value)
        return out

    @classmethod
    def from_sections(cls, sections: Mapping[bytes, bytes]) -> Metadata:
        """Parse a file's metadata sections; a malformed one raises CorruptStreamError."""
        meta = cls()
        for tag, payload in sections.items():
            if tag in IMAGE_TAGS:  # a palette: part of the pixels, not metadata
                continue
            key = SECTION_KEYS.get(tag)
            if key is None:
                msg = f"L3C section {tag!r} is not a metadata section"
                raise CorruptStreamError(msg)
            if key == "text":
                meta.text = _unpack_text(payload)
            elif key == "dpi":
                if len(payload) != _DPI.size:
                    msg = f"L3C dpi section has {len(payload)} bytes, not {_DPI.size}"
                    raise CorruptStreamError(msg)
                try:
                    meta.dpi = _dpi(_DPI.unpack(payload))
                except ValueError as e:
                    msg = f"L3C dpi section: {e}"
                    raise CorruptStreamError(msg) from None
            else:
                setattr(meta, key, bytes(payload))
        return meta

    # --- to other formats --------------------------------------------------------------

    def save_params(self, fmt: str) -> tuple[dict[str, Any], list[str]]:
        """Pillow save parameters that carry this metadata into format ``fmt``, and the
        names of what ``fmt`` cannot carry (for the caller's warning)."""
        fmt = fmt.upper()
        keeps = _FORMAT_KEEPS.get(fmt, frozenset())
        params: dict[str, Any] = {}
        lost: list[str] = []
        for key in ("icc_profile", "exif", "dpi"):
            value = getattr(self, key)
            if value is None:
                continue
            if key in keeps:
                params[key] = value
            else:
                lost.append(_NAMES[key])
        if fmt == "PNG":
            from PIL import PngImagePlugin

            png = PngImagePlugin.PngInfo()
            for key, entry in self.text.items():
                _add_png_text(png, key, entry)
            if self.xmp is not None:
                png.add_itxt(XMP_PNG_KEY, self.xmp.decode("utf-8", "replace"))
            if self.comment is not None:
                if "Comment" in self.text:
                    lost.append(_NAMES["comment"])
                else:
                    png.add_itxt("Comment", self.comment.decode("utf-8", "replace"))
            if png.chunks:
                params["pnginfo"] = png
            return params, lost
        if self.xmp is not None:
            (params.__setitem__("xmp", self.xmp) if "xmp" in keeps else lost.append(_NAMES["xmp"]))
        if self.comment is not None:
            if "comment" in keeps:
                params["comment"] = self.comment
            elif "description" in keeps:
                params["description"] = self.comment.decode("utf-8", "replace")
            else:
                lost.append(_NAMES["comment"])
        if self.text:
            if "text" in keeps:
                params["text"] = self.text_values()
            else:
                lost.append(f"{_NAMES['text']} ({', '.join(self.text)})")
        return params, lost


# Which metadata each output format's Pillow writer takes.
_FORMAT_KEEPS: dict[str, frozenset[str]] = {
    "PNG": frozenset({"icc_profile", "exif", "dpi", "xmp", "text", "comment"}),
    "WEBP": frozenset({"icc_profile", "exif", "xmp"}),
    "TIFF": frozenset({"icc_profile", "exif", "dpi", "description"}),
    "JPEG": frozenset({"icc_profile", "exif", "xmp", "dpi", "comment"}),
    "BMP": frozenset({"dpi"}),
    "L3C": frozenset({"icc_profile", "exif", "dpi", "xmp", "text", "comment"}),
}
_NAMES = {
    "icc_profile": "the ICC profile",
    "exif": "EXIF",
    "xmp": "XMP",
    "dpi": "dpi",
    "comment": "the comment",
    "text": "text chunks",
}
# Output formats whose Pillow writer stores every pixel exactly, with the parameters
# that make it so (libwebp keeps the colour under transparent pixels only if asked).
LOSSLESS_FORMATS: dict[str, dict[str, Any]] = {
    "PNG": {},
    "TIFF": {},
    "WEBP": {"lossless": True, "exact": True, "quality": 100, "method": 4},
    "BMP": {},
    "PPM": {},
    "QOI": {},
    "L3C": {},
}


class LossyOutputError(ValueError):
    """An output format that would not store the decoded pixels exactly."""


def lossless_save_params(fmt: str, allow_lossy: bool = False) -> dict[str, Any]:
    """The parameters that make ``fmt`` store pixels exactly; refuse a lossy format.

    A decode of a lossless file must not silently become a lossy file: JPEG (and any
    format not in ``LOSSLESS_FORMATS``) is written only when the caller asked.
    """
    fmt = fmt.upper()
    if fmt in LOSSLESS_FORMATS:
        return dict(LOSSLESS_FORMATS[fmt])
    if allow_lossy:
        return {"quality": 95} if fmt == "JPEG" else {}
    kinds = ", ".join(sorted(LOSSLESS_FORMATS))
    msg = (
        f"{fmt} would not store the pixels exactly; write one of {kinds}, "
        "or allow a lossy output (l3c decode --lossy)"
    )
    raise LossyOutputError(msg)


def warn_not_kept(where: str, lost: list[str]) -> None:
    """The one warning for metadata that a target cannot hold (never dropped silently)."""
    if lost:
        warnings.warn(
            f"{where} cannot store {', '.join(lost)}: not kept",
            MetadataNotKeptWarning,
            stacklevel=3,
        )


# --- helpers ---------------------------------------------------------------------------


def _bytes(value: Any, key: str) -> bytes | None:
    if value is None or value == b"" or value == "":
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    msg = f"{key} must be bytes, got {type(value).__name__}"
    raise TypeError(msg)


def _dpi(value: Any) -> tuple[float, float]:
    if isinstance(value, str | bytes):
        msg = f"dpi must be two numbers, got {value!r}"
        raise ValueError(msg)
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        msg = f"dpi must be two numbers, got {value!r}"
        raise ValueError(msg) from None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        msg = f"dpi must be two positive finite numbers, got {value!r}"
        raise ValueError(msg)
    return x, y


def _entry(value: Any) -> TextEntry:
    if isinstance(value, TextEntry):
        return value
    if not isinstance(value, str):
        msg = f"a text chunk's value must be str, got {type(value).__name__}"
        raise TypeError(msg)
    lang, tkey = getattr(value, "lang", None), getattr(value, "tkey", None)
    if lang is not None or tkey is not None:  # PngImagePlugin.iTXt
        return TextEntry(str(value), True, lang or "", tkey or "")
    return TextEntry(str(value))


def _image_text(im: Any, info: Mapping[str, Any]) -> dict[str, Any]:
    text = getattr(im, "text", None)
    if isinstance(text, Mapping):
        return dict(text)
    return text_in_info(info)


def text_in_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """The text chunks of an ``info`` dict: its str entries that are not other metadata,
    which is where PNG puts them and ``convert()`` and ``copy()`` keep them."""
    return {k: v for k, v in info.items() if isinstance(v, str) and k not in NOT_TEXT}


def _is_stale(im: Any, key: str) -> bool:
    """Whether dropping ``key`` loses nothing: a P image's "transparency" is stored
    with its palette (``_palette``), and by Pillow's own rule a "transparency" in the
    info of an image with alpha is stale."""
    return key == "transparency" and getattr(im, "mode", "") in ("RGBA", "LA", "P")


def _pnginfo_text(png: Any) -> dict[str, Any]:
    """The text chunks of a PngInfo (what ``pnginfo=`` gives PNG's writer)."""
    import zlib

    from PIL import PngImagePlugin

    out: dict[str, Any] = {}
    for chunk in png.chunks:
        cid, data = chunk[0], chunk[1]
        if cid == b"tEXt":
            k, v = data.split(b"\0", 1)
            out[k.decode("latin-1")] = v.decode("latin-1")
        elif cid == b"zTXt":
            k, v = data.split(b"\0", 1)
            out[k.decode("latin-1")] = zlib.decompress(v[1:]).decode("latin-1")
        elif cid == b"iTXt":
            k, rest = data.split(b"\0", 1)
            compressed, rest = rest[0], rest[2:]
            lang, tkey, v = rest.split(b"\0", 2)
            value = zlib.decompress(v) if compressed else v
            out[k.decode("latin-1")] = PngImagePlugin.iTXt(
                value.decode("utf-8"), lang.decode("utf-8"), tkey.decode("utf-8")
            )
    return out


def _add_png_text(png: Any, key: str, entry: TextEntry) -> None:
    try:
        latin = entry.value.encode("latin-1")
    except UnicodeEncodeError:
        latin = None
    if entry.international or latin is None:
        png.add_itxt(key, entry.value, entry.language, entry.translated_key)
    else:
        png.add_text(key, entry.value)


def _pack_text(text: Mapping[str, TextEntry]) -> bytes:
    parts = []
    for key, e in text.items():
        fields = [s.encode("utf-8") for s in (key, e.language, e.translated_key, e.value)]
        if any(len(f) > 0xFFFF for f in fields[:3]):
            msg = (
                f"a text chunk's key, language or translated key is over 65535 bytes: {key[:40]!r}"
            )
            raise ValueError(msg)
        parts.append(_TEXT_ENTRY.pack(int(e.international), *(len(f) for f in fields)))
        parts.extend(fields)
    return b"".join(parts)


def _unpack_text(payload: bytes) -> dict[str, TextEntry]:
    """Text entries, every length checked against the payload before it is used."""
    out: dict[str, TextEntry] = {}
    pos = 0
    while pos < len(payload):
        if pos + _TEXT_ENTRY.size > len(payload):
            msg = "L3C text section ends inside an entry's head"
            raise CorruptStreamError(msg)
        flag, *lengths = _TEXT_ENTRY.unpack_from(payload, pos)
        pos += _TEXT_ENTRY.size
        if flag > 1 or pos + sum(lengths) > len(payload):
            msg = "L3C text section is damaged (an entry runs past its end)"
            raise CorruptStreamError(msg)
        fields = []
        for n in lengths:
            try:
                fields.append(payload[pos : pos + n].decode("utf-8"))
            except UnicodeDecodeError:
                msg = "L3C text section holds text that is not UTF-8"
                raise CorruptStreamError(msg) from None
            pos += n
        key, language, translated, value = fields
        if not key or key in out:
            msg = f"L3C text section has an empty or repeated key {key!r}"
            raise CorruptStreamError(msg)
        out[key] = TextEntry(value, bool(flag), language, translated)
    return out


def save_exact(
    im: Any, target: Any, fmt: str, allow_lossy: bool = False, **params: Any
) -> list[str]:
    """Save decoded image ``im`` to ``target`` as ``fmt``, losslessly and with its metadata.

    What every decode to another format goes through (``l3c decode``, ``l3c crop``,
    the cluster): a lossy ``fmt`` is refused unless ``allow_lossy``, the metadata of
    ``im`` (``im.info``, ``im.text``) goes into the parameters ``fmt`` takes, and what
    ``fmt`` cannot hold is returned, and warned about, never dropped silently.
    """
    meta, _ = Metadata.from_image(im)
    kept, lost = meta.save_params(fmt)
    options = {**lossless_save_params(fmt, allow_lossy), **kept, **params}
    im.save(target, format=fmt, **options)
    warn_not_kept(fmt, lost)
    return lost
