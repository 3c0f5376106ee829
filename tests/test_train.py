"""The training command: a few steps on the committed photos, checkpoint, resume, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import pillow_l3c
from pillow_l3c.network.architecture import L3C, L3cConfig, mixture_nll_bits
from pillow_l3c.network.export import export, load_checkpoint
from pillow_l3c.network.warm_start import pyramid_init
from pillow_l3c.train import main

from .conftest import IMAGES

TINY = ["--filters", "8", "--resblocks", "1", "--mixtures", "2", "--batch", "2", "--crop", "32"]


def test_train_resume_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    args = ["--data", str(IMAGES), "--val", str(IMAGES), "--out", str(run), "--val-crop", "32"]
    args += ["--val-every", "2", "--ckpt-every", "2", "--optimizer", "adam", "--lr", "1e-3"]
    main([*args, *TINY, "--steps", "2"])
    assert (run / "last.pt").exists()
    assert (run / "best.pt").exists()
    main([*args, *TINY, "--steps", "4", "--resume"])
    log = (run / "log.tsv").read_text().splitlines()
    assert log[0].split("\t") == ["step", "minutes", "train_bpsp", "latent_bpsp", "val_bpsp"]
    assert [line.split("\t")[0] for line in log[1:]] == ["2", "4"]
    assert torch.load(run / "last.pt")["step"] == 4
    model_file = tmp_path / "model.pt"
    export(load_checkpoint(run / "best.pt"), model_file)
    monkeypatch.setenv("PILLOW_L3C_WEIGHTS", str(model_file))
    pixels = np.asarray(np.random.default_rng(0).integers(0, 256, (13, 17, 3)), np.uint8)
    np.testing.assert_array_equal(pillow_l3c.decode(pillow_l3c.encode(pixels)), pixels)


def test_pyramid_warm_start_codes_photos_below_8_bpsp() -> None:
    from PIL import Image

    with Image.open(IMAGES / "storm_256x192.png") as im:
        x = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None].float()
    torch.manual_seed(0)
    model = L3C(L3cConfig(filters=16, resblocks=1, mixtures=3)).eval()
    with torch.no_grad():
        random_bits = sum(model(x)).item() / x.numel()
        pyramid_init(model)
        warm_bits = sum(model(x)).item() / x.numel()
    assert warm_bits < 6.5 < 8.0 < random_bits


def test_likelihood_keeps_gradients_far_from_the_mean() -> None:
    target = torch.tensor([[100]])
    mu = torch.tensor([[[200.0]]], requires_grad=True)
    bits = mixture_nll_bits(target, torch.zeros(1, 1, 1), mu, torch.tensor([[[0.2]]]), 256, False)
    bits.sum().backward()
    assert bits.item() > 100
    assert mu.grad is not None
    assert mu.grad.item() > 1  # pulls the mean towards the target
    floored = mixture_nll_bits(target, torch.zeros(1, 1, 1), mu, torch.tensor([[[0.2]]]), 256)
    assert floored.item() == pytest.approx(16.0, abs=1e-3)  # what the coder pays at most
