"""The format's integers have one source, pillow_l3c/_constants.py: the C++ headers
are generated from it, the built coder reports the same values, and the header
layout the tests and the fuzzer use comes from ``_format``."""

from __future__ import annotations

import ast
import importlib.util
import io
import re
from pathlib import Path
from types import ModuleType

import pytest

from pillow_l3c import _coder, _constants, _format
from pillow_l3c.tile_coders.base import LEARNED, Method

ROOT = Path(__file__).resolve().parent.parent


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_headers_are_the_generators_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit pillow_l3c/_constants.py, then run python csrc/gen_headers.py."""
    gen = _load(ROOT / "csrc" / "gen_headers.py")
    # the constants under test: the source tree's, or an installed wheel's
    monkeypatch.setattr(gen, "SOURCE", Path(_constants.__file__))
    for name, make in gen.HEADERS.items():
        assert (ROOT / "csrc" / name).read_text() == make(), f"csrc/{name} is stale"


def test_the_built_coder_has_the_python_values() -> None:
    python = {name: getattr(_constants, name) for name in _constants.CPP_NAMES}
    built = _coder.CONSTANTS
    assert built == python


def test_constants_need_only_the_standard_library() -> None:
    tree = ast.parse(Path(_constants.__file__).read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [getattr(n, "module", None) for n in imports] == ["__future__"]


def test_header_fields_follow_the_documented_layout() -> None:
    """docs/FORMAT.md's Layout table, row by row: offset, size, field."""
    text = (ROOT / "docs" / "FORMAT.md").read_text()
    layout = text.split("## Layout", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| (\d+) \| (\d+) \|", layout, re.MULTILINE)
    fields = list(_format.HEADER_FIELDS.values())
    assert [(int(o), int(s)) for o, s in rows] == [(f.start, f.stop - f.start) for f in fields]
    assert fields[-1].stop == _format.FIXED_HEADER_BYTES


def _integer_slices(path: Path) -> list[str]:
    """Slices with a literal bound other than 0 (an offset typed by hand)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper):
                if isinstance(bound, ast.Constant) and bound.value not in (0, None):
                    found.append(f"{path.name}:{node.lineno}")
    return found


def test_fuzzer_and_format_tests_take_offsets_from_format() -> None:
    for path in (ROOT / "fuzz" / "fuzz_l3c.py", ROOT / "tests" / "test_format.py"):
        assert _integer_slices(path) == []


def test_fuzzer_reseal_makes_a_damaged_header_parse() -> None:
    fuzz = _load(ROOT / "fuzz" / "fuzz_l3c.py")
    header = _format.Header(5, 7, "RGB", 512, 0, (Method(LEARNED, bytes(16)),))
    raw = bytearray(header.pack())
    raw[_format.HEADER_FIELDS["width"]] = (9).to_bytes(4, "big")
    raw += _format.pack_section(_format.TILE_TAG, b"abc")
    raw[-5] ^= 1  # the payload's last byte
    sealed = fuzz.reseal(bytes(raw))
    assert _format.parse_header(sealed).width == 9
    tile = _format.read_tile(io.BytesIO(sealed[header.byte_size :]))
    assert tile == b"ab" + bytes([ord("c") ^ 1])
