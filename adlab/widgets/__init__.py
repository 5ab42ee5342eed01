r"""Widgets for JupyterLab (ipywidgets 8): seeds, reverse sweeps, costs and training.

Each widget keeps its state in plain Python attributes, so a learner (or a test) can
drive it from code as well as with the mouse, and it redraws when they change:

* :class:`SeedExplorer` — choose the forward-mode seed; see every node's tangent and
  the output's derivative (a partial derivative for a one-hot seed, a directional
  derivative otherwise).
* :class:`ReverseSeedExplorer` — choose reverse mode's seed, the outputs' adjoint
  :math:`\bar y`; see every node's adjoint and the row :math:`\bar y^\top J` it gives
  (a row of the Jacobian for a one-hot seed).
* :class:`ReverseStepper` — step through the forward sweep, then the reverse sweep,
  one node at a time, watching the adjoints accumulate contributions.
* :class:`CostExplorer` — measure what a full Jacobian of :math:`f:\mathbb{R}^n\to
  \mathbb{R}^m` costs in forward mode (:math:`n` JVPs) and reverse mode (one recording
  and :math:`m` VJPs).
* :class:`CheckpointExplorer` — checkpoint part of a deep chain, at its input or
  output end, and compare the measured memory of a gradient with the model.
* :class:`TrainingMonitor` — a live loss (and accuracy) plot with a progress bar.

All numbers come from the engine (``ad.trace``, ``Trace.forward``, ``Trace.reverse``,
``ad.jacfwd``, ``ad.jacrev``); the widgets only show them. ``display(w)`` shows a
widget; ``w.widget`` is its ipywidgets container. Browser tests can rely on the CSS
classes listed in each class's docstring (all start with ``adlab-``).
"""

from adlab.widgets._common import WidgetInputError, widgets_with_class
from adlab.widgets.cost import CostExplorer, WorkCount, count_work, make_function
from adlab.widgets.memory import CheckpointExplorer
from adlab.widgets.reverse_seeds import ReverseSeedExplorer
from adlab.widgets.seeds import SeedExplorer
from adlab.widgets.stepper import ReverseStepper
from adlab.widgets.training import TrainingMonitor

__all__ = ["SeedExplorer", "ReverseSeedExplorer", "ReverseStepper", "CostExplorer",
           "CheckpointExplorer", "TrainingMonitor", "WidgetInputError", "count_work",
           "WorkCount", "make_function", "widgets_with_class"]
