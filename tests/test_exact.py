"""Integer-exact prediction: the same integers wherever and however the model runs."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import pillow_l3c
from pillow_l3c import _codec, _format, _model
from pillow_l3c._constants import MAX_INV_SCALE, WEIGHT_BITS
from pillow_l3c._verify import check_graph
from pillow_l3c.errors import L3cError
from pillow_l3c.network import exact
from pillow_l3c.network.architecture import L3C, L3cConfig
from pillow_l3c.network.export import export
from pillow_l3c.tile_coders.l3c import pad_image

from .conftest import IMAGES

GOLDEN = Path(__file__).parent / "golden"
L3C_MODEL = "l3c-small"


def _symbols(image: np.ndarray) -> tuple[torch.Tensor, list[torch.Tensor]]:
    x = torch.from_numpy(pad_image(image)).permute(2, 0, 1)[None].contiguous()
    with torch.inference_mode():
        return x, _model.load(name=L3C_MODEL).module.extract(x)


def _mixture_integers(x: torch.Tensor, symbols: list[torch.Tensor]) -> list[np.ndarray]:
    """Every integer the coder would receive for the image ``x`` with latents
    ``symbols`` (the extractors stay floating point: their symbols are in the file)."""
    model = _model.load(name=L3C_MODEL)
    net = model.module
    out = []
    with torch.inference_mode():
        feat = None
        for s in range(model.scales, 0, -1):
            feat, params = net.predict(s, symbols[s - 1], feat)
            out.append(params.numpy().copy())
            if s > 1:
                out += [t.numpy().copy() for t in net.latent_mixture(params)]
        for j in range(3):
            out += [t.numpy().copy() for t in net.rgb_mixture(params, j, x)]
    return out


@pytest.mark.parametrize("name", ["l3c-small", "poly-fast", "poly-small"])
def test_bundled_models_are_exact(name: str) -> None:
    model = _model.load(name=name)
    assert model.exact
    assert exact.verify(model.module) == []


def test_integers_do_not_depend_on_threads_or_onednn(storm: np.ndarray) -> None:
    x, symbols = _symbols(storm)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        reference = _mixture_integers(x, symbols)
        torch.set_num_threads(2)
        two_threads = _mixture_integers(x, symbols)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # about TF32 on Intel GPUs
            with torch.backends.mkldnn.flags(enabled=False):
                no_onednn = _mixture_integers(x, symbols)
    finally:
        torch.set_num_threads(before)
    assert len(reference) == 3 + 2 * 3 + 3 * 3
    for a, b, c in zip(reference, two_threads, no_onednn, strict=True):
        assert np.array_equal(a, np.round(a))  # integer-valued, also the float outputs
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_weights_are_the_coders_integers(storm: np.ndarray) -> None:
    ints = _mixture_integers(*_symbols(storm[:64, :64]))
    weights, means, inv = ints[-3:]
    assert weights.dtype == means.dtype == inv.dtype == np.int32
    np.testing.assert_array_equal(weights.sum(0), 1 << WEIGHT_BITS)
    assert weights.min() >= 0
    assert inv.min() >= 1
    assert inv.max() <= MAX_INV_SCALE


def _small_exact() -> exact.ExactL3C:
    torch.manual_seed(0)
    return exact.ExactL3C(L3C(L3cConfig(filters=8, resblocks=1, mixtures=2)).eval())


def test_verify_finds_a_partial_sum_that_can_leave_float32() -> None:
    model = _small_exact()
    assert exact.verify(model) == []
    conv = model.predictors[0].blocks[0].conv1
    conv.weight.mul_(1 << 12)
    problems = exact.verify(model)
    assert len(problems) == 1
    assert problems[0].startswith("predictors.0.blocks.0.conv1: a partial sum can reach")
    conv.weight.add_(0.5)
    assert "predictors.0.blocks.0.conv1: weights or biases are not integers" in exact.verify(model)


def test_loader_refuses_a_model_that_is_not_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _small_exact()
    model.predictors[1].d2.weight.mul_(1 << 14)
    path = tmp_path / "bad.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(model).save(str(path))
    monkeypatch.setenv(_model.WEIGHTS_ENV, str(path))
    with pytest.raises(L3cError, match=r"model bad.pt is not integer-exact: predictors.1.d2"):
        _model.load()


def test_export_refuses_a_model_that_is_not_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_many_bits(*args: object, **kwargs: object) -> torch.Tensor:
        return torch.full((args[0].shape[0],), 30.0, dtype=torch.float64)  # type: ignore[attr-defined]

    monkeypatch.setattr(exact, "weight_bits", too_many_bits)
    with pytest.raises(ValueError, match="refusing to export a model that is not integer-exact"):
        export(L3C(L3cConfig(filters=8, resblocks=1, mixtures=2)), tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_training_sees_the_integer_arithmetic() -> None:
    """qat_predict (float, differentiable) and IntPredictor (integers) agree."""
    torch.manual_seed(1)
    float_model = L3C(L3cConfig(filters=8, resblocks=1, mixtures=2)).eval()
    int_model = exact.ExactL3C(float_model)
    symbols = torch.randint(0, 25, (1, 5, 8, 8))
    z = symbols.float() / 12 - 1
    with torch.no_grad():
        feat_q, params_q = exact.qat_predict(float_model.predictors[0], z, None, 12.0)
        feat_i, params_i = int_model.predict(3, symbols, None)
    # Rounding of real-valued sums may differ by a unit in rare places, never more.
    assert (feat_q * exact.ACT_UNIT - feat_i).abs().max() <= 2
    assert ((feat_q * exact.ACT_UNIT - feat_i).abs() < 0.5).float().mean() > 0.95
    assert (params_q * exact.PARAM_UNIT - params_i).abs().max() <= 4


def _golden_cases(folder: Path = GOLDEN) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.l3c"))


GOLDEN_SETS = {"": "l3c-small", "poly_": "poly-small", "polyfast_": "poly-fast"}
GOLDEN_V3 = GOLDEN / "v3"  # format 3; GOLDEN itself holds format 2's, written by 0.3


def test_golden_files_exist() -> None:
    cases = ["citrus_rgba", "ladybird_grey", "storm_rgb_tiles"]
    for folder, version in ((GOLDEN, 2), (GOLDEN_V3, 3)):
        assert _golden_cases(folder) == sorted(p + name for p in GOLDEN_SETS for name in cases)
        assert sorted(GOLDEN_SETS.values()) == sorted(pillow_l3c.models())  # one set per model
        for prefix, model in GOLDEN_SETS.items():
            for name in cases:
                with Image.open(folder / f"{prefix}{name}.l3c") as im:
                    assert im.info["l3c_version"] == version
                    ids = _model.known_ids(_model.find(model).path)
                    assert bytes.fromhex(im.info["model_id"]) in ids
    assert {f.name for f in GOLDEN_V3.glob("*.png")} == {f.name for f in GOLDEN.glob("*.png")}


@pytest.mark.parametrize("name", _golden_cases())
def test_format2_golden_files_decode_bit_exactly(name: str) -> None:
    """Files of format 2 (pillow-l3c 0.3) keep decoding, by the model that wrote them."""
    with Image.open(GOLDEN / f"{name}.png") as src:
        expected = np.asarray(src)
        mode = src.mode
    with Image.open(GOLDEN / f"{name}.l3c") as im:
        assert (im.mode, im.info["l3c_version"]) == (mode, 2)
        np.testing.assert_array_equal(np.asarray(im), expected)


@pytest.mark.parametrize("name", _golden_cases(GOLDEN_V3))
def test_format3_golden_files_decode_bit_exactly(name: str) -> None:
    """Committed files must keep decoding: a change that breaks them needs a new
    format version (docs/FORMAT.md); and today's encoder still writes their bytes."""
    with Image.open(GOLDEN_V3 / f"{name}.png") as src:
        expected = np.asarray(src)
        mode = src.mode
    with Image.open(GOLDEN_V3 / f"{name}.l3c") as im:
        assert im.mode == mode
        np.testing.assert_array_equal(np.asarray(im), expected)
    with Image.open(GOLDEN_V3 / f"{name}.l3c") as im:
        tile = im.info["l3c_tile_size"]
        model = _model.find_by_id(bytes.fromhex(im.info["model_id"])).name
    out = io.BytesIO()
    Image.fromarray(expected, mode).save(
        out, format="L3C", tile_size=tile, model=model, coder="learned"
    )
    assert out.getvalue() == (GOLDEN_V3 / f"{name}.l3c").read_bytes()


CLASSICAL_GOLDEN = ["classical_icon_p", "classical_terminal", "classical_bilevel", "mixed_ui"]


@pytest.mark.parametrize("name", CLASSICAL_GOLDEN)
def test_format3_golden_files_of_classical_and_mixed_tiles_decode(name: str) -> None:
    """Classical tiles keep decoding too. Their bytes are libwebp's, which may change
    between its versions, so only the decode is pinned, not the encoder's output."""
    folder = GOLDEN_V3 / "classical"
    with Image.open(folder / f"{name}.png") as src:
        src.load()
    with Image.open(folder / f"{name}.l3c") as im:
        im.load()
        assert im.mode == src.mode
        assert im.tobytes() == src.tobytes()
        assert im.getpalette() == src.getpalette()
        assert im.info.get("transparency") == src.info.get("transparency")
        kinds = sorted(
            m.kind for m in _format.parse_header((folder / f"{name}.l3c").read_bytes()).methods
        )
    assert kinds == ([1, 2] if name.startswith("mixed") else [2])


def make_classical_golden_files(folder: Path = GOLDEN_V3 / "classical") -> None:
    """Writes the golden files of classical and mixed tiles (once per format version)."""
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(IMAGES / "storm_256x192.png") as im:
        storm = np.asarray(im.convert("RGB"))
    ui = np.full((128, 192, 3), (236, 236, 240), np.uint8)
    ui[:, 64:] = storm[:128, :128]
    ui[8:16, 8:56] = (40, 90, 200)
    with (
        Image.open(IMAGES / "icon_p_48x48.png") as icon,
        Image.open(IMAGES / "terminal_160x96.png") as terminal,
    ):
        images = {
            "classical_icon_p": (icon.copy(), {}),
            "classical_terminal": (terminal.convert("RGB"), {}),
            "classical_bilevel": (Image.fromarray(np.asarray(terminal.convert("L")) > 128), {}),
            "mixed_ui": (Image.fromarray(ui), {"tile_size": 64}),
        }
    for name, (image, params) in images.items():
        image.save(folder / f"{name}.png")
        image.save(folder / f"{name}.l3c", **params)


@pytest.mark.parametrize("name", _golden_cases())
def test_format3_holds_the_streams_of_format2(name: str) -> None:
    """Format 3 changed the container, not the coders: each tile's streams are the
    very bytes format 2 held."""
    from pillow_l3c import _format

    files = [(GOLDEN / f"{name}.l3c").read_bytes(), (GOLDEN_V3 / f"{name}.l3c").read_bytes()]
    streams = []
    for data in files:
        fp = io.BytesIO(data)
        header, _ = _codec.read_header(fp)
        coders = _codec.TileCoders(header, None)
        tiles = []
        for tile in header.tiles():
            count = coders.get(0).stream_count(header.mode, tile.height, tile.width)
            tiles.append(_format.unpack_tile(_format.read_tile(fp), header.version, count).streams)
        streams.append(tiles)
    assert streams[0] == streams[1]


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["l3c-small", "poly-fast", "poly-small"])
def test_gpu_and_cpu_compute_the_same_integers(storm: np.ndarray, model: str) -> None:
    cpu = pillow_l3c.encode(storm, model=model)
    gpu = pillow_l3c.encode(storm, device="cuda", model=model)
    if model == "poly-small":  # all integers; L3C's float extractors may pick other latents
        assert gpu == cpu
    np.testing.assert_array_equal(pillow_l3c.decode(gpu, device="cpu"), storm)
    np.testing.assert_array_equal(pillow_l3c.decode(cpu, device="cuda"), storm)


def make_golden_files(model: str, prefix: str = "", folder: Path = GOLDEN_V3) -> None:
    """Writes the golden files of one model (once per model and format version:
    python -m tests.test_exact MODEL PREFIX; the polyphase files have prefix poly_)."""
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(IMAGES / "storm_256x192.png") as im:
        storm = im.convert("RGB")
    with Image.open(IMAGES / "ladybird_64x48.png") as im:
        grey = im.convert("L")
    with Image.open(IMAGES / "citrus_77x53.png") as im:
        rgba = im.convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, rgba.width, dtype=np.uint8), (rgba.height, 1))
    rgba.putalpha(Image.fromarray(alpha))
    for name, image, tile in [
        ("storm_rgb_tiles", storm, 128),
        ("ladybird_grey", grey, 512),
        ("citrus_rgba", rgba, 512),
    ]:
        bare = Image.fromarray(np.asarray(image), image.mode)  # pixels only, no metadata
        bare.save(folder / f"{prefix}{name}.png")
        bare.save(folder / f"{prefix}{name}.l3c", tile_size=tile, model=model, coder="learned")


if __name__ == "__main__":
    import sys

    if sys.argv[1] == "classical":
        make_classical_golden_files()
    else:
        make_golden_files(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")


# --- the loader's whitelist (pillow_l3c/_verify.py, check_graph) ------------------------


def _load_scripted(module: nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """``module`` scripted, saved and loaded as the codec loads a model file."""
    path = tmp_path / "m.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(module).save(str(path))
    monkeypatch.setenv(_model.WEIGHTS_ENV, str(path))
    return _model.load()


@pytest.mark.parametrize("name", ["l3c-small", "poly-fast", "poly-small"])
def test_bundled_models_pass_the_whitelist(name: str) -> None:
    model = _model.load(name=name)
    assert check_graph(model.module, model.family) == []


class SinWeights(exact.ExactL3C):
    def _weights(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sin(logits.float()).to(torch.int32)


class MatmulWeights(exact.ExactL3C):
    def _weights(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits.float() @ logits.float().t()).to(torch.int32)


class HalfWeights(exact.ExactL3C):
    def _weights(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.to(torch.float16).to(torch.int32)


class TrueDivision(exact.ExactL3C):
    def _weights(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.div(logits, 3).to(torch.int32)


def _renamed(cls: type[nn.Module]) -> nn.Module:
    """A small exact model whose class is ``cls``, under the real class's name (what
    TorchScript records as the module's type)."""
    model = _small_exact()
    model.__class__ = type("ExactL3C", (cls,), {})
    return model


@pytest.mark.parametrize(
    ("cls", "problem"),
    [
        (SinWeights, "operation aten::sin is not allowed (in ExactL3C)"),
        (MatmulWeights, "operation aten::matmul is not allowed (in ExactL3C)"),
        (HalfWeights, "aten::to to dtype float16 is not allowed (in ExactL3C)"),
        (
            TrueDivision,
            "aten::div without an integer rounding mode (rounding_mode=None) (in ExactL3C)",
        ),
    ],
)
def test_loader_refuses_an_operation_off_the_whitelist(
    cls: type[nn.Module], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(L3cError) as info:
        _load_scripted(_renamed(cls), tmp_path, monkeypatch)
    assert info.type is L3cError
    message = str(info.value)
    assert message.startswith("model m.pt is not integer-exact: ")
    assert f"_weights: {problem}" in message


def test_loader_refuses_a_submodule_off_the_whitelist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _small_exact()
    model.extra = nn.Linear(2, 2)
    with pytest.raises(L3cError) as info:
        _load_scripted(model, tmp_path, monkeypatch)
    assert str(info.value) == (
        "model m.pt is not integer-exact: extra: submodule type Linear is not allowed"
    )


def test_check_graph_refuses_another_root() -> None:
    """A model of another class than its family's, whatever it computes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(_Bare(family="l3c", exact=True))
    assert check_graph(scripted, "l3c") == ["the model is of type _Bare, not ExactL3C"]
    assert check_graph(scripted, "jpeg") == ["no whitelist for model family 'jpeg'"]


class _Bare(nn.Module):
    """A model with only the given attributes, and no codec interface."""

    def __init__(self, **attributes: object) -> None:
        super().__init__()
        for name, value in attributes.items():
            setattr(self, name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            {"exact": True},
            "model m.pt has no 'family' attribute: a model must name its family (l3c or polyphase)",
        ),
        (
            {"family": "l3c"},
            "model m.pt has no 'exact' attribute: a model must say whether it is integer-exact",
        ),
        ({"family": "l3c", "exact": 1}, "model m.pt: 'exact' must be a bool, got int"),
        (
            {"family": "polyphase", "exact": False, "min_side": 8, "order": [1, 0, 2]},
            "model m.pt: a polyphase model must be integer-exact",
        ),
        (
            {"family": "l3c", "exact": True},
            (
                "model m.pt is not integer-exact: no integer convolutions: not an exact model;"
                " the model is of type _Bare, not ExactL3C"
            ),
        ),
    ],
)
def test_loader_requires_family_and_exact(
    attributes: dict[str, object], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(L3cError) as info:
        _load_scripted(_Bare(**attributes), tmp_path, monkeypatch)
    assert info.type is L3cError
    assert str(info.value) == message


def test_a_float_model_loads_as_float(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An --float export says exact = False, and is loaded as such (no whitelist)."""
    path = tmp_path / "float.pt"
    export(L3C(L3cConfig(filters=8, resblocks=1, mixtures=2)), path, exact=False)
    monkeypatch.setenv(_model.WEIGHTS_ENV, str(path))
    model = _model.load()
    assert (model.family, model.exact) == ("l3c", False)
