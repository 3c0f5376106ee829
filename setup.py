"""Build of the C++ coder; all metadata lives in pyproject.toml.

The bundled model in ``weights/`` is installed as the ``pillow_l3c.weights`` package
(package_dir below), so a wheel built from the repository carries it.
Set ``DEBUG_BUILD=1`` for an unoptimised build with assertions, ``SANITIZE=1`` to add
AddressSanitizer and UndefinedBehaviorSanitizer.
"""

from __future__ import annotations

import os
from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup


def coder_extension() -> Pybind11Extension:
    args = ["-O3"]
    link: list[str] = []
    if os.environ.get("DEBUG_BUILD"):
        args = ["-O0", "-g", "-UNDEBUG"]
    if os.environ.get("SANITIZE"):
        flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
        args += flags
        link += flags
    return Pybind11Extension(
        "pillow_l3c._coder",
        sorted(glob("csrc/*.cpp")),
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=args,
        extra_link_args=link,
    )


setup(
    ext_modules=[coder_extension()],
    cmdclass={"build_ext": build_ext},
    packages=[
        "pillow_l3c",
        "pillow_l3c.bench",
        "pillow_l3c.network",
        "pillow_l3c.tile_coders",
        "pillow_l3c.weights",
    ],
    package_dir={"pillow_l3c.weights": "weights"},
    package_data={
        "pillow_l3c": ["py.typed", "_coder.pyi"],
        "pillow_l3c.weights": ["*.pt", "*.md", "*.json"],
    },
)
