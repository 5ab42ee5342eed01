"""The notebooks the browser tests open, written with nbformat at test time."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def write_notebook(path: Path, *sources: str) -> Path:
    nb = new_notebook(
        cells=[new_code_cell(src) for src in sources],
        metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
    )
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


# A plain ipywidgets notebook: proves kernel, widget manager and clicks work at all.
SMOKE_NAME = "smoke_widgets.ipynb"
SMOKE_CELLS = (
    "import ipywidgets as widgets",
    """\
slider = widgets.IntSlider(value=3, min=0, max=10, description="n")
slider.add_class("smoke-slider")
out = widgets.HTML("<b>clicks: 0</b>")
out.add_class("smoke-out")
button = widgets.Button(description="Bump")
button.add_class("smoke-button")
clicks = 0

def bump(_):
    global clicks
    clicks += 1
    out.value = f"<b>clicks: {clicks}, n={slider.value}</b>"

button.on_click(bump)
widgets.VBox([slider, button, out])""",
)

# The course widgets on the running example z = x1 x2 + sin x1 at (2, 3).
ADLAB_NAME = "adlab_widgets.ipynb"
ADLAB_CELLS = (
    """\
import adlab as ad
from adlab.widgets import SeedExplorer, ReverseStepper

f = lambda x1, x2: x1 * x2 + ad.sin(x1)""",
    "s = SeedExplorer(f, 2.0, 3.0)\ndisplay(s)",
    "r = ReverseStepper(f, 2.0, 3.0)\ndisplay(r)",
)


def write_all(root: Path) -> None:
    write_notebook(root / SMOKE_NAME, *SMOKE_CELLS)
    write_notebook(root / ADLAB_NAME, *ADLAB_CELLS)
