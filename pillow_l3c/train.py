"""Train an L3C model on any folder of images.

    python -m pillow_l3c.train --data DIR --val DIR --out runs/x [--steps N] [--resume]

Each training sample is a random downscale of a random photo (Lanczos; this removes the
JPEG traces of stored copies and widens the data), a random crop and a random flip.
Checkpoints (``last.pt`` every ``--ckpt-every`` steps, ``best.pt`` by validation bpsp)
make a run resumable; ``log.tsv`` records train and validation bpsp as it goes.
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pillow_l3c._suffixes import IMAGE_SUFFIXES
from pillow_l3c.network.architecture import L3C, L3cConfig
from pillow_l3c.network.polyphase import Polyphase, PolyphaseConfig
from pillow_l3c.network.warm_start import pyramid_init


def load_folder(folder: Path) -> list[Image.Image]:
    """Every image of ``folder`` as RGB, kept in memory (the sets here are small)."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        msg = f"no images in {folder}"
        raise SystemExit(msg)
    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(im.convert("RGB"))
    return images


class CropSampler:
    """Random downscale, crop and flip of the training photos."""

    def __init__(
        self,
        images: list[Image.Image],
        crop: int,
        min_scale: float,
        seed: int,
        grey: float = 0.0,
        transpose: bool = False,
    ) -> None:
        self.grey = grey
        self.transpose = transpose
        self.images = [im for im in images if min(im.size) * min_scale >= crop]
        if not self.images:
            msg = f"no image is large enough for {crop}px crops at scale {min_scale}"
            raise SystemExit(msg)
        self.crop = crop
        self.min_scale = min_scale
        self.rng = random.Random(seed)

    def sample(self) -> np.ndarray:
        im = self.rng.choice(self.images)
        w, h = im.size
        lo = max(self.min_scale, self.crop / min(w, h))
        scale = self.rng.uniform(lo, 1.0) if lo < 1.0 else 1.0
        src = min(math.ceil(self.crop / scale), w, h)
        x0 = self.rng.randrange(w - src + 1)
        y0 = self.rng.randrange(h - src + 1)
        patch = im.crop((x0, y0, x0 + src, y0 + src))
        if src != self.crop:
            patch = patch.resize((self.crop, self.crop), Image.Resampling.LANCZOS)
        if self.rng.random() < 0.5:
            patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if self.transpose and self.rng.random() < 0.5:
            patch = patch.transpose(Image.Transpose.TRANSPOSE)
        if self.rng.random() < self.grey:
            patch = patch.convert("L").convert("RGB")
        return np.asarray(patch)

    def batch(self, size: int) -> torch.Tensor:
        arr = np.stack([self.sample() for _ in range(size)])
        return torch.from_numpy(arr).permute(0, 3, 1, 2).float()


class _BatchStream(torch.utils.data.IterableDataset):
    """Endless batches from one sampler, reseeded per loader process so that workers
    do not repeat each other's crops."""

    def __init__(self, sampler: CropSampler, size: int, seed: int) -> None:
        self.sampler, self.size, self.seed = sampler, size, seed

    def __iter__(self) -> Iterator[torch.Tensor]:
        info = torch.utils.data.get_worker_info()
        if info is not None:
            self.sampler.rng = random.Random(self.seed * 1009 + info.id)
        while True:
            yield self.sampler.batch(self.size)


def batches(sampler: CropSampler, size: int, workers: int, seed: int) -> Iterator[torch.Tensor]:
    """Training batches, made in ``workers`` processes when a GPU would otherwise wait on
    the crops (0: in this process, the CPU default)."""
    if workers <= 0:
        while True:
            yield sampler.batch(size)
    loader = torch.utils.data.DataLoader(
        _BatchStream(sampler, size, seed),
        batch_size=None,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        prefetch_factor=4,
    )
    yield from loader


def center_crops(images: list[Image.Image], size: int) -> list[torch.Tensor]:
    """Fixed validation crops (largest multiple of 8 up to ``size``), one per image."""
    out = []
    for im in images:
        w, h = im.size
        cw, ch = min(size, w - w % 8), min(size, h - h % 8)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        arr = np.asarray(im.crop((x0, y0, x0 + cw, y0 + ch)))
        out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float())
    return out


def bpsp(model: L3C | Polyphase, x: torch.Tensor) -> torch.Tensor:
    """Total bpsp of each image of a batch."""
    if isinstance(model, Polyphase):
        return model(x) / x[0].numel()
    rgb, latent, top = model(x)
    return (rgb + latent + top) / x[0].numel()


@torch.no_grad()
def evaluate(model: L3C | Polyphase, crops: list[torch.Tensor]) -> float:
    model.eval()
    bits = sum(float(bpsp(model, x)) * x[0].numel() for x in crops)
    model.train()
    return bits / sum(x[0].numel() for x in crops)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m pillow_l3c.train", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", type=Path, required=True, help="folder of training images")
    p.add_argument(
        "--arch",
        choices=["l3c", "polyphase"],
        default="l3c",
        help="l3c: learned latents (the paper); polyphase: pixel context (network/polyphase.py)",
    )
    p.add_argument("--channels", type=int, default=48, help="polyphase: trunk width")
    p.add_argument("--blocks", type=int, default=1, help="polyphase: residual blocks")
    p.add_argument("--head", type=int, default=24, help="polyphase: per-channel head width")
    p.add_argument(
        "--cosine",
        action="store_true",
        help="cosine learning-rate decay to 5%% over --steps (instead of steps of --lr-decay)",
    )
    p.add_argument("--grey", type=float, default=0.0, help="share of samples made grey")
    p.add_argument(
        "--stages", type=int, choices=[2, 3], default=2, help="polyphase: stages per scale"
    )
    p.add_argument(
        "--colour",
        choices=["rgb", "rgb-independent", "ycocg"],
        default="rgb",
        help="polyphase: how colour channels are coded (network/polyphase.py)",
    )
    p.add_argument("--val", type=Path, help="folder of validation images")
    p.add_argument("--out", type=Path, default=Path("runs/l3c"))
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument(
        "--minutes", type=float, default=0.0, help="stop after this wall time (0: no limit)"
    )
    p.add_argument(
        "--fit-minutes",
        type=float,
        default=0.0,
        help="polyphase: set --steps from the speed of the first 200 steps so that the "
        "schedule ends after about this many minutes (a lent GPU's time is fixed, its speed "
        "is not known ahead); the count is kept in the checkpoint for --resume",
    )
    p.add_argument("--batch", type=int, default=30)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--min-scale", type=float, default=0.5, help="smallest random downscale")
    p.add_argument("--optimizer", choices=["rmsprop", "adam"], default="rmsprop")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-decay", type=float, default=0.75, help="factor every --decay-steps")
    p.add_argument("--decay-steps", type=int, default=20_000)
    p.add_argument("--warmup", type=int, default=0, help="linear learning-rate warm-up steps")
    p.add_argument(
        "--rate-warmup",
        type=int,
        default=0,
        help="steps over which the weight of the latents' bits ramps from 0 to 1",
    )
    p.add_argument(
        "--init",
        choices=["pyramid", "random"],
        default="pyramid",
        help="start as a mean pyramid (network/warm_start.py) or from random weights",
    )
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip")
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--resblocks", type=int, default=8)
    p.add_argument("--mixtures", type=int, default=10)
    p.add_argument("--val-crop", type=int, default=256)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--ckpt-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument(
        "--loader-workers", type=int, default=0, help="processes making crops (0: this one)"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init-from", type=Path, help="fine-tune: start from this checkpoint's weights")
    p.add_argument(
        "--exact",
        action="store_true",
        help="quantization-aware: train the predictors as the integer-exact model computes",
    )
    return p.parse_args(argv)


def make_optimizer(args: argparse.Namespace, model: L3C) -> torch.optim.Optimizer:
    if args.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=args.lr)
    return torch.optim.RMSprop(model.parameters(), lr=args.lr)


def learning_rate(args: argparse.Namespace, step: int) -> float:
    warm = min(1.0, (step + 1) / args.warmup) if args.warmup else 1.0
    if args.cosine:
        progress = min(1.0, step / args.steps)
        return args.lr * warm * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))
    return args.lr * warm * args.lr_decay ** (step // args.decay_steps)


def optimizer_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, clip: float
) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()


class DivergenceGuard:
    """The state at the last validation, restored (and the learning rate halved) when a
    period's training bpsp jumps past 1.5x the previous period's."""

    def __init__(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        self.model, self.opt = model, opt
        self.previous = math.inf
        self.good = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))

    def diverged(self, train_bpsp: float, args: argparse.Namespace) -> bool:
        """True (after restoring) if this period diverged; else remember this state."""
        if train_bpsp > 1.5 * self.previous:
            self.model.load_state_dict(self.good[0])
            self.opt.load_state_dict(self.good[1])
            args.lr *= 0.5
            return True
        self.previous = train_bpsp
        self.good = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.opt.state_dict()))
        return False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.arch == "polyphase":
        if args.exact or args.init != "pyramid":
            msg = "--exact and --init are L3C options (a polyphase model starts as a predictor)"
            raise SystemExit(msg)
        train_polyphase(args)
        return
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = L3cConfig(mixtures=args.mixtures, filters=args.filters, resblocks=args.resblocks)
    model = L3C(cfg)
    if args.init == "pyramid":
        pyramid_init(model)
    if args.init_from:
        ck = torch.load(args.init_from, map_location="cpu")
        cfg = L3cConfig(**ck["config"])
        model = L3C(cfg)
        model.load_state_dict(ck["model"])
    model.qat = args.exact
    model = model.to(args.device)
    opt = make_optimizer(args, model)
    step, best = 0, math.inf
    last = args.out / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, map_location=args.device)
        cfg = L3cConfig(**ck["config"])
        model = L3C(cfg).to(args.device)
        model.load_state_dict(ck["model"])
        model.qat = bool(ck.get("exact", False))
        opt = make_optimizer(args, model)
        opt.load_state_dict(ck["optimizer"])
        step, best = ck["step"], ck["best_val"]
        print(f"resumed {last} at step {step}, best val {best:.4f} bpsp", flush=True)

    sampler = CropSampler(load_folder(args.data), args.crop, args.min_scale, args.seed + step)
    val = center_crops(load_folder(args.val), args.val_crop) if args.val else []
    val = [v.to(args.device) for v in val]
    log = (args.out / "log.tsv").open("a")
    if step == 0:
        log.write("step\tminutes\ttrain_bpsp\tlatent_bpsp\tval_bpsp\n")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params / 1e6:.2f}M parameters, config {cfg.to_dict()}", flush=True)

    def save(path: Path) -> None:
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "best_val": best,
            "config": cfg.to_dict(),
            "exact": model.qat,
            "args": vars(args)
            | {
                "data": str(args.data),
                "val": str(args.val),
                "out": str(args.out),
                "init_from": str(args.init_from),
            },
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)

    guard = DivergenceGuard(model, opt)
    start = time.monotonic()
    running: list[float] = []
    running_latent: list[float] = []
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = learning_rate(args, step)
        x = sampler.batch(args.batch).to(args.device)
        rgb, latent, top = model(x)
        subpixels = x[0].numel()
        rate_weight = min(1.0, step / args.rate_warmup) if args.rate_warmup else 1.0
        loss = (rgb + rate_weight * latent + top).mean() / subpixels
        optimizer_step(model, opt, loss, args.clip)
        step += 1
        running.append(float(((rgb + latent + top) / subpixels).mean().detach()))
        running_latent.append(float((latent / subpixels).mean().detach()))
        minutes = (time.monotonic() - start) / 60
        done = step >= args.steps or (args.minutes and minutes >= args.minutes)
        if step % args.val_every == 0 or done:
            tr = sum(running) / len(running)
            lat = sum(running_latent) / len(running_latent)
            running.clear()
            running_latent.clear()
            if not done and guard.diverged(tr, args):
                print(f"step {step}: diverged ({tr:.2f} bpsp), restored, lr now {args.lr:g}")
                log.write(f"# step {step} diverged, restored the state of the last check\n")
                continue
            v = evaluate(model, val) if val else math.nan
            log.write(f"{step}\t{minutes:.1f}\t{tr:.4f}\t{lat:.4f}\t{v:.4f}\n")
            log.flush()
            print(
                f"step {step} {minutes:.1f} min train {tr:.3f} (latents {lat:.3f})",
                f"val {v:.3f} bpsp",
                flush=True,
            )
            if v < best:
                best = v
                save(args.out / "best.pt")
        if step % args.ckpt_every == 0 or done:
            save(last)
        if done:
            break


def train_polyphase(args: argparse.Namespace) -> None:
    """The polyphase family's loop: the same data, checkpoints, log and guard as L3C's,
    one loss (the bits of every coded scale)."""
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = PolyphaseConfig(
        args.channels, args.blocks, args.head, args.mixtures, args.colour, args.stages
    )
    step, best = 0, math.inf
    last = args.out / "last.pt"
    ck = None
    if args.resume and last.exists():
        ck = torch.load(last, map_location=args.device)
    elif args.init_from:
        ck = torch.load(args.init_from, map_location=args.device)
    if ck is not None:
        if ck.get("arch") != "polyphase":
            msg = "--resume and --init-from need a polyphase checkpoint"
            raise SystemExit(msg)
        cfg = PolyphaseConfig(**ck["config"])
        if args.resume:
            args.optimizer = ck["args"]["optimizer"]  # its state is that optimizer's
            if ck["args"].get("fit_minutes"):
                args.steps, args.fit_minutes = ck["args"]["steps"], 0.0
    model = Polyphase(cfg).to(args.device)
    opt = make_optimizer(args, model)
    if ck is not None:
        model.load_state_dict(ck["model"])
        if args.resume and last.exists():
            if "optimizer" in ck:
                opt.load_state_dict(ck["optimizer"])
            step, best = ck["step"], ck["best_val"]
            print(f"resumed {last} at step {step}, best val {best:.4f} bpsp", flush=True)
    sampler = CropSampler(
        load_folder(args.data), args.crop, args.min_scale, args.seed + step, args.grey, True
    )
    val = (
        [v.to(args.device) for v in center_crops(load_folder(args.val), args.val_crop)]
        if args.val
        else []
    )
    log = (args.out / "log.tsv").open("a")
    if step == 0:
        log.write("step\tminutes\ttrain_bpsp\tval_bpsp\n")
    print(f"{sum(p.numel() for p in model.parameters())} parameters, {cfg.to_dict()}", flush=True)
    minutes_before = float(ck.get("minutes", 0.0)) if ck is not None and args.resume else 0.0

    def save(path: Path, minutes: float, with_optimizer: bool = True) -> None:
        state = {
            "arch": "polyphase",
            "model": model.state_dict(),
            "step": step,
            "best_val": best,
            "minutes": minutes,
            "config": cfg.to_dict(),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        }
        if with_optimizer:
            state["optimizer"] = opt.state_dict()
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)

    guard = DivergenceGuard(model, opt)
    start = time.monotonic()
    running: list[float] = []
    stream = batches(sampler, args.batch, args.loader_workers, args.seed + step)
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = learning_rate(args, step)
        x = next(stream).to(args.device, non_blocking=True)
        loss = (model(x) / x[0].numel()).mean()
        optimizer_step(model, opt, loss, args.clip)
        step += 1
        running.append(float(loss.detach()))
        minutes = minutes_before + (time.monotonic() - start) / 60
        if args.fit_minutes and step == 200:
            args.steps = int(200 + (args.fit_minutes - minutes) / minutes * 200)
            print(f"--fit-minutes {args.fit_minutes}: {args.steps} steps", flush=True)
            log.write(f"# --fit-minutes {args.fit_minutes}: --steps {args.steps}\n")
        done = step >= args.steps or bool(args.minutes and minutes >= args.minutes)
        if step % args.val_every == 0 or done:
            tr = sum(running) / len(running)
            running.clear()
            if not done and guard.diverged(tr, args):
                log.write(f"# step {step} diverged, restored the state of the last check\n")
                continue
            v = evaluate(model, val) if val else math.nan
            log.write(f"{step}\t{minutes:.1f}\t{tr:.4f}\t{v:.4f}\n")
            log.flush()
            print(f"step {step} {minutes:.1f} min train {tr:.3f} val {v:.3f} bpsp", flush=True)
            if v < best:
                best = v
                save(args.out / "best.pt", minutes, with_optimizer=False)
        if step % args.ckpt_every == 0 or done:
            save(last, minutes)
        if done:
            break


if __name__ == "__main__":
    main()
