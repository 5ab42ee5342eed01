"""The plain format between the grader and the process that runs a submission's code.

Learner code runs in a separate interpreter (:mod:`course.runner`); what crosses between
the two is one JSON object per line, never a pickle, so decoding can build nothing but
plain data: numbers, strings, lists, tuples, sets, dicts, NumPy arrays, and the
expression objects of the course (:mod:`course.expr`, :mod:`adlab.symbolic`), each from
its own constructor. Anything else the learner returns arrives as an :class:`Opaque`
that shows its ``repr`` and converts to no number.

Tags (a dict whose only key starts with ``$``) mark what JSON lacks::

    {"$tuple": [...]}   {"$set": [...]}   {"$dict": [[key, value], ...]}
    {"$array": {"dtype": "<f8", "shape": [2, 3], "b64": "..."}}   (exact bytes, NaN too)
    {"$scalar": {"dtype": "<f8", "b64": "..."}}   {"$float": "nan"}
    {"$obj": 3, "cls": "Plus", "state": [...]}   {"$ref": 3}   (shared nodes stay shared)
    {"$box": "Var", "value": ...}      a finished adlab value, as its value
    {"$provided": "name", "params": [...], "slot": 0}   a function handed to learner code
    {"$opaque": "Widget", "repr": "Widget(...)"}

This module is imported by the runner, so it holds no answers and no checker.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

import numpy as np

MAX_LINE = 8_000_000   # bytes in one message; more is refused, never buffered
MAX_DEPTH = 60         # nesting of containers; deeper arrives as an Opaque
DTYPES = {"?", "|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8",
          "<f2", "<f4", "<f8"}


class WireError(ValueError):
    """A message that is not in the plain format (garbled or hostile)."""


class Opaque:
    """Something that is not plain data (a widget, a generator, ...), shown by its repr."""

    __slots__ = ("type", "text")

    def __init__(self, type_name: str, text: str):
        self.type, self.text = str(type_name)[:80], str(text)[:300]

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:  # never equal to a number or to each other
        return self is other

    __hash__ = object.__hash__


def safe_repr(obj: Any, limit: int = 80) -> str:
    """``repr(obj)`` short, without memory addresses, never raising."""
    try:
        text = repr(obj)
        if not isinstance(text, str):
            raise TypeError
    except BaseException:  # learner objects may raise anything from __repr__
        return f"a {type(obj).__name__} object"
    text = re.sub(r" at 0x[0-9A-Fa-f]+", "", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------
# Objects that cross by their parts: the course's expression trees
# ---------------------------------------------------------------------------------

def _classes() -> dict[str, tuple[type, Any, Any]]:
    """name -> (class, parts of an instance, instance from parts)."""
    import adlab.symbolic as sym
    from course import expr

    return {
        "Variable": (expr.Variable, lambda o: [o.name, o.value],
                     lambda p: expr.Variable(_str(p[0]), _num(p[1]))),
        "Plus": (expr.Plus, lambda o: [o.a, o.b], lambda p: expr.Plus(*_exprs(p, expr))),
        "Minus": (expr.Minus, lambda o: [o.a, o.b],
                  lambda p: expr.Minus(*_exprs(p, expr))),
        "Multiply": (expr.Multiply, lambda o: [o.a, o.b],
                     lambda p: expr.Multiply(*_exprs(p, expr))),
        "Sin": (expr.Sin, lambda o: [o.a], lambda p: expr.Sin(*_exprs(p, expr, 1))),
        "Symbol": (sym.Symbol, lambda o: [o.name], lambda p: sym.Symbol(_str(p[0]))),
        "Const": (sym.Const, lambda o: [o.value], lambda p: sym.Const(_num(p[0]))),
        "Op": (sym.Op, lambda o: [o.op, *o.args],
               lambda p: sym.Op(_str(p[0]), *(_sym(a, sym) for a in p[1:]))),
    }


_CLASSES: dict | None = None


def classes() -> dict:
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _classes()
    return _CLASSES


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise WireError("a name should be a string")
    return v


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise WireError("a value should be a number")
    return float(v)


def _exprs(parts: list, expr: Any, count: int = 2) -> list:
    if len(parts) != count or not all(isinstance(p, expr.Expression) for p in parts):
        needs = "one expression" if count == 1 else "two expressions"
        raise WireError(f"an operation of course.expr needs {needs}")
    return parts


def _sym(part: Any, sym: Any) -> Any:
    if isinstance(part, sym.Expr) or (isinstance(part, (int, float))
                                      and not isinstance(part, bool)):
        return part
    raise WireError("an operand of a symbolic expression must be an expression")


# ---------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------

class Encoder:
    """Python data -> plain data. ``provided`` collects the functions handed over."""

    def __init__(self, hand_over: bool = True) -> None:
        self.hand_over = hand_over  # False in the runner: functions never go back
        self.memo: dict[int, int] = {}
        self.keep: list = []      # keeps memoised objects alive while ids are in use
        self.provided: list = []
        self.path: set[int] = set()

    def __call__(self, obj: Any, depth: int = 0) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if abs(obj) < 2 ** 63 else {"$opaque": "int",
                                                   "repr": "a very large int"}
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, np.generic):
            if obj.dtype.str not in DTYPES:
                return self.opaque(obj)
            return {"$scalar": {"dtype": obj.dtype.str,
                                "b64": base64.b64encode(obj.tobytes()).decode()}}
        if depth > MAX_DEPTH or id(obj) in self.path:
            return {"$opaque": type(obj).__name__, "repr": "a structure nested too deeply"}
        for name, (cls, parts, _) in classes().items():
            if type(obj) is cls:
                return self.shared(obj, name, parts, depth)
        kind = _provided_kind(obj) if self.hand_over else None
        if kind is not None:
            self.provided.append(obj)
            return {"$provided": obj.builder, "params": self(list(obj.params), depth + 1),
                    "slot": len(self.provided) - 1, "copy": bool(obj.copy_input)}
        box = _box_value(obj)
        if box is not None:
            return {"$box": type(obj).__name__, "value": self(box, depth + 1)}
        tag = {tuple: "$tuple", list: None, set: "$set", frozenset: "$set", dict: "$dict"}
        if type(obj) in tag:
            self.path.add(id(obj))
            try:
                if isinstance(obj, dict):
                    body: Any = [[self(k, depth + 1), self(v, depth + 1)]
                                 for k, v in list(obj.items())]
                else:
                    body = [self(v, depth + 1) for v in list(obj)]
            finally:
                self.path.discard(id(obj))
            return body if tag[type(obj)] is None else {tag[type(obj)]: body}
        return self.opaque(obj)

    def array(self, a: np.ndarray) -> Any:
        if a.dtype.newbyteorder("<").str not in DTYPES and a.dtype.str not in DTYPES:
            if a.dtype.kind == "O" and a.size <= 10_000:  # a list of numbers in disguise
                return {"$objects": {"shape": list(a.shape),
                                     "items": self([*a.ravel().tolist()], 1)}}
            return self.opaque(a)
        little = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<") if
                                      a.dtype.byteorder == ">" else a.dtype)
        return {"$array": {"dtype": little.dtype.str, "shape": list(a.shape),
                           "b64": base64.b64encode(little.tobytes()).decode()}}

    def shared(self, obj: Any, name: str, parts: Any, depth: int) -> Any:
        if id(obj) in self.memo:
            return {"$ref": self.memo[id(obj)]}
        n = self.memo[id(obj)] = len(self.memo)
        self.keep.append(obj)
        return {"$obj": n, "cls": name, "state": [self(p, depth + 1) for p in parts(obj)]}

    @staticmethod
    def opaque(obj: Any) -> dict:
        return {"$opaque": type(obj).__name__, "repr": safe_repr(obj, 300)}


def _provided_kind(obj: Any) -> str | None:
    from course.provided import Provided

    return "provided" if isinstance(obj, Provided) else None


def _box_value(obj: Any) -> Any:
    """A finished adlab value's value (a hand-made Var, a returned Dual), else None."""
    from adlab.core import Box, raw

    if isinstance(obj, Box):
        try:
            return np.asarray(raw(obj.value))
        except Exception:
            return None
    return None


def dumps(message: dict, encoder: Encoder | None = None) -> str:
    """One message as one line of JSON (the values in it encoded)."""
    encoder = encoder or Encoder()
    return json.dumps({k: encoder(v) for k, v in message.items()}, allow_nan=False,
                      separators=(",", ":"))


# ---------------------------------------------------------------------------------
# Decoding: strict, for data that may have been written by hostile code
# ---------------------------------------------------------------------------------

class Decoder:
    """Plain data -> Python data. ``make_provided(builder, params, copy)`` rebuilds
    handed-over functions (only the runner accepts them)."""

    def __init__(self, make_provided: Any = None) -> None:
        self.objects: dict[int, Any] = {}
        self.make_provided = make_provided

    def __call__(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH + 5:
            raise WireError("nested too deeply")
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            return [self(v, depth + 1) for v in data]
        if not isinstance(data, dict) or len(data) not in (1, 2, 3, 4):
            raise WireError("not a tagged value")
        tag = next(iter(data))
        body = data[tag]
        if tag == "$tuple":
            return tuple(self(v, depth + 1) for v in _list(body))
        if tag == "$set":
            items = [self(v, depth + 1) for v in _list(body)]
            try:
                return set(items)
            except TypeError:
                raise WireError("a set of unhashable items") from None
        if tag == "$dict":
            out = {}
            for pair in _list(body):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("a dict item is not a pair")
                key = self(pair[0], depth + 1)
                try:
                    out[key] = self(pair[1], depth + 1)
                except TypeError:
                    raise WireError("an unhashable dict key") from None
            return out
        if tag == "$float":
            if body not in ("nan", "inf", "-inf"):
                raise WireError("a float tag that is not nan or inf")
            return float(body)
        if tag in ("$array", "$scalar"):
            return _array(body, scalar=tag == "$scalar")
        if tag == "$objects":
            items = self(body.get("items"), depth + 1) if isinstance(body, dict) else None
            shape = body.get("shape") if isinstance(body, dict) else None
            if not isinstance(items, list) or not _shape(shape, len(items)):
                raise WireError("a malformed object array")
            a = np.empty(len(items), dtype=object)
            a[:] = items
            return a.reshape(shape)
        if tag == "$obj":
            return self.shared(data, depth)
        if tag == "$ref":
            if body not in self.objects:
                raise WireError("a reference to an unknown object")
            return self.objects[body]
        if tag == "$box":
            return Boxed(str(body)[:40], self(data.get("value"), depth + 1))
        if tag == "$opaque":
            return Opaque(str(body), str(data.get("repr", "")))
        if tag == "$provided":
            if self.make_provided is None:
                raise WireError("functions are handed to learner code, never back")
            params = self(data.get("params"), depth + 1)
            return self.make_provided(_str(body), params, data.get("copy") is True)
        raise WireError(f"an unknown tag {str(tag)[:20]!r}")

    def shared(self, data: dict, depth: int) -> Any:
        n, name, state = data.get("$obj"), data.get("cls"), data.get("state")
        if not isinstance(n, int) or n in self.objects or name not in classes():
            raise WireError("a malformed object")
        parts = [self(p, depth + 1) for p in _list(state)]
        try:
            obj = classes()[name][2](parts)
        except WireError:
            raise
        except Exception as e:
            raise WireError(f"a {name} that cannot be built ({type(e).__name__})") from None
        self.objects[n] = obj
        return obj


class Boxed:
    """A finished adlab value (Var, Dual) as it came back: converts to its value."""

    __slots__ = ("type", "value")

    def __init__(self, type_name: str, value: Any):
        self.type, self.value = type_name, value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def __float__(self) -> float:
        return float(np.asarray(self.value))

    def __repr__(self) -> str:
        return f"{self.type}({safe_repr(self.value)})"


def _list(body: Any) -> list:
    if not isinstance(body, list):
        raise WireError("expected a list")
    return body


def _shape(shape: Any, size: int) -> bool:
    return (isinstance(shape, list) and len(shape) <= 32
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape)
            and int(np.prod(shape, dtype=np.int64)) == size)


def _array(body: Any, scalar: bool) -> Any:
    if not isinstance(body, dict) or body.get("dtype") not in DTYPES:
        raise WireError("an array of an unknown dtype")
    try:
        raw_bytes = base64.b64decode(str(body.get("b64", "")), validate=True)
    except ValueError:
        raise WireError("an array whose bytes are garbled") from None
    dtype = np.dtype(body["dtype"])
    if len(raw_bytes) % dtype.itemsize:
        raise WireError("an array whose bytes do not fit its dtype")
    flat = np.frombuffer(raw_bytes, dtype=dtype).astype(dtype.newbyteorder("="))
    if scalar:
        if flat.size != 1:
            raise WireError("a scalar with several values")
        return flat[0]
    shape = body.get("shape")
    if not _shape(shape, flat.size):
        raise WireError("an array whose shape does not match its data")
    return flat.reshape(shape)


def parse(line: str | bytes) -> dict:
    """One message as JSON, its values still encoded; WireError if it is not one."""
    if len(line) > MAX_LINE:
        raise WireError("a message larger than 8 MB")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise WireError("not JSON") from None
    if not isinstance(message, dict):
        raise WireError("not a JSON object")
    return message


def loads(line: str | bytes, decoder: Decoder | None = None) -> dict:
    """One message: a dict whose values are decoded; WireError if it is not one."""
    message = parse(line)
    decoder = decoder or Decoder()
    try:
        return {str(k): decoder(v) for k, v in message.items()}
    except RecursionError:
        raise WireError("nested too deeply") from None
