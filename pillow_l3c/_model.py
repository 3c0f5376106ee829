"""Locating, identifying and lazily loading the bundled TorchScript model.

Torch is imported here and only when a model is first needed, so ``import
pillow_l3c`` and ``Image.open`` stay cheap. A model is loaded once per process and
device; the cache is guarded by a lock so that threads share one copy.
"""

from __future__ import annotations

import hashlib
import json
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
# The model that writes new files: the bundled model with the best bpsp on
# shared/data/val (docs/TRAINING.md, "The models").
DEFAULT_MODEL = "poly-small"
ID_IN_NAME = 8  # hex digits of the model id in a bundled file's name: NAME.ID.pt


@dataclass(frozen=True)
class ModelFile:
    """A model file: its name (what ``model=`` takes) and where it is."""

    name: str
    path: Path


def model_files() -> list[ModelFile]:
    """The models a file can be written or read with: the bundled ones (``NAME.ID.pt``
    in ``pillow_l3c.weights``), or only ``$PILLOW_L3C_WEIGHTS`` when it is set."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        return [ModelFile(Path(override).stem, Path(override))]
    folder = resources.files("pillow_l3c.weights")
    found: dict[str, ModelFile] = {}
    for entry in folder.iterdir():
        parts = entry.name.split(".")
        if len(parts) == 3 and parts[2] == "pt" and len(parts[1]) == ID_IN_NAME:
            if parts[0] in found:
                from pillow_l3c.errors import L3cError

                msg = f"two bundled models are named {parts[0]}: {found[parts[0]].path} and {entry}"
                raise L3cError(msg)
            found[parts[0]] = ModelFile(parts[0], Path(str(entry)))
    return sorted(found.values(), key=lambda m: m.name)


def find(name: str | None = None) -> ModelFile:
    """The model called ``name`` (default: the default model, or the override)."""
    files = model_files()
    if name is None:
        if os.environ.get(WEIGHTS_ENV):
            return files[0]
        name = DEFAULT_MODEL
    for f in files:
        if f.name == name:
            return f
    known = ", ".join(f.name for f in files) or "none"
    msg = f"no model named {name!r} (available: {known})"
    raise ValueError(msg)


def find_by_id(wanted: bytes) -> ModelFile:
    """The model whose id a file's header names; ModelMismatchError if none has it."""
    from pillow_l3c.errors import ModelMismatchError

    files = model_files()
    for f in files:
        if wanted in known_ids(f.path):
            return f
    have = ", ".join(f"{f.name} {model_id(f.path).hex()}" for f in files)
    msg = f"file was written by model {wanted.hex()}, which no available model has ({have})"
    raise ModelMismatchError(msg)


def weights_path() -> Path:
    """The file of the default model."""
    return find().path


def model_file_id(path: Path) -> bytes:
    """The first 16 bytes of the SHA-256 of a model file (its TorchScript bytes): the
    id format 2 wrote, and what a bundled file's name carries (``NAME.ID.pt``)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()[:MODEL_ID_BYTES]


@cache
def _file_id(path: Path, mtime_ns: int, size: int) -> bytes:
    """``model_file_id``, cached while the file's time and size stay the same."""
    return model_file_id(path)


def file_id(path: Path | None = None) -> bytes:
    """The SHA-256 id of a model file (format 2's model id; ``NAME.ID.pt``'s ID)."""
    path = path or weights_path()
    st = path.stat()
    return _file_id(path, st.st_mtime_ns, st.st_size)


def integer_id(module: Any) -> bytes:
    """A model's id in format 3: what decides its integers, not the bytes of its file.

    The SHA-256 of the integer rules' version and constants (``_constants``, which
    define the sigmoid table and every unit), the model's family, and each tensor of
    its state, by name, dtype, shape and bytes. Re-exporting the same weights (another
    TorchScript version, an int8 kernel of the same integers) keeps the id, so no file
    written with it is orphaned; changing a weight or a rule changes it.
    """
    import torch

    from pillow_l3c import _constants

    digest = hashlib.sha256(b"pillow-l3c model id\0")
    rules = {k: v for k, v in vars(_constants).items() if k.isupper() and isinstance(v, int)}
    digest.update(repr(sorted(rules.items())).encode())
    digest.update(str(getattr(module, "family", "l3c")).encode() + b"\0")
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.digest()[:MODEL_ID_BYTES]


@cache
def _recorded_ids() -> dict[str, dict[str, Any]]:
    """``weights/ids.json``: each bundled model's integer id and the file ids of its
    earlier exports, so that ids are known without torch (``l3c info``, ``models()``)."""
    try:
        text = (resources.files("pillow_l3c.weights") / "ids.json").read_text()
    except FileNotFoundError:
        return {}
    return json.loads(text)["models"]


def model_id(path: Path | None = None) -> bytes:
    """The id a format-3 file gives the model in ``path``: its integer id, as recorded
    beside the bundled models; a model file that is not recorded there (an override)
    is loaded once to compute it."""
    path = path or weights_path()
    recorded = _recorded_ids().get(_bundled_name(path) or "")
    if recorded is not None and recorded["file_id"] == file_id(path).hex():
        return bytes.fromhex(recorded["integer_id"])
    return _computed_integer_id(path, *_stat(path))


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@cache
def _computed_integer_id(path: Path, mtime_ns: int, size: int) -> bytes:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return integer_id(torch.jit.load(str(path), map_location="cpu"))


def known_ids(path: Path) -> set[bytes]:
    """Every id a file may name the model in ``path`` by: its integer id (format 3),
    its file id and the file ids of earlier exports of the same integers (format 2)."""
    ids = {model_id(path), file_id(path)}
    recorded = _recorded_ids().get(_bundled_name(path) or "", {})
    ids.update(bytes.fromhex(h) for h in recorded.get("format2_ids", []))
    return ids


def _bundled_name(path: Path) -> str | None:
    parts = path.name.split(".")
    if os.environ.get(WEIGHTS_ENV) or len(parts) != 3:
        return None
    return parts[0]


@dataclass(frozen=True)
class LoadedModel:
    module: Any  # torch.jit.ScriptModule exposing its family's codec interface
    name: str
    model_id: bytes
    device: torch.device
    family: str  # "l3c" (learned latents) or "polyphase" (pixel context)
    exact: bool  # integer predictors: files decode identically on every machine
    levels: int = 0  # L3C: latent alphabet, scales and channels
    scales: int = 0
    latent_channels: int = 0
    order: tuple[int, ...] = (0, 1, 2)  # polyphase: the order channels are coded in

    def latent_shape(self, scale: int, height: int, width: int) -> tuple[int, int, int]:
        """(C, h, w) of z(scale) for a padded image of height x width."""
        return (self.latent_channels, height >> scale, width >> scale)


_lock = threading.Lock()
_loaded: dict[tuple[Path, int, str], LoadedModel] = {}


def resolve_device(requested: str | None) -> torch.device:
    import torch

    name = requested or "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        msg = f'unknown device {name!r}: use "cpu", "cuda" or "cuda:N"'
        raise ValueError(msg) from None
    if device.type not in ("cpu", "cuda"):
        msg = f'pillow_l3c runs on "cpu" or "cuda", not {name!r}'
        raise ValueError(msg)
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if device.index is not None and count and device.index >= count:
        msg = f"no device {name!r}: this machine has {count} CUDA device(s)"
        raise ValueError(msg)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn("CUDA is not available; pillow_l3c runs on the CPU", stacklevel=3)
        return torch.device("cpu")
    return device


def _single_thread_after_fork() -> None:
    """torch's OpenMP pool does not survive fork: a forked child that runs the model
    with more than one thread hangs. The child runs it with one thread instead."""
    import torch

    torch.set_num_threads(1)


def _verify(module: Any, path: Path, family: str) -> None:
    """Refuse an exact model whose integer arithmetic could leave the exact range, or
    whose code holds anything the whitelist of ``_verify.check_graph`` does not list."""
    from pillow_l3c._verify import check_graph, verify
    from pillow_l3c.errors import L3cError

    problems = verify(module) + check_graph(module, family)
    if problems:
        msg = f"model {path.name} is not integer-exact: " + "; ".join(problems[:3])
        raise L3cError(msg)


# Bundled models exported before exports carried a ``family`` attribute, by model id
# (the file's content): only these may omit it.
LEGACY_FAMILIES = {"c3bed5364921391a9e1c98b864f368dd": "l3c"}  # l3c-small, by its file id


def _attribute(module: Any, path: Path, name: str, kind: type, why: str) -> Any:
    """The model's attribute ``name``, which must exist and be a ``kind``: the loader
    no longer guesses a default for what decides how a file is decoded."""
    from pillow_l3c.errors import L3cError

    if not hasattr(module, name):
        msg = f"model {path.name} has no {name!r} attribute: {why}"
        raise L3cError(msg)
    value = getattr(module, name)
    if not isinstance(value, kind):
        msg = f"model {path.name}: {name!r} must be a {kind.__name__}, got {type(value).__name__}"
        raise L3cError(msg)
    return value


def _family(module: Any, path: Path) -> str:
    legacy = LEGACY_FAMILIES.get(file_id(path).hex())
    if legacy is not None and not hasattr(module, "family"):
        return legacy
    why = "a model must name its family (l3c or polyphase)"
    return str(_attribute(module, path, "family", str, why))


def _exactness(module: Any, path: Path, family: str) -> bool:
    """Whether the model is integer-exact (then checked: ``_verify``). A float model
    (an L3C exported with --float, for comparisons) must say so; a polyphase model
    must be exact, since the codec hands its outputs to the coder unquantized."""
    from pillow_l3c.errors import L3cError

    why = "a model must say whether it is integer-exact"
    exact = bool(_attribute(module, path, "exact", bool, why))
    if exact:
        _verify(module, path, family)
    elif family != "l3c":
        msg = f"model {path.name}: a {family} model must be integer-exact"
        raise L3cError(msg)
    return exact


def _check_interface(module: Any, file: ModelFile, family: str) -> None:
    """Refuse a model file that this codec cannot run as its format says: an unknown
    family, a polyphase model with another pyramid or channel order than
    docs/FORMAT.md allows, or a bundled file whose name carries another id."""
    from pillow_l3c.errors import L3cError
    from pillow_l3c.tile_coders import polyphase as _polyphase

    problem = ""
    if family not in ("l3c", "polyphase"):
        problem = f"unknown model family {family!r}"
    elif family == "polyphase" and (
        int(module.min_side) != _polyphase.MIN_SIDE or sorted(module.order) != [0, 1, 2]
    ):
        problem = f"pyramid side {module.min_side} or channel order {module.order} unsupported"
    parts = file.path.name.split(".")
    bundled = not os.environ.get(WEIGHTS_ENV) and len(parts) == 3
    if bundled and not file_id(file.path).hex().startswith(parts[1]):
        problem = f"its name says id {parts[1]}, its content {file_id(file.path).hex()}"
    recorded = _recorded_ids().get(parts[0]) if bundled else None
    if not problem and recorded is not None:
        computed = integer_id(module).hex()
        if recorded["integer_id"] != computed:
            problem = f"its integers have id {computed}, weights/ids.json says otherwise"
    if problem:
        msg = f"model {file.path.name}: {problem}"
        raise L3cError(msg)


def load(
    device: str | None = None, name: str | None = None, wanted: bytes | None = None
) -> LoadedModel:
    """A model on ``device`` (default CPU), loaded on first use: the one whose id is
    ``wanted``, else the one called ``name``, else the default."""
    import torch

    dev = resolve_device(device)
    file = find_by_id(wanted) if wanted is not None else find(name)
    path = file.path
    key = (path, path.stat().st_mtime_ns, str(dev))
    with _lock:
        if not _loaded:
            os.register_at_fork(after_in_child=_single_thread_after_fork)
        if key not in _loaded:
            # Optimized execution on while the model is loaded and checked, whatever
            # the caller runs under (a codec worker turns it off): without it the
            # methods' inlined graphs keep their calls, which the whitelist refuses.
            with warnings.catch_warnings(), torch.jit.optimized_execution(True):
                # TorchScript is the bundled format by design (no Python needed to run
                # the model); torch 2.13 marks it deprecated in favour of torch.export.
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location=dev).eval()
                family = _family(module, path)
                _check_interface(module, file, family)
                exact = _exactness(module, path, family)
            common = {"module": module, "name": file.name, "model_id": model_id(path)}
            if family == "polyphase":
                _loaded[key] = LoadedModel(
                    **common, device=dev, family=family, exact=exact, order=tuple(module.order)
                )
            else:
                _loaded[key] = LoadedModel(
                    **common,
                    device=dev,
                    family=family,
                    exact=exact,
                    levels=int(module.levels),
                    scales=int(module.scales),
                    latent_channels=int(module.latent_channels),
                )
        return _loaded[key]
