r"""Transformations above both modes: gradients, Jacobians and Hessians.

Forward mode (:func:`adlab.jvp`) and reverse mode (:func:`adlab.vjp`) are the two
primitive transformations. Everything here is built from them:

* :func:`grad` and :func:`value_and_grad`: one recorded run and one reverse sweep with
  seed :math:`\bar y = 1`, for a scalar function (the sweep frees each node of the
  recording once it is done with it, so memory falls as the sweep goes);
* :func:`jacfwd`: the Jacobian column by column, one JVP per input entry;
* :func:`jacrev`: the Jacobian row by row, one VJP per output entry;
* :func:`hessian`: forward over reverse, ``jacfwd(jacrev(f))``.

``argnums`` picks the arguments to differentiate by, as in JAX; the others are held
fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from adlab import ops
from adlab.core import AdlabError, gc_paused, method, raw
from adlab.forward import jvp
from adlab.reverse import vjp, vjp_once
from adlab.tree import as_float, float_dtype

__all__ = ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"]


def _argnums(argnums, nargs: int, fname: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise AdlabError(
                f"argnums={argnums!r} asks for argument {n} of {fname}, which was called "
                f"with {nargs} argument(s)."
            )
    return tuple([n % nargs for n in nums])


def _fix_others(f: Callable, args: tuple, nums: tuple) -> Callable:
    """``f`` as a function of only the arguments in ``nums`` (the others held fixed)."""
    def g(*chosen):
        full = list(args)
        for n, a in zip(nums, chosen):
            full[n] = a
        return f(*full)
    return g


@method("ad.value_and_grad")
def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    r"""``f``'s value and its gradient with respect to the arguments ``argnums``.

    One forward run records the tape; one reverse sweep with seed 1.0 gives the whole
    gradient. ``f`` must return a scalar. Arguments may be numbers, arrays, or lists/
    tuples/dicts of them (the gradient has the same structure).
    """
    fname = getattr(f, "__name__", "f")

    @method("ad.value_and_grad")
    def wrapped(*args):
        nums = _argnums(argnums, len(args), fname)
        with gc_paused():  # recording, sweep and freeing the tape in one pause (see below)
            out, grads = _value_and_pullback(f, args, nums)
        return out, grads[0] if isinstance(argnums, int) else grads

    def _value_and_pullback(f, args, nums):
        # a pullback used once: the sweep frees each node after its last use
        out, pullback = vjp_once(_fix_others(f, args, nums), *[args[n] for n in nums])
        value = raw(out)
        shape = () if type(value) is float else getattr(value, "shape", None)
        if shape != () and np.shape(value) != ():
            shape = np.shape(value)
            raise AdlabError(
                f"grad needs {fname} to return a scalar, but it returned an array of shape "
                f"{shape}. A gradient is defined for scalar outputs; for this output use "
                f"ad.vjp({fname}, ...) with a cotangent (seed) of shape {shape}, or "
                f"ad.jacrev({fname}) for the whole Jacobian."
            )
        grads = pullback(1.0)
        # Free the tape before the collector resumes: a collector paused while a tape was
        # recorded would otherwise walk the whole tape once it resumes (its youngest
        # generation holds every object made during the pause).
        del pullback
        return out, grads

    wrapped.__name__ = f"value_and_grad({fname})"
    wrapped.__doc__ = f"Value and gradient of {fname} (see adlab.value_and_grad)."
    return wrapped


@method("ad.grad")
def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    r"""The gradient of a scalar function, by reverse mode: ``grad :: (a -> R) -> a -> a``.

    >>> grad(lambda x: x * x)(3.0)   # doctest: +SKIP
    6.0

    Nested calls give higher derivatives (``grad(grad(f))``), with the perturbations
    of different levels kept apart. For an output that is not a scalar, use
    :func:`vjp` or :func:`jacrev`.
    """
    vg = value_and_grad(f, argnums)
    fname = getattr(f, "__name__", "f")

    @method("ad.grad")
    def wrapped(*args):
        return vg(*args)[1]

    wrapped.__name__ = f"grad({fname})"
    wrapped.__doc__ = f"Gradient of {fname} (see adlab.grad)."
    return wrapped


def _jacobian(f: Callable, argnums, by: str) -> Callable:
    fname = getattr(f, "__name__", "f")

    @method("ad.jacrev" if by == "rows" else "ad.jacfwd")
    def jac(*args):
        nums = _argnums(argnums, len(args), fname)
        xs = [as_float(args[n], f"argument {n}") for n in nums]
        g = _fix_others(f, args, nums)
        in_shapes = [np.shape(raw(x)) for x in xs]
        if by == "rows":  # reverse mode: one sweep per output entry
            out, pullback = vjp(g, *xs)
            out_shape = np.shape(raw(out))
            m = int(np.prod(out_shape))
            dtype = float_dtype(raw(out))  # one-hot seeds in the output's precision
            rows = [pullback(np.eye(1, m, i, dtype=dtype).reshape(out_shape))
                    for i in range(m)]
            jacs = [_assemble([r[k] for r in rows], out_shape + in_shapes[k], ops,
                              dtype=np.result_type(dtype, float_dtype(raw(xs[k]))))
                    for k in range(len(xs))]
        else:  # forward mode: one sweep per input entry
            jacs = []
            for k, shape in enumerate(in_shapes):
                n = int(np.prod(shape))
                cols = []
                for j in range(n):
                    # one-hot seeds in each input's precision
                    seeds = [np.zeros(s, float_dtype(raw(x))) for s, x in zip(in_shapes, xs)]
                    seeds[k] = np.eye(1, n, j, dtype=float_dtype(raw(xs[k]))).reshape(shape)
                    out, col = jvp(g, xs, seeds)
                    cols.append(col)
                if not cols:
                    out = g(*xs)
                out_shape = np.shape(raw(out))
                jacs.append(_assemble(cols, out_shape + shape, ops, axis=-1,
                                      dtype=np.result_type(float_dtype(raw(out)),
                                                           float_dtype(raw(xs[k])))))
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    jac.__name__ = f"jac{'rev' if by == 'rows' else 'fwd'}({fname})"
    return jac


def _assemble(parts: list, shape: tuple, ops, axis: int = 0, dtype=np.float64):
    if not parts:
        return np.zeros(shape, dtype)
    return ops.reshape(ops.stack(parts, axis=axis), shape)


@method("ad.jacrev")
def jacrev(f: Callable, argnums: int | tuple = 0) -> Callable:
    r"""The Jacobian by reverse mode: one VJP per output entry, i.e. row by row.

    For :math:`f:\mathbb{R}^n\to\mathbb{R}^m`, row :math:`i` is the VJP with the
    one-hot seed :math:`e_i`: one recorded forward run, then :math:`m` reverse sweeps.
    The result has shape ``f(x).shape + x.shape``.
    """
    return _jacobian(f, argnums, by="rows")


@method("ad.hessian")
def hessian(f: Callable, argnums: int | tuple = 0) -> Callable:
    r"""The Hessian :math:`\nabla^2 f`, forward-over-reverse: ``jacfwd(jacrev(f))``.

    Reverse mode gives the gradient in one sweep; forward mode then differentiates
    that whole computation once per input direction.
    """
    h = jacfwd(jacrev(f, argnums), argnums)

    @method("ad.hessian")
    def hess(*args):
        return h(*args)

    hess.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return hess


@method("ad.jacfwd")
def jacfwd(f: Callable, argnums: int | tuple = 0) -> Callable:
    r"""The Jacobian by forward mode: one JVP per input entry, i.e. column by column.

    For :math:`f:\mathbb{R}^n\to\mathbb{R}^m`, column :math:`j` is the JVP with the
    one-hot seed :math:`e_j`, so this makes :math:`n` forward sweeps. The result has
    shape ``f(x).shape + x.shape``.
    """
    return _jacobian(f, argnums, by="columns")
