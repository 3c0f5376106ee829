"""The static exactness check of a loaded model, for the runtime.

Kept apart from ``network/exact.py`` so that loading a model imports no training code.
Two checks, both needed for a file to decode to the same integers on every machine:

- ``verify``: the stored integer convolutions (``IntConv``, ``IntPointwise``) have
  integer weights, power-of-two scales and no partial sum that can reach 2^24, so
  that their float arithmetic is exact in any summation order;
- ``check_graph``: a whitelist of what the model's TorchScript may contain at all.
  The numeric check says nothing about code around the convolutions: a ``torch.sin``
  or a float matrix product in ``mixture`` would make the CDFs depend on the machine.
  So every operation reachable from the model's methods must be listed below for the
  kind of module it runs in, every dtype it converts to must be listed, and every
  submodule must be of a listed type. Anything else is refused by name.

What the whitelist cannot see: the dtype of an ordinary ``add`` or ``mul`` (TorchScript
graphs carry no dtypes). It keeps the vocabulary to operations that are exact on
integers, float arithmetic to the modules whose bounds ``verify`` checks, and
conversions to the listed dtypes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pillow_l3c._constants import EXACT_LIMIT

__all__ = ["EXACT_LIMIT", "check_graph", "verify"]

# The integer convolutions: float arithmetic inside is exact because ``verify`` bounds
# every partial sum below 2^24.
INTEGER_CONVOLUTIONS = frozenset({"IntConv", "IntPointwise"})

# The submodule types of each family's exact model (the root first).
ROOT_TYPES = {"l3c": "ExactL3C", "polyphase": "ExactPolyphase"}
MODULE_TYPES = {
    "l3c": frozenset(
        {
            "ExactL3C",
            "ModuleList",
            "IntPredictor",
            "IntResBlock",
            "IntConv",
            # The float extractors run only in ENCODER_ONLY methods (below).
            "Extractor",
            "Body",
            "ResBlock",
            "Sequential",
            "Conv2d",
        }
    ),
    "polyphase": frozenset({"ExactPolyphase", "ModuleList", "IntStage", "IntConv", "IntPointwise"}),
}

# Methods that only the encoder runs: the L3C latents ``extract`` computes are written
# to the file, so the decoder never recomputes them and they may be float.
ENCODER_ONLY = {"l3c": frozenset({"extract"}), "polyphase": frozenset()}

# The nodes that hold blocks (their bodies).
NESTING = frozenset({"prim::If", "prim::Loop"})

# Control flow, constants, attributes, containers and shapes: no arithmetic on data.
STRUCTURE = frozenset(
    {
        "prim::Constant",
        "prim::GetAttr",
        "prim::If",
        "prim::Loop",
        "prim::ListConstruct",
        "prim::ListUnpack",
        "prim::TupleConstruct",
        "prim::TupleUnpack",
        "prim::TupleIndex",
        "prim::unchecked_cast",
        "prim::RaiseException",
        "prim::Uninitialized",
        "prim::dtype",
        "prim::device",
        "prim::is_cuda",
        "prim::min",
        "prim::max",
        "aten::__getitem__",
        "aten::__is__",
        "aten::__isnot__",
        "aten::__not__",
        "aten::len",
        "aten::size",
        "aten::dim",
        "aten::append",
        "aten::format",
    }
)

# Operations whose result on integers is an exact integer.
INTEGER_OPS = STRUCTURE | frozenset(
    {
        "aten::add",
        "aten::add_",
        "aten::sub",
        "aten::sub_",
        "aten::mul",
        "aten::mul_",
        "aten::neg",
        "aten::floordiv",
        "aten::remainder",
        "aten::clamp",
        "aten::clamp_",
        "aten::relu",
        "aten::max",
        "aten::min",
        "aten::sum",
        "aten::eq",
        "aten::ne",
        "aten::gt",
        "aten::ge",
        "aten::lt",
        "aten::le",
        "aten::index",
        "aten::select",
        "aten::slice",
        "aten::view",
        "aten::reshape",
        "aten::permute",
        "aten::t",
        "aten::transpose",
        "aten::contiguous",
        "aten::unsqueeze",
        "aten::flatten",
        "aten::cat",
        "aten::pixel_shuffle",
        "aten::to",
        "aten::zeros",
        "aten::zeros_like",
        "aten::arange",
        "aten::index_select",
        "aten::div",  # only with an integer rounding mode: see _problems_of
    }
)

# Float arithmetic that is exact under ``verify``'s bounds: integer convolutions only.
CONVOLUTION_OPS = INTEGER_OPS | frozenset({"aten::conv2d", "aten::matmul", "aten::floor_"})

# The encoder's float extractors (ENCODER_ONLY methods).
ENCODER_OPS = CONVOLUTION_OPS | frozenset({"aten::round", "aten::floor"})

# Every dtype an exact model may convert to: integers, and the float32/float64 in
# which the integer convolutions compute exactly. Not float16 or bfloat16: their
# 11- and 8-bit mantissas hold no 2^24 partial sum.
ALLOWED_DTYPES = {0: "uint8", 3: "int32", 4: "int64", 6: "float32", 7: "float64", 11: "bool"}

# c10::ScalarType numbers, as TorchScript graphs hold dtypes, for the messages.
SCALAR_TYPES = {
    **ALLOWED_DTYPES,
    1: "int8",
    2: "int16",
    5: "float16",
    8: "complex32",
    9: "complex64",
    10: "complex128",
    15: "bfloat16",
}

# aten::div rounds to an integer only with one of these modes.
INTEGER_ROUNDING = frozenset({"floor", "trunc"})


def verify(module: Any) -> list[str]:
    """Every integer convolution of ``module`` (a model or its TorchScript file), checked
    from its stored weights: integer values, power-of-two scales, and no partial sum
    that can reach 2^24. Returns the problems; empty means exact."""
    import torch

    problems = []
    count = 0
    for name, m in module.named_modules():
        has_bounds = hasattr(m, "in_limit") and hasattr(m, "scale")
        if _type_name(m) in INTEGER_CONVOLUTIONS and not has_bounds:
            problems.append(f"{name}: an integer convolution without in_limit and scale")
        if not has_bounds:
            continue
        count += 1
        w, b = m.weight.double(), m.bias.double()
        half, scale = m.rounding.double(), m.scale.double()
        if not (torch.equal(w, w.round()) and torch.equal(b, b.round())):
            problems.append(f"{name}: weights or biases are not integers")
        mantissa, _ = torch.frexp(scale)
        if not torch.all(mantissa == 0.5):
            problems.append(f"{name}: scales are not powers of two")
        bound = w.abs().flatten(1).sum(1) * m.in_limit + b.abs() + half + 1
        if float(bound.max()) >= EXACT_LIMIT:
            problems.append(f"{name}: a partial sum can reach {float(bound.max()):.0f} >= 2^24")
    if count == 0:
        problems.append("no integer convolutions: not an exact model")
    return problems


def check_graph(module: Any, family: str) -> list[str]:
    """The whitelist check of a TorchScript model of ``family``: its submodule types,
    and every operation and dtype of its methods' inlined graphs. Returns the
    problems (each named once); empty means every part is on the lists."""
    if family not in MODULE_TYPES:
        return [f"no whitelist for model family {family!r}"]
    problems: list[str] = []
    root = _type_name(module)
    if root != ROOT_TYPES[family]:
        problems.append(f"the model is of type {root}, not {ROOT_TYPES[family]}")
    for name, m in module.named_modules():
        if name and _type_name(m) not in MODULE_TYPES[family]:
            problems.append(f"{name}: submodule type {_type_name(m)} is not allowed")
    for method in sorted(module._c._method_names()):  # the same messages every time
        encoder = method in ENCODER_ONLY[family]
        graph = module._c._get_method(method).inlined_graph
        for node in _nodes(graph):
            owner = _owner(node, root)
            for problem in _problems_of(node, owner, encoder):
                problems.append(f"{method}: {problem} (in {owner})")
    return list(dict.fromkeys(problems))  # each once, in order


def _type_name(m: Any) -> str:
    """A module's class name: ``original_name`` of a TorchScript module."""
    return str(getattr(m, "original_name", type(m).__name__))


def _nodes(block: Any) -> Iterator[Any]:
    """Every node of a graph or block, nested blocks (if, loop bodies) included."""
    for node in block.nodes():
        yield node
        if node.kind() in NESTING:  # asking every node for its blocks costs 10x the walk
            for inner in node.blocks():
                yield from _nodes(inner)


def _owner(node: Any, root: str) -> str:
    """The type of the module whose code ``node`` came from, in an inlined graph. A
    free function's code is its caller's (its scope reads UNKNOWN_TYPE)."""
    for part in reversed(node.getModuleHierarchy().split(".")):
        if part.endswith(")") and "(" in part:
            kind = part[part.rindex("(") + 1 : -1]
            if kind != "UNKNOWN_TYPE":
                return kind
    return root


def _allowed(owner: str, encoder: bool) -> frozenset[str]:
    if encoder:
        return ENCODER_OPS
    return CONVOLUTION_OPS if owner in INTEGER_CONVOLUTIONS else INTEGER_OPS


def _problems_of(node: Any, owner: str, encoder: bool) -> Iterator[str]:
    """What is not on the lists about one node: its kind, a dtype it converts to, a
    division that does not round to an integer."""
    kind = node.kind()
    if kind not in _allowed(owner, encoder):
        yield f"operation {kind} is not allowed"
        return
    if kind.startswith("prim::"):
        return  # no dtype arguments, no arithmetic
    arguments = _schema_arguments(node)
    if "dtype" in arguments:
        yield from _dtype_problems(kind, _input(node, arguments, "dtype"))
    if kind == "aten::div" and not encoder:
        value = None  # aten::div.Tensor, true division, has no rounding mode
        if "rounding_mode" in arguments:
            mode = _input(node, arguments, "rounding_mode")
            value = mode.toIValue() if mode.node().kind() == "prim::Constant" else "computed"
        if value not in INTEGER_ROUNDING:
            yield f"aten::div without an integer rounding mode (rounding_mode={value!r})"


_SCHEMAS: dict[str, list[str]] = {}


def _schema_arguments(node: Any) -> list[str]:
    """The argument names of an operator node (none for prim nodes), cached."""
    import torch

    try:
        text = node.schema()
    except RuntimeError:
        return []
    if text == "(no schema)":
        return []
    if text not in _SCHEMAS:
        _SCHEMAS[text] = [a.name for a in torch._C.parse_schema(text).arguments]
    return _SCHEMAS[text]


def _input(node: Any, arguments: list[str], name: str) -> Any:
    """The input value of ``node`` for its schema argument ``name``."""
    return list(node.inputs())[arguments.index(name)]


def _dtype_problems(kind: str, value: Any) -> Iterator[str]:
    for dtype in _dtypes(value, depth=0):
        if dtype is not None and dtype not in ALLOWED_DTYPES:
            yield f"{kind} to dtype {_dtype_name(dtype)} is not allowed"


def _dtypes(value: Any, depth: int) -> Iterator[Any]:
    """Every dtype a dtype input can hold: a constant, an existing tensor's (prim::dtype,
    which converts to nothing new), or either branch of an if (``ExactPolyphase._dtype``
    picks float64 on CUDA, float32 elsewhere). Anything else yields 'computed'."""
    node = value.node()
    kind = node.kind()
    if kind == "prim::Constant":
        yield value.toIValue()
    elif kind == "prim::dtype":
        return
    elif kind == "prim::If" and depth < 8:
        index = list(node.outputs()).index(value)
        for block in node.blocks():
            yield from _dtypes(list(block.outputs())[index], depth + 1)
    else:
        yield "computed"


def _dtype_name(dtype: object) -> str:
    if dtype == "computed":
        return "computed at run time"
    return SCALAR_TYPES.get(dtype, f"#{dtype}") if isinstance(dtype, int) else str(dtype)
