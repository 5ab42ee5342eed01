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

The modules follow the course, each importing only those before it:
:mod:`adlab.core` (boxes and levels), :mod:`adlab.ops` (the registry: every primitive with
its rules), :mod:`adlab.dispatch` (Python operators and NumPy on adlab values),
:mod:`adlab.forward` (forward mode), :mod:`adlab.reverse` (reverse mode),
:mod:`adlab.transforms` (grad, Jacobians, Hessians, above both modes), :mod:`adlab.trace`
(evaluation traces), :mod:`adlab.numeric` (finite differences, the complex step,
step-size errors) and :mod:`adlab.check` (gradient checks), :mod:`adlab.symbolic`
(symbolic differentiation and expression swell), :mod:`adlab.static` (static graphs:
replay, gradient graphs, code) and :mod:`adlab.guards` (control flow in a static graph),
:mod:`adlab.memory` (what reverse mode stores, checkpointing), :mod:`adlab.counting` and
:mod:`adlab.measure` (operations counted, times and plots of what a derivative costs),
:mod:`adlab.losses`, :mod:`adlab.nn`, :mod:`adlab.optim`, :mod:`adlab.training` and
:mod:`adlab.datasets` (losses, networks, optimizers, the training loop, the digits),
:mod:`adlab.backprop` (an MLP's backward pass by hand). :mod:`adlab.fmt` writes every number
adlab shows.
"""

from adlab import (  # noqa: F401
    backprop,
    datasets,
    dispatch,
    measure,
    nn,
    numeric,
    ops,
    optim,
    symbolic,
)
from adlab.check import GradientCheckError, check_grads
from adlab.core import AdlabError, Box, ConversionError, ShapeError
from adlab.counting import WorkCount, count_work
from adlab.forward import Dual, jvp
from adlab.guards import GuardError
from adlab.memory import SavedMemory, checkpoint, saved_memory
from adlab.ops import *  # noqa: F403 - the operations: ad.sin, ad.sum, ad.einsum, ...
from adlab.reverse import Var, vjp
from adlab.trace import Adjoints, Contribution, Guard, Node, Tangents, Trace, trace
from adlab.transforms import grad, hessian, jacfwd, jacrev, value_and_grad

__version__ = "0.1.0"

__all__ = ops.__all__ + [
    "Var", "Dual", "grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian",
    "trace", "Trace", "Node", "Tangents", "Adjoints", "Contribution", "check_grads",
    "GradientCheckError", "checkpoint", "saved_memory", "SavedMemory", "AdlabError",
    "ConversionError",
    "ShapeError", "Box", "nn", "optim", "datasets", "backprop",
    "numeric", "symbolic", "Guard", "GuardError", "count_work", "WorkCount", "measure",
]
