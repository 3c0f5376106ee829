"""Several bundled models: chosen by name when writing, by the header's id when reading;
the polyphase family's own guarantees (exact integers, any size, the same bits as
the float model it was exported from)."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

import pillow_l3c
from pillow_l3c import _codec, _format, _model
from pillow_l3c.cli import main as cli
from pillow_l3c.errors import ModelMismatchError
from pillow_l3c.network.export import export, load_checkpoint
from pillow_l3c.network.polyphase import Polyphase, PolyphaseConfig
from pillow_l3c.tile_coders import polyphase as _polyphase
from pillow_l3c.tile_coders.base import LEARNED, EncodeOptions, Method
from pillow_l3c.train import main as train

from .conftest import IMAGES, load_photo

MODELS = ["l3c-small", "poly-fast", "poly-small"]


def _header(data: bytes) -> _format.Header:
    return _format.parse_header(data)


def test_models_are_listed_with_their_ids_the_default_first() -> None:
    listed = pillow_l3c.models()
    assert sorted(listed) == MODELS
    assert next(iter(listed)) == _model.DEFAULT_MODEL == "poly-small"
    for f in _model.model_files():
        # a bundled file carries its file's id in its name, NAME.ID.pt; files name a
        # model by the id of its integers, recorded beside it
        assert f.path.name == f"{f.name}.{_model.file_id(f.path).hex()[:8]}.pt"
        assert listed[f.name] == _model.model_id(f.path).hex()
        assert bytes.fromhex(listed[f.name]) in _model.known_ids(f.path)


@pytest.mark.parametrize("name", MODELS)
def test_a_named_model_writes_and_the_header_picks_it_to_read(
    tmp_path: Path, storm: np.ndarray, name: str
) -> None:
    path = tmp_path / "x.l3c"
    Image.fromarray(storm).save(path, model=name)
    with Image.open(path) as im:
        assert im.info["model_id"] == pillow_l3c.models()[name]
        np.testing.assert_array_equal(np.asarray(im), storm)
    data = pillow_l3c.encode(storm, model=name)
    assert data == path.read_bytes()
    np.testing.assert_array_equal(pillow_l3c.decode(data), storm)


def test_the_default_model_is_the_polyphase_one(small_photo: np.ndarray) -> None:
    data = pillow_l3c.encode(small_photo)
    assert _header(data).model_id.hex() == pillow_l3c.models()["poly-small"]


def test_an_unknown_model_name_is_refused_before_writing(small_photo: np.ndarray) -> None:
    out = io.BytesIO()
    with pytest.raises(ValueError, match=r"no model named 'l3c-huge' \(available: l3c-small, "):
        Image.fromarray(small_photo).save(out, format="L3C", model="l3c-huge")
    assert out.getvalue() == b""


def test_a_file_of_a_model_nobody_has_names_its_id(small_l3c: bytes) -> None:
    header = _header(small_l3c)
    size = header.byte_size
    header.methods = (Method(LEARNED, bytes.fromhex("00112233445566778899aabbccddeeff")),)
    data = header.pack() + small_l3c[size:]
    with pytest.raises(ModelMismatchError) as err:
        pillow_l3c.decode(data)
    message = str(err.value)
    assert message.startswith(
        "file was written by model 00112233445566778899aabbccddeeff, which no available model has"
    )
    for name, model_id in pillow_l3c.models().items():
        assert f"{name} {model_id}" in message
    with Image.open(io.BytesIO(data)) as im, pytest.raises(ModelMismatchError):
        im.load()


def test_imageio_takes_the_model(tmp_path: Path, small_photo: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    iio.imwrite(path, small_photo, extension=".l3c", model="l3c-small", coder="learned")
    assert _header(path.read_bytes()).model_id.hex() == pillow_l3c.models()["l3c-small"]
    np.testing.assert_array_equal(iio.imread(path), small_photo)


def test_cli_model_option_info_and_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = IMAGES / "ladybird_64x48.png"
    out = tmp_path / "x.l3c"
    command = ["encode", str(src), "-o", str(out), "--model", "l3c-small", "--coder", "learned"]
    assert cli([*command, "-q"]) == 0
    capsys.readouterr()
    assert cli(["info", str(out)]) == 0
    assert f"model l3c-small ({pillow_l3c.models()['l3c-small']})" in capsys.readouterr().out
    assert cli(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == MODELS
    assert [i for i, line in enumerate(lines) if "(default)" in line] == [2]
    assert all("bpsp" in line for line in lines)
    assert cli(["encode", str(src), "-o", str(out), "--model", "nope", "-f", "-q"]) == 1
    assert "no model named 'nope'" in capsys.readouterr().err


def test_loading_a_model_imports_no_training_code(small_l3c: bytes) -> None:
    code = (
        "import sys, pillow_l3c\n"
        f"pillow_l3c.decode({small_l3c!r})\n"
        "pillow_l3c.encode(pillow_l3c.decode(" + repr(small_l3c) + "), model='l3c-small')\n"
        "bad = [m for m in sys.modules if m.startswith('pillow_l3c.network') "
        "or m == 'pillow_l3c.train']\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the polyphase family --------------------------------------------------------------


@pytest.mark.parametrize(
    ("w", "h"), [(1, 1), (2, 2), (9, 9), (17, 3), (3, 40), (33, 65), (258, 129)]
)
def test_polyphase_any_size(w: int, h: int) -> None:
    with Image.open(IMAGES / "storm_256x192.png") as src:
        base = np.asarray(src.convert("RGB").resize((max(w, 8), max(h, 8))))
    pixels = np.ascontiguousarray(base[:h, :w])
    data = pillow_l3c.encode(pixels, model="poly-small", tile_size=128)
    np.testing.assert_array_equal(pillow_l3c.decode(data), pixels)


def test_polyphase_stream_counts_follow_the_tile_size() -> None:
    assert _polyphase.scale_count(8, 1000) == 0  # coarsest at once
    assert _polyphase.scale_count(9, 9) == 1
    assert _polyphase.scale_count(256, 256) == 5  # 256 -> 8
    assert _polyphase.stream_count(3, 256, 256) == 1 + 2 * 3 * 5
    assert _polyphase.stream_count(1, 9, 9) == 3


def _all_integers(image: np.ndarray) -> list[np.ndarray]:
    """Every integer the coder receives for ``image`` with the polyphase model."""
    model = _model.load(name="poly-small")
    net, order = model.module, model.order
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].to(torch.int64)
    out = []
    with torch.inference_mode():
        for _ in range(_polyphase.scale_count(x.shape[2], x.shape[3])):
            a, b = x[..., 0::2, 0::2], x[..., 1::2, 1::2]
            c, d = x[..., 0::2, 1::2], x[..., 1::2, 0::2]
            at, bt, dt = a.transpose(2, 3), b.transpose(2, 3), d.transpose(2, 3)
            # b; c; d as c of the transposed image (non-contiguous inputs, as in the codec)
            for stage, p, q, target in [(0, a, a, b), (1, a, b, c), (1, at, bt, dt)]:
                feat, s4 = net.features(stage, p, q, q, target.shape[2], target.shape[3])
                out.append(feat.numpy().copy())
                for k in range(len(order)):
                    weights, means, log_scales = net.mixture(stage, k, feat, s4, target)
                    inv = net.inv_scales(log_scales, -16)
                    out += [t.numpy().copy() for t in (weights, means, inv)]
            x = a
    return out


def test_polyphase_integers_do_not_depend_on_threads_or_onednn(storm: np.ndarray) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        reference = _all_integers(storm)
        torch.set_num_threads(2)
        two_threads = _all_integers(storm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                no_onednn = _all_integers(storm)
    finally:
        torch.set_num_threads(before)
    assert len(reference) == 5 * 3 * (1 + 3 * 3)
    for a, b, c in zip(reference, two_threads, no_onednn, strict=True):
        if a.dtype.kind == "f":  # the trunk's features: integers held in floats
            assert np.array_equal(a, np.round(a))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    weights, means, inv = reference[-3:]
    assert weights.dtype == means.dtype == inv.dtype == np.int32
    np.testing.assert_array_equal(weights.sum(0), 4096)
    assert inv.min() >= 1
    assert inv.max() <= 1 << 20


def test_polyphase_file_costs_what_the_float_model_predicts(tmp_path: Path) -> None:
    """The integer export codes within 2% of the bits its float model computes (the
    container's, the coder's and the integer grid's overheads)."""
    photo = load_photo("storm_256x192.png")
    run = _tiny_run(tmp_path, steps=30)
    model = load_checkpoint(run / "last.pt").eval()
    with torch.no_grad():
        x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float()
        predicted = float(model(x)) / 8
    path = tmp_path / "tiny.pt"
    export(model, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(_model.WEIGHTS_ENV, str(path))
        adapted = _codec.encode(photo, options=EncodeOptions(tile_size=256))
        data = _codec.encode(photo, options=EncodeOptions(tile_size=256, adapt_scales=False))
        np.testing.assert_array_equal(_codec.decode(data)[1], photo)
        np.testing.assert_array_equal(_codec.decode(adapted)[1], photo)
    coded = len(data) - _format.header_size(data)
    assert predicted * 0.99 < coded < predicted * 1.02
    # The encoder's scale offsets: never longer (offset 0 is among those tried), and
    # for this barely trained model much shorter.
    assert len(adapted) < 0.95 * len(data)


def _tiny_run(tmp_path: Path, steps: int, stages: int = 2) -> Path:
    """A few steps of a tiny polyphase model on the committed photos."""
    run = tmp_path / "run"
    args = ["--arch", "polyphase", "--data", str(IMAGES), "--val", str(IMAGES)]
    args += ["--out", str(run), "--val-crop", "32", "--val-every", "10", "--ckpt-every", "10"]
    args += ["--optimizer", "adam", "--lr", "3e-3", "--batch", "4", "--crop", "32"]
    args += ["--channels", "8", "--blocks", "1", "--head", "8", "--mixtures", "2"]
    train([*args, "--steps", str(steps), "--stages", str(stages)])
    return run


def test_polyphase_training_resumes_and_exports(tmp_path: Path) -> None:
    run = _tiny_run(tmp_path, steps=10)
    first = torch.load(run / "last.pt")
    assert first["arch"] == "polyphase"
    assert first["step"] == 10
    args = ["--arch", "polyphase", "--data", str(IMAGES), "--val", str(IMAGES), "--out", str(run)]
    args += ["--resume", "--val-crop", "32", "--crop", "32", "--batch", "4"]
    train([*args, "--steps", "20", "--ckpt-every", "10", "--val-every", "10"])
    assert torch.load(run / "last.pt")["step"] == 20
    log = (run / "log.tsv").read_text().splitlines()
    assert log[0].split("\t") == ["step", "minutes", "train_bpsp", "val_bpsp"]
    assert [line.split("\t")[0] for line in log[1:]] == ["10", "20"]
    model = load_checkpoint(run / "last.pt")
    assert isinstance(model, Polyphase)
    assert model.cfg == PolyphaseConfig(channels=8, blocks=1, head=8, mixtures=2, stages=2)


def test_polyphase_step_zero_is_a_working_codec() -> None:
    """Before any training the model predicts the mean of the known neighbours: a
    photo already costs well under 8 bits per sub-pixel."""
    photo = load_photo("storm_256x192.png")
    model = Polyphase(PolyphaseConfig()).eval()
    with torch.no_grad():
        bits = float(model(torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float()))
    assert bits / photo.size < 5.0


def test_only_two_stage_rgb_models_are_exported(tmp_path: Path) -> None:
    """The three-stage and YCoCg variants are training ablations (docs/TRAINING.md); the
    format codes two stages of RGB, so the export refuses the others."""
    for cfg in (PolyphaseConfig(stages=3), PolyphaseConfig(colour="ycocg")):
        with pytest.raises(ValueError, match="only two-stage rgb models are exported"):
            export(Polyphase(cfg), tmp_path / "m.pt")
    run = _tiny_run(tmp_path, steps=2, stages=3)  # but they train
    assert torch.load(run / "last.pt")["config"]["stages"] == 3


def test_a_bundled_file_must_carry_its_own_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from pillow_l3c.errors import L3cError

    real = _model.find("poly-small").path
    fake = tmp_path / "poly-small.00000000.pt"
    shutil.copy(real, fake)
    monkeypatch.setattr(_model, "model_files", lambda: [_model.ModelFile("poly-small", fake)])
    with pytest.raises(L3cError, match="its name says id 00000000, its content "):
        _model.load(name="poly-small")


def test_noise_is_stored_not_expanded() -> None:
    """A mixture stream that would code longer than its bytes is stored as bytes: noise
    costs about 8 bits a sub-pixel (the model, trained on photos, would spend ~12)."""
    noise = np.random.default_rng(3).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    data = pillow_l3c.encode(noise)
    assert len(data) * 8 / noise.size < 8.2
    np.testing.assert_array_equal(pillow_l3c.decode(data), noise)
    # a photo is coded, not stored
    photo = load_photo("storm_256x192.png")
    assert len(pillow_l3c.encode(photo)) * 8 / photo.size < 3.0


def test_a_stored_stream_of_the_wrong_length_is_corrupt() -> None:
    from pillow_l3c.errors import CorruptStreamError

    model = _model.load(name="poly-small")
    weights = torch.full((4, 5), 1024, dtype=torch.int32)
    mixture = (weights, weights, weights)
    assert list(_polyphase._adapted_decode(model.module, b"\x7f" + bytes(5), [mixture])) == [0] * 5
    with pytest.raises(CorruptStreamError, match="stored stream holds 4 bytes for 5 symbols"):
        _polyphase._adapted_decode(model.module, b"\x7f" + bytes(4), [mixture])
    with pytest.raises(CorruptStreamError, match="scale offset of 9, beyond"):
        _polyphase._adapted_decode(model.module, b"\x09" + bytes(20), [mixture])
