r"""Honest conversions: a value being differentiated never silently becomes a plain number.

While a transformation (``grad``, ``jvp``, ``jacrev``, ``hessian``, ``trace`` ...) runs a
function, the values it differentiates are boxes of its level. Python and NumPy can turn
a box into a plain number or array behind the program's back: ``math.sin(x)`` and
``float(x)`` call ``float()``, ``np.array(v, dtype=float)``, ``np.float64(x)`` and
``np.mean([x, y])`` ask for a plain array. A plain number carries no derivative: the
program would run on with a constant, and the derivative would silently be wrong (zero,
most often). So, for a value of a running transformation, these conversions raise a
:class:`ConversionError` that says where it happened and what to write instead.

Finished values convert normally, like PyTorch's ``.item()``: hand-made ``Var`` and
``Dual`` values, and values of a transformation that has returned. ``.value`` always
reads the number on purpose.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
from types import FrameType

import numpy as np

from adlab import core
from adlab.core import Box, ConversionError

__all__ = ["ConversionError", "conversion_message", "object_array_error", "check_outputs"]


_ADLAB_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))

# math functions under another name in adlab (and NumPy); the others keep theirs
_RENAMED = {"fabs": "abs", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
            "atan2": "arctan2", "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh"}
_MATH = {"sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "fabs", "pow",
         "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh", "log10", "log2",
         "log1p", "expm1", "hypot", "floor", "ceil", "trunc", "erf", "gamma", "lgamma"}
_TESTS = {"isfinite", "isnan", "isinf"}
_NUMBERS = {"float", "int", "complex", "round", "float64", "float32", "float16", "int64",
            "int32", "int8", "int16", "complex128", "complex64", "double", "single",
            "item", "tolist"}
_ARRAYS = {"array", "asarray", "asanyarray", "ascontiguousarray"}
_MODES = {"Var": "reverse mode (ad.grad, ad.value_and_grad, ad.vjp, ad.jacrev, ad.trace)",
          "Dual": "forward mode (ad.jvp, ad.jacfwd, ad.hessian)"}
_COMMON = ("ad.sin instead of math.sin, ad.exp instead of math.exp, ad.log instead of "
           "math.log, ad.sqrt instead of math.sqrt, ad.tanh instead of math.tanh")


def conversion_message(box: Box, inner: Box, what: str) -> str:
    """Why converting ``box`` (``what``: float, int, complex or array) is refused, and
    what to do; ``inner`` (``box`` itself, or a box inside it) belongs to a running level."""
    frame, inside = _user_frame()
    call = _call_text(frame) if frame is not None else None
    callee = _callee(call)
    args = _arguments(call) or "x"
    converted = {"float": "float()", "int": "int()", "complex": "complex()",
                 "array": "a conversion to a plain NumPy array"}[what]
    by = f"`{call}`" if call else converted
    if call and callee not in ("float", "int", "complex"):
        by += f" (through {converted})"
    where = ""
    if frame is not None:
        code = frame.f_code
        where = (f" at {os.path.basename(code.co_filename)}, line {frame.f_lineno}, "
                 f"in {code.co_name}")
    if inside:
        where += f" (the conversion happened inside {inside})"
    mode = _MODES.get(type(inner).__name__, "a running transformation")
    plain = "array" if what == "array" else "number"
    head = (f"{by} turned a {type(inner).__name__} that {mode} is differentiating into a "
            f"plain {plain}{where}. A plain {plain} carries no derivative: the program "
            "would go on with a constant and the derivative would silently be wrong "
            "(zero, most often), so adlab stops here.")
    todo = "What to do: " + _fix(callee, call, args, what)
    read = ("To read the number on purpose (to print or log it, or as a constant that "
            f"the derivative ignores), use .value: e.g. float({args}.value), "
            f"f\"{{{args}.value:.3f}}\".")
    return "\n".join([head, todo, read])


core.conversion_message = conversion_message


def check_outputs(leaves: list, where: str) -> None:
    """Refuse an output that is a NumPy object array holding adlab values.

    NumPy makes such arrays from lists of values; taken as a constant, one would give a
    silently zero derivative.
    """
    for i, x in enumerate(leaves):
        if isinstance(x, np.ndarray) and x.dtype == object and any(
                isinstance(e, Box) for e in x.flat):
            raise object_array_error(x, where, i, len(leaves))


def object_array_error(arr: np.ndarray, where: str, i: int, n: int) -> ConversionError:
    """The error for an output that is an object array holding adlab values."""
    which = "output" if n == 1 else f"output {i} (of {n})"
    return ConversionError(
        f"{where}: the function's {which} is a NumPy object array of shape {arr.shape} "
        "holding adlab values. NumPy makes such arrays from lists of values; adlab cannot "
        "differentiate one (taken as a constant, its derivative would silently be zero).\n"
        "What to do: build the output with ad.stack([...]) (values into one array) or "
        "ad.concatenate([...]) instead of np.array([...]), np.r_[...] or np.c_[...], or "
        "return a tuple or list of the values.")


def _fix(callee: str | None, call: str | None, args: str, what: str) -> str:
    module, _, base = (callee or "").rpartition(".")
    if module in ("math", "cmath") or (not module and base in _MATH):
        name = _RENAMED.get(base, base)
        adlab = sys.modules.get("adlab")
        if base == "pow" or (adlab is not None and callable(getattr(adlab, name, None))):
            instead = "x ** y" if base == "pow" else f"ad.{name}({args})"
            return (f"write {instead} instead of {callee}(...): adlab's operations (and "
                    "NumPy's on adlab values) carry the derivative, the math module's do "
                    f"not. In general, inside a transformation use {_COMMON}.")
        if base in _TESTS:
            return f"use np.{base}({args}), which reads adlab values."
        return (f"adlab has no derivative rule for {callee}: write it with adlab's "
                "operations (ad.sin, ad.exp, ad.log, ad.sqrt, ad.tanh, arithmetic ...) or "
                "register a Primitive with its JVP and VJP rules (see adlab.ops).")
    if base in _NUMBERS:
        return (f"keep {args} as it is: adlab values work in arithmetic, comparisons and "
                f"NumPy functions, so {callee}() is not needed (and would drop the "
                "derivative).")
    if what == "array":
        listed = re.fullmatch(r"([\w.]+)\(\[(.*)\](.*)\)", call or "", re.S)
        example = ""
        if listed:
            stacked = f"ad.stack([{listed[2]}])"
            example = (f" Here: {stacked}." if listed[1].rpartition(".")[2] in _ARRAYS
                       else f" Here: {listed[1]}({stacked}{listed[3]}).")
        return ("to combine several values into one array, use ad.stack([...]) (or "
                "ad.concatenate([...])) instead of a list: ad.stack([x0, x1]) instead of "
                "np.array([x0, x1]), np.mean(ad.stack([x, y])) instead of np.mean([x, y])."
                f"{example} On one value, call NumPy functions on the adlab value itself "
                "(np.sin(v), np.sum(v)), not on np.array(v, dtype=float) or np.asarray(v).")
    return ("use adlab's operations instead of functions that need plain numbers "
            f"({_COMMON}); keep the adlab value as it is instead of float(x) or int(x).")


def _user_frame() -> tuple[FrameType | None, str]:
    """The innermost frame outside adlab and NumPy, and where inside them (if anywhere)
    the conversion was made."""
    frame = sys._getframe(1)
    inside = ""
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if path.startswith(_NUMPY_DIR + os.sep):
            inside = inside or f"NumPy's {frame.f_code.co_name}"
        elif path.startswith(_ADLAB_DIR + os.sep):
            name = os.path.splitext(os.path.basename(path))[0]
            if name not in ("core", "conversions"):
                inside = inside or f"adlab.{name}.{frame.f_code.co_name}"
        else:
            return frame, inside
        frame = frame.f_back
    return None, inside


def _call_text(frame: FrameType) -> str | None:
    """The source of the expression the frame is evaluating (e.g. ``math.sin(x)``)."""
    try:
        code = frame.f_code
        start, end, col, end_col = list(code.co_positions())[frame.f_lasti // 2]
        if None in (start, end, col, end_col):
            return None
        lines = [linecache.getline(code.co_filename, n, frame.f_globals).encode()
                 for n in range(start, end + 1)]
    except (AttributeError, IndexError, ValueError):  # pragma: no cover - no positions
        return None
    if not all(lines):
        return None
    lines[-1] = lines[-1][:end_col]  # offsets count UTF-8 bytes
    lines[0] = lines[0][col:]
    text = " ".join(b"".join(lines).decode(errors="replace").split())
    return text or None


def _callee(call: str | None) -> str | None:
    m = re.match(r"([A-Za-z_][\w.]*)", call or "")
    return m[1] if m else None


def _arguments(call: str | None) -> str | None:
    """The call's first argument if it is a plain name (``x`` for ``math.sin(x)``,
    ``v`` for ``np.array(v, dtype=float)``, ``x[0]`` for ``float(x[0])``)."""
    m = re.fullmatch(r"[\w.]+\(\s*([A-Za-z_][\w.]*(?:\[[^\[\]]*\])?)\s*(?:,.*)?\)", call or "",
                     re.S)
    return m[1] if m else None
