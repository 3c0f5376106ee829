"""pillow_l3c.numcodecs.L3C and pillow_l3c.zarr3.L3C: exact chunks, registration, refusals."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr")

from pillow_l3c import zarr3  # noqa: E402
from pillow_l3c.numcodecs import L3C  # noqa: E402

ROOT = Path(__file__).parent.parent
TAKES = r"takes chunks of shape \(H, W\) or \(H, W, C\) with C from 1 to 4 and dtype uint8"


def _image(shape: tuple[int, ...]) -> np.ndarray:
    """A photo's pixels cut to ``shape``: bands beyond RGB are a gradient (an alpha)."""
    from tests.conftest import load_photo

    rgb = load_photo("ladybird_64x48.png")[: shape[0], : shape[1]]
    alpha = np.add.outer(np.arange(shape[0]), np.arange(shape[1])).astype(np.uint8)
    bands = [rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2], alpha]
    if len(shape) == 2:
        return np.ascontiguousarray(bands[0])
    if shape[2] == 2:
        return np.stack([bands[0], alpha], axis=2)
    return np.stack(bands[: shape[2]], axis=2)


@pytest.mark.parametrize(
    "shape", [(40, 56), (40, 56, 1), (40, 56, 2), (40, 56, 3), (40, 56, 4)], ids=str
)
def test_chunk_round_trip_is_exact(shape: tuple[int, ...]) -> None:
    codec = L3C(effort=1)
    chunk = _image(shape)
    data = codec.encode(chunk)
    back = codec.decode(data)
    assert back.shape == chunk.shape  # (H, W, 1) stays three-dimensional
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, chunk)
    out = np.zeros_like(chunk)
    assert codec.decode(data, out=out) is out
    np.testing.assert_array_equal(out, chunk)
    flat = np.zeros(chunk.size, np.uint8)  # zarr hands a flat buffer as often as not
    codec.decode(memoryview(data), out=flat)
    np.testing.assert_array_equal(flat, chunk.ravel())


def test_a_chunk_is_a_l3c_file() -> None:
    import pillow_l3c

    chunk = _image((40, 56, 3))
    np.testing.assert_array_equal(pillow_l3c.decode(L3C(effort=1).encode(chunk)), chunk)


def test_config_round_trips() -> None:
    codec = L3C(model="l3c-small", effort=3, coder="classical")
    config = codec.get_config()
    assert config == {"id": "l3c", "model": "l3c-small", "effort": 3, "coder": "classical"}
    assert json.loads(json.dumps(config)) == config
    assert numcodecs.get_codec(config) == codec
    assert L3C.from_config(config) == codec
    assert L3C().get_config() == {"id": "l3c", "model": None, "effort": 7, "coder": "auto"}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"effort": 0}, "effort must be an int from 1 to 9"),
        ({"effort": "7"}, "effort must be an int from 1 to 9"),
        ({"coder": "fast"}, "coder must be"),
        ({"model": "no-such-model"}, "no model named 'no-such-model'"),
        ({"model": 3}, "model must be a model name"),
    ],
)
def test_bad_options_are_refused_at_construction(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        L3C(**options)
    with pytest.raises(ValueError, match=match):
        zarr3.L3C(**options)


@pytest.mark.parametrize(
    ("chunk", "match"),
    [
        (np.zeros((8, 8), np.int16), "got dtype int16"),
        (np.zeros((8, 8), np.uint32), "got dtype uint32"),
        (np.zeros((8, 8, 3), np.float32), "got dtype float32"),
        (np.zeros((8, 8), np.int8), "got dtype int8"),
        (np.zeros((8, 8), bool), "got dtype bool"),
        (np.zeros((8, 8, 5), np.uint8), r"got shape \(8, 8, 5\)"),
        (np.zeros(64, np.uint8), r"got shape \(64,\)"),
        (np.zeros((2, 8, 8, 3), np.uint8), r"got shape \(2, 8, 8, 3\)"),
        (np.zeros((0, 8), np.uint8), r"got shape \(0, 8\)"),
    ],
    ids=str,
)
def test_what_cannot_be_stored_exactly_is_refused(chunk: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=TAKES) as e:
        L3C(effort=1).encode(chunk)
    e.match(match)


def test_flat_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="not flat bytes"):
        L3C().encode(b"\0" * 64)


def test_zarr_v2_array_round_trips(tmp_path: Path, storm: np.ndarray) -> None:
    assert storm.shape == (192, 256, 3)
    path = tmp_path / "v2.zarr"
    kwargs = {"shape": storm.shape, "chunks": (96, 128, 3), "dtype": "uint8"}
    if zarr.__version__.startswith("2."):
        array = zarr.open_array(str(path), mode="w", compressor=L3C(effort=1), **kwargs)
    else:
        array = zarr.create_array(path, compressors=L3C(effort=1), zarr_format=2, **kwargs)
    array[:] = storm
    metadata = json.loads((path / ".zarray").read_text())
    assert metadata["compressor"] == {"id": "l3c", "model": None, "effort": 1, "coder": "auto"}
    chunk = (path / "0.1.0").read_bytes()
    assert chunk.startswith(L3C(effort=1).encode(storm[:96, 128:])[:4])  # a .l3c file
    np.testing.assert_array_equal(zarr.open_array(str(path), mode="r")[:], storm)


@pytest.mark.parametrize("dtype", ["<u2", ">u2"])
def test_zarr_v2_array_stores_uint16(tmp_path: Path, dtype: str) -> None:
    deep = _deep_image()
    if zarr.__version__.startswith("2."):
        array = zarr.open_array(
            str(tmp_path / "b.zarr"), mode="w", shape=deep.shape, chunks=(24, 32, 3),
            dtype=dtype, compressor=L3C(),
        )  # fmt: skip
    else:
        array = zarr.create_array(
            tmp_path / "b.zarr", shape=deep.shape, chunks=(24, 32, 3), dtype=dtype,
            compressors=L3C(), zarr_format=2,
        )  # fmt: skip
    array[:] = deep
    back = zarr.open_array(str(tmp_path / "b.zarr"), mode="r")[:]
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, deep)


def _deep_image() -> np.ndarray:
    """A 16-bit RGB image whose low bytes are not a function of its high bytes."""
    rng = np.random.default_rng(16)
    y, x = np.mgrid[0:48, 0:64]
    ramp = np.stack([x * 900 + y * 40, y * 1200, (x * y * 37) % 60000], axis=-1)
    return (ramp + rng.integers(0, 200, ramp.shape)).astype(np.uint16)


needs_zarr3 = pytest.mark.skipif(
    zarr.__version__.startswith("2."), reason="zarr v3 arrays need zarr-python 3"
)


@needs_zarr3
def test_zarr_v3_array_round_trips(tmp_path: Path, storm: np.ndarray) -> None:
    path = tmp_path / "v3.zarr"
    array = zarr.create_array(
        path,
        shape=storm.shape,
        chunks=(96, 128, 3),
        dtype="uint8",
        serializer=zarr3.L3C(effort=1),
        compressors=None,
    )
    array[:] = storm
    (codec,) = json.loads((path / "zarr.json").read_text())["codecs"]
    assert codec == {
        "name": "numcodecs.l3c",
        "configuration": {"model": None, "effort": 1, "coder": "auto"},
    }
    read = zarr.open_array(path, mode="r")
    np.testing.assert_array_equal(read[:], storm)
    np.testing.assert_array_equal(read[10:150, 100:200], storm[10:150, 100:200])


@needs_zarr3
def test_zarr_v3_array_stores_uint16(tmp_path: Path) -> None:
    deep = _deep_image()
    array = zarr.create_array(
        tmp_path / "d.zarr", shape=deep.shape, chunks=(24, 32, 3), dtype="uint16",
        serializer=zarr3.L3C(effort=1), compressors=None,
    )  # fmt: skip
    array[:] = deep
    back = zarr.open_array(tmp_path / "d.zarr", mode="r")[:]
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, deep)


@needs_zarr3
def test_zarr_v3_grey_chunks_of_one_band(tmp_path: Path) -> None:
    grey = _image((40, 56, 1))
    array = zarr.create_array(
        tmp_path / "g.zarr", shape=grey.shape, chunks=(20, 28, 1), dtype="uint8",
        serializer=zarr3.L3C(effort=1), compressors=None,
    )  # fmt: skip
    array[:] = grey
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "g.zarr")[:], grey)


@needs_zarr3
@pytest.mark.parametrize(
    ("dtype", "chunks", "match"),
    [("int16", (8, 8), "int16"), ("float32", (8, 8), "float32"), ("uint8", (8, 8, 5), "shape")],
)
def test_zarr_v3_refuses_at_creation(
    tmp_path: Path, dtype: str, chunks: tuple[int, ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        zarr.create_array(
            tmp_path / "x.zarr", shape=chunks, dtype=dtype, serializer=zarr3.L3C(),
            compressors=None,
        )  # fmt: skip


def test_pyproject_declares_the_entry_points() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = project["entry-points"]
    assert groups["numcodecs.codecs"] == {"l3c": "pillow_l3c.numcodecs:L3C"}
    assert groups["zarr.codecs"] == {"numcodecs.l3c": "pillow_l3c.zarr3:L3C"}
    assert project["optional-dependencies"]["zarr"] == ["numcodecs>=0.12", "zarr>=2.16"]


def _installed_entry_point(group: str, name: str) -> None:
    """Skip when the installed distribution predates its entry points (an old editable install)."""
    if not any(e.name == name for e in importlib.metadata.entry_points(group=group)):
        pytest.skip(f"pillow-l3c is installed without its {group} entry point: pip install -e .")


_GET_CODEC = """
import sys
import numcodecs
assert "pillow_l3c" not in sys.modules
codec = numcodecs.get_codec({"id": "l3c", "effort": 2})
print(type(codec).__module__, codec.get_config()["effort"])
"""


def test_get_codec_finds_the_entry_point_without_an_import() -> None:
    _installed_entry_point("numcodecs.codecs", "l3c")
    run = subprocess.run(
        [sys.executable, "-c", _GET_CODEC], capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["pillow_l3c.numcodecs", "2"]


_OPEN_V3 = """
import sys
import zarr
assert "pillow_l3c" not in sys.modules
print(int(zarr.open_array(sys.argv[1], mode="r")[:].sum()))
"""


@needs_zarr3
def test_zarr_v3_array_opens_without_an_import(tmp_path: Path) -> None:
    _installed_entry_point("zarr.codecs", "numcodecs.l3c")
    chunk = _image((40, 56, 3))
    array = zarr.create_array(
        tmp_path / "v3.zarr", shape=chunk.shape, dtype="uint8",
        serializer=zarr3.L3C(effort=1), compressors=None,
    )  # fmt: skip
    array[:] = chunk
    run = subprocess.run(
        [sys.executable, "-c", _OPEN_V3, str(tmp_path / "v3.zarr")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(run.stdout) == int(chunk.sum())
