"""pillow_l3c.encode, decode and read_metadata: every mode, and the metadata with them."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

import pillow_l3c
from pillow_l3c import _codec
from pillow_l3c.errors import MetadataNotKeptWarning

ICC = b"fake icc profile " * 20
XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>"
_NEEDS = (
    r"^pillow_l3c\.encode needs a uint8 or uint16 array of shape \(H, W\) or \(H, W, bands\) "
    r"with 1 to 4 bands, "
)


@pytest.fixture(scope="module")
def tiny(small_photo: np.ndarray) -> np.ndarray:
    return small_photo[:7, :13].copy()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Lumix"  # Make
    return exif.tobytes()


@pytest.mark.parametrize(
    ("bands", "mode"), [(None, "L"), (1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")]
)
def test_encode_takes_every_mode(tiny: np.ndarray, bands: int | None, mode: str) -> None:
    pixels = tiny[:, :, 0].copy() if bands is None else np.resize(tiny, (7, 13, bands))
    data = pillow_l3c.encode(pixels)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == mode
        np.testing.assert_array_equal(
            np.asarray(im), pixels.squeeze(axis=2) if bands == 1 else pixels
        )
    decoded = pillow_l3c.decode(data)
    # grey as (H, W), as np.asarray of an "L" image and imageio give it
    assert decoded.shape == ((7, 13) if mode == "L" else (7, 13, bands))
    np.testing.assert_array_equal(decoded, pixels.reshape(decoded.shape))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            np.zeros((4, 4, 5), np.uint8),
            _NEEDS + r"got uint8 \(4, 4, 5\)$",
        ),
        (
            np.zeros((1, 4, 4, 3), np.uint8),
            _NEEDS + r"got uint8 \(1, 4, 4, 3\)$",
        ),
        (
            np.zeros((4, 4, 3), np.int32),
            r"^RGB needs a uint8 or uint16 array of shape \(H, W, 3\), got int32",
        ),
        (
            np.zeros((4, 4), np.float32),
            r"^L needs a uint8 or uint16 array of shape \(H, W, 1\), got float32",
        ),
    ],
)
def test_encode_refuses_other_arrays(array: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pillow_l3c.encode(array)


def test_encode_stores_metadata_and_read_metadata_gives_it_back(tiny: np.ndarray) -> None:
    itxt = PngImagePlugin.iTXt("une coccinelle", "fr", "Beschreibung")
    metadata = {
        "icc_profile": ICC,
        "exif": _exif(),
        "xmp": XMP,
        "dpi": (300, 150),
        "comment": b"shot in May",
        "text": {"Title": "a ladybird"},
        "Description": itxt,  # a text chunk under its own key, as Pillow's info holds it
    }
    data = pillow_l3c.encode(tiny, metadata=metadata)
    sections = _codec.read_header(io.BytesIO(data))[1]
    assert sections[b"ICCP"] == ICC
    assert sections[b"EXIF"] == _exif()
    assert sections[b"XMP "] == XMP
    assert sections[b"CMNT"] == b"shot in May"
    header = _codec.read_header(io.BytesIO(data))[0]
    meta = pillow_l3c.read_metadata(data)
    assert meta == {
        "icc_profile": ICC,
        "exif": _exif(),
        "xmp": XMP,
        "comment": b"shot in May",
        "dpi": (300.0, 150.0),
        "Description": "une coccinelle",
        "Title": "a ladybird",
        "model_id": header.model_id.hex(),
        "l3c_version": header.version,
        "l3c_tile_size": header.tile_size,
    }
    assert (meta["Description"].lang, meta["Description"].tkey) == ("fr", "Beschreibung")
    with Image.open(io.BytesIO(data)) as im:
        assert im.info == meta  # the Pillow plugin's view, key for key
    assert pillow_l3c.read_metadata(io.BytesIO(data)) == meta  # a file works too
    # what read_metadata gives is stored again as it was: the same file, byte for byte
    again = pillow_l3c.encode(pillow_l3c.decode(data), metadata=meta)
    assert again == data


def test_encode_metadata_from_pillow_info_warns_what_it_cannot_keep(tiny: np.ndarray) -> None:
    png = io.BytesIO()
    Image.fromarray(tiny).save(png, "PNG", gamma=0.45455)  # hmm: Pillow writes no gAMA
    info = {"gamma": 0.45455, "Title": "t"}
    with pytest.warns(
        MetadataNotKeptWarning, match=r"^L3C cannot store a PNG gamma \(gamma\): not kept$"
    ):
        data = pillow_l3c.encode(tiny, metadata=info)
    assert pillow_l3c.read_metadata(data)["Title"] == "t"


@pytest.mark.parametrize(
    ("metadata", "error", "message"),
    [
        ([("exif", b"")], TypeError, "^metadata must be a dict, got list$"),
        ({"Orientation": 6}, ValueError, r"^metadata 'Orientation' is not stored in \.l3c: give "),
        ({"icc_profile": 3}, TypeError, "^icc_profile must be bytes, got int$"),
        ({"dpi": (0, 72)}, ValueError, r"^dpi must be two positive finite numbers, got \(0, 72\)$"),
        ({"text": "Title"}, TypeError, "^text must be a dict of str to str, got str$"),
        ({"text": {"Title": 1}}, TypeError, "^a text chunk's value must be str, got int$"),
    ],
)
def test_encode_refuses_bad_metadata(
    tiny: np.ndarray, metadata: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        pillow_l3c.encode(tiny, metadata=metadata)  # type: ignore[arg-type]


def test_encode_refuses_bad_options(tiny: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"^workers must be at least 1, got 0$"):
        pillow_l3c.encode(tiny, workers=0)
    with pytest.raises(TypeError, match=r"^tile_size must be an int, got float$"):
        pillow_l3c.encode(tiny, tile_size=64.0)  # type: ignore[arg-type]


def test_read_metadata_does_not_decode(tiny: np.ndarray) -> None:
    data = pillow_l3c.encode(tiny, metadata={"Title": "t", "dpi": (72, 72)})
    code = (
        "import sys, pillow_l3c\n"
        f"meta = pillow_l3c.read_metadata({data!r})\n"
        "print(meta['Title'], meta['dpi'], 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout == "t (72.0, 72.0) False\n"


def test_read_metadata_is_exported() -> None:
    assert "read_metadata" in pillow_l3c.__all__


def test_a_bad_device_is_a_value_error_naming_it(small_photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"^unknown device 'gpu': use \"cpu\", \"cuda\" or"):
        pillow_l3c.encode(small_photo, device="gpu")
    with pytest.raises(ValueError, match=r"^pillow_l3c runs on \"cpu\" or \"cuda\", not 'meta'"):
        pillow_l3c.encode(small_photo, device="meta")
