"""Optional dependencies, imported when an option needs them, with the install line."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An option needs a package that is not installed; the message says what to install."""


def require(module: str, extra: str = "dask") -> ModuleType:
    """``module``, or a MissingDependencyError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        msg = (
            f"this needs {module.split('.')[0]} ({e.name or module} is not installed): "
            f"pip install 'pillow-l3c[{extra}]'"
        )
        raise MissingDependencyError(msg) from e
