r"""How adlab writes numbers for people: one set of rules for every view.

Reprs of values, trace listings, evaluation-trace tables, graph drawings, widgets,
guard and error messages, symbolic and numeric printing, memory reports and training
monitors all write their numbers with these functions, so one value reads the same
everywhere (the adjoint of :math:`x_1` in the worked example is ``2.58385`` in a
``Var`` repr, a table cell, a graph label and a message).

The rules, decided once:

* **6 significant digits** by default (``digits``), Python's ``g`` style without
  trailing zeros: ``6.909297426825682`` is ``6.9093``, ``2.5838531634528574`` is
  ``2.58385``.
* **Whole floats without a point:** ``2.0`` is ``2``. Where the type matters the
  shape and dtype say it (``f64[3]``).
* **Negative zero is** ``0``: a sign on nothing is noise to a reader.
* ``nan``, ``inf`` and ``-inf`` as Python writes them.
* **Narrow floats show no noise:** a float32 (float16) is written with at most the
  6 (3) digits it holds, so ``np.float32(0.1)`` is ``0.1``, never ``0.10000000149011612``.
* **Very large and very small magnitudes in scientific notation**, as ``g`` does
  (exponent below -4 or at least ``digits``): ``1e-05``, ``1.23457e+08``.
* Integers (Python or NumPy) exactly: ``1234567``; booleans ``True`` / ``False``.
* **Arrays:** NumPy's layout (brackets, one row per line, ``...``) with each entry
  written by :func:`number`. An array of more than ``threshold`` (12) entries starts
  with its dtype and shape (``f64[100, 100]``) and NumPy shows ``edgeitems`` (3)
  entries at each end of each long axis.
* **Narrow places** (graph nodes, table cells, trace listings, messages) use
  :func:`compact`: a number, or an array's dtype and shape followed, if it has at most
  ``small`` (6) entries, by its entries on one line: ``f64[2] [1, 2.5]``.

Generated code (:meth:`adlab.Trace.to_code`) is not for people: it writes floats
with ``repr`` so that they read back exactly.

>>> number(6.909297426825682), number(2.0), number(-0.0), number(np.float32(0.1))
('6.9093', '2', '0', '0.1')
>>> compact(np.array([1.0, 2.5])), compact(np.zeros((4, 3)))
('f64[2] [1, 2.5]', 'f64[4, 3]')
>>> print(array(np.eye(2)))
[[1, 0],
 [0, 1]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["number", "array", "compact", "shape", "percent", "count"]

DIGITS = 6  # significant digits, everywhere
THRESHOLD = 12  # arrays with more entries are summarized (shape, dtype, "...")
SMALL = 6  # compact() lists the entries of arrays with at most this many


def _raw(x: Any) -> Any:
    """The plain value inside adlab's boxes (``Var``, ``Dual``, ...), as
    :func:`adlab.core.raw`; recognized by their base class, so that this module imports
    nothing from adlab and every module, :mod:`adlab.core` too, can use it."""
    while any(c.__name__ == "Box" and c.__module__ == "adlab.core" for c in type(x).__mro__):
        x = x.value
    return x


def number(x: Any, digits: int = DIGITS) -> str:
    """One number with ``digits`` significant digits, by the rules above.

    ``x`` may be a Python or NumPy scalar, a 0-d array or an adlab value holding one.
    Anything that is not a number is written with ``repr``.

    >>> number(2.5838531634528574), number(1e-5), number(3), number(float("nan"))
    ('2.58385', '1e-05', '3', 'nan')
    """
    x = _raw(x)
    if isinstance(x, np.ndarray):
        if x.ndim:
            raise TypeError(f"number() writes one number, not an array of shape {x.shape}; "
                            "use adlab.fmt.array() or adlab.fmt.compact()")
        x = x[()] if x.dtype.kind in "biufc" else x.item()
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, np.inexact):  # float32 and float16 hold fewer digits than asked
        digits = min(digits, np.finfo(x.dtype).precision)
    if isinstance(x, (float, np.floating)):
        text = format(float(x), f".{digits}g")
        return "0" if text == "-0" else text
    if isinstance(x, (complex, np.complexfloating)):
        return format(complex(x), f".{digits}g")
    return repr(x)


def array(x: Any, digits: int = DIGITS, *, threshold: int = THRESHOLD,
          edgeitems: int = 3, linewidth: int = 100) -> str:
    """An array in NumPy's layout, each entry written by :func:`number`.

    More than ``threshold`` entries: the text starts with the dtype and shape, and
    NumPy elides the middle of each axis longer than ``2 * edgeitems``. A scalar is
    written by :func:`number`.

    >>> array(np.array([1.0, 2.5, -0.0]))
    '[1, 2.5, 0]'
    >>> array(np.arange(20.0))
    'f64[20] [0, 1, 2, ..., 17, 18, 19]'
    """
    x = _raw(x)
    if np.ndim(x) == 0:
        return number(x, digits)
    a = np.asarray(x)
    text = np.array2string(a, separator=", ", threshold=threshold, edgeitems=edgeitems,
                           max_line_width=linewidth,
                           formatter={"all": lambda e: number(e, digits)})
    return f"{shape(a)} {text}" if a.size > threshold else text


def compact(x: Any, digits: int = DIGITS, *, small: int = SMALL) -> str:
    """One line for narrow places: a number, or an array's dtype and shape, followed by
    its entries if it has at most ``small`` of them.

    >>> compact(2.0), compact(np.array([[1.0, 2.0], [3.0, 4.0]])), compact(np.ones(7))
    ('2', 'f64[2, 2] [[1, 2], [3, 4]]', 'f64[7]')
    """
    x = _raw(x)
    if np.ndim(x) == 0:
        return number(x, digits)
    a = np.asarray(x)
    if a.size > small:
        return shape(a)
    return shape(a) + " " + " ".join(array(a, digits, threshold=small).split())


def shape(x: Any) -> str:
    """An array's dtype and shape, ``f64[4, 3]`` (``f32``, ``i64``, ``bool``, ``c128``);
    ``scalar`` for a number."""
    a = np.asarray(_raw(x))
    if a.ndim == 0:
        return "scalar"
    kind = {"f": "f", "i": "i", "u": "u", "c": "c"}.get(a.dtype.kind)
    dtype = "bool" if a.dtype.kind == "b" else f"{kind}{a.dtype.itemsize * 8}" if kind \
        else str(a.dtype)
    return f"{dtype}[{', '.join(str(n) for n in a.shape)}]"


def percent(x: Any, decimals: int = 2) -> str:
    """A fraction as a percentage with ``decimals`` decimals: ``0.953125`` is ``95.31%``."""
    return f"{float(_raw(x)):.{decimals}%}"


def count(n: Any) -> str:
    """A whole number of things (bytes, parameters) with thousands separators: ``12,288``."""
    return f"{int(n):,}"
