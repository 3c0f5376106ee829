"""Locating, identifying and lazily loading the bundled TorchScript model.

Torch is imported here and only when a model is first needed, so ``import
pillow_l3c`` and ``Image.open`` stay cheap. A model is loaded once per process and
device; the cache is guarded by a lock so that threads share one copy.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pillow_l3c._format import MODEL_ID_BYTES

if TYPE_CHECKING:
    import torch

WEIGHTS_ENV = "PILLOW_L3C_WEIGHTS"
DEFAULT_WEIGHTS = "l3c-small.pt"


def weights_path() -> Path:
    """The model file: ``$PILLOW_L3C_WEIGHTS`` if set, else the bundled one."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        return Path(override)
    return Path(str(resources.files("pillow_l3c.weights").joinpath(DEFAULT_WEIGHTS)))


@cache
def _file_id(path: Path, mtime_ns: int, size: int) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()[:MODEL_ID_BYTES]


def model_id(path: Path | None = None) -> bytes:
    """The id written into every file: the first 16 bytes of the model file's SHA-256."""
    path = path or weights_path()
    st = path.stat()
    return _file_id(path, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class LoadedModel:
    module: Any  # torch.jit.ScriptModule exposing the L3C codec interface
    model_id: bytes
    device: torch.device
    mixtures: int
    levels: int
    scales: int
    latent_channels: int
    exact: bool  # integer predictors: files decode identically on every machine

    def latent_shape(self, scale: int, height: int, width: int) -> tuple[int, int, int]:
        """(C, h, w) of z(scale) for a padded image of height x width."""
        return (self.latent_channels, height >> scale, width >> scale)


_lock = threading.Lock()
_loaded: dict[tuple[Path, int, str], LoadedModel] = {}


def resolve_device(requested: str | None) -> torch.device:
    import torch

    name = requested or "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn("CUDA is not available; pillow_l3c runs on the CPU", stacklevel=3)
        return torch.device("cpu")
    return device


def _single_thread_after_fork() -> None:
    """torch's OpenMP pool does not survive fork: a forked child that runs the model
    with more than one thread hangs. The child runs it with one thread instead."""
    import torch

    torch.set_num_threads(1)


def _verify(module: Any, path: Path) -> None:
    """Refuse an exact model whose integer arithmetic could leave the exact range."""
    from pillow_l3c.errors import L3cError
    from pillow_l3c.network.exact import verify

    problems = verify(module)
    if problems:
        msg = f"model {path.name} is not integer-exact: " + "; ".join(problems[:3])
        raise L3cError(msg)


def load(device: str | None = None) -> LoadedModel:
    """The model on ``device`` (default CPU), loaded on first use."""
    import torch

    dev = resolve_device(device)
    path = weights_path()
    key = (path, path.stat().st_mtime_ns, str(dev))
    with _lock:
        if not _loaded:
            os.register_at_fork(after_in_child=_single_thread_after_fork)
        if key not in _loaded:
            with warnings.catch_warnings():
                # TorchScript is the bundled format by design (no Python needed to run
                # the model); torch 2.13 marks it deprecated in favour of torch.export.
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location=dev).eval()
            exact = bool(getattr(module, "exact", False))
            if exact:
                _verify(module, path)
            _loaded[key] = LoadedModel(
                module=module,
                model_id=model_id(path),
                device=dev,
                mixtures=int(module.mixtures),
                levels=int(module.levels),
                scales=int(module.scales),
                latent_channels=int(module.latent_channels),
                exact=exact,
            )
        return _loaded[key]
