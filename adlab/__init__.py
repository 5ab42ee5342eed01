"""adlab: automatic differentiation you can watch.

A compact AD engine on NumPy for learning: forward mode (dual numbers, JVPs), reverse
mode (tapes, VJPs, ``backward()``), Jacobians, Hessians and evaluation traces, all
computed from one registry of primitives (:mod:`adlab.ops`) whose evaluation, JVP rule
and VJP rule sit side by side.

>>> import adlab as ad
>>> x1, x2 = ad.Var(2.0), ad.Var(3.0)
>>> z = x1 * x2 + ad.sin(x1)
>>> z.backward()
>>> round(x1.grad, 6), x2.grad
(2.583853, 2.0)

The modules follow the course: :mod:`adlab.core` (primitives and levels),
:mod:`adlab.ops` (the registry), :mod:`adlab.trace` (evaluation traces),
:mod:`adlab.forward` (forward mode), :mod:`adlab.reverse` (reverse mode),
:mod:`adlab.numeric` (finite differences, the complex step, step-size errors) and
:mod:`adlab.check` (gradient checks), :mod:`adlab.symbolic` (symbolic differentiation and
expression swell), :mod:`adlab.static` (static graphs: replay, gradient graphs, code) and
:mod:`adlab.guards` (control flow in a static graph),
:mod:`adlab.memory` (what reverse mode stores, checkpointing), :mod:`adlab.nn`,
:mod:`adlab.optim`, :mod:`adlab.training` and :mod:`adlab.datasets` (networks, optimizers,
the training loop, the digits), :mod:`adlab.backprop` (an MLP's backward pass by hand).
"""

from adlab import backprop, datasets, dispatch, nn, numeric, optim, symbolic  # noqa: F401
from adlab.check import GradientCheckError, check_grads
from adlab.core import AdlabError, Box, ShapeError
from adlab.forward import Dual, jvp
from adlab.guards import GuardError
from adlab.memory import SavedMemory, checkpoint, saved_memory
from adlab.ops import (
    REGISTRY,
    Primitive,
    absolute,
    add,
    broadcast_to,
    concatenate,
    cos,
    div,
    dot,
    exp,
    expand_dims,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    minimum,
    mul,
    neg,
    ones_like,
    pow,
    relu,
    reshape,
    rule_table,
    sigmoid,
    sin,
    softmax,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    swapaxes,
    tan,
    tanh,
    transpose,
    where,
    zeros_like,
)
from adlab.reverse import Var, vjp
from adlab.trace import Adjoints, Contribution, Guard, Node, Tangents, Trace, trace
from adlab.transforms import grad, hessian, jacfwd, jacrev, value_and_grad

abs = absolute  # noqa: A001 - ad.abs, like np.abs

__version__ = "0.1.0"

__all__ = [
    "Var", "Dual", "grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian",
    "trace", "Trace", "Node", "Tangents", "Adjoints", "Contribution", "check_grads",
    "GradientCheckError", "checkpoint", "saved_memory", "SavedMemory", "AdlabError",
    "ShapeError", "Primitive", "Box", "REGISTRY", "nn", "optim", "datasets", "backprop",
    "numeric", "symbolic", "Guard", "GuardError",
    "rule_table", "add", "sub", "mul", "div", "pow", "neg", "sin", "cos", "tan", "exp",
    "log", "sqrt", "abs", "absolute", "tanh", "sigmoid", "relu", "maximum", "minimum",
    "where", "matmul", "dot", "sum", "mean", "max", "logsumexp", "softmax", "log_softmax",
    "reshape", "transpose", "broadcast_to", "concatenate", "stack", "expand_dims",
    "squeeze", "swapaxes", "zeros_like", "ones_like",
]
