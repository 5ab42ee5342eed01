"""The notebooks the browser tests open: some written with nbformat at test time, and
one released course notebook copied from ``notebooks/``."""

from __future__ import annotations

import shutil
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


# A released course notebook, opened as a learner gets it (exercise stubs unanswered).
# It imports adlab and course, both installed in the venv the kernel runs in.
REPO = Path(__file__).resolve().parents[2]
COURSE_NAME = "03_forward_mode.ipynb"
COURSE_EXERCISES = ("03.sin_tangent", "03.div_tangent", "03.forward_sweep", "03.choose_seed")


def assert_course_explorer(path: Path) -> None:
    """The course notebook still has the SeedExplorer the browser test expects."""
    code = [c.source for c in nbformat.read(str(path), as_version=4).cells
            if c.cell_type == "code"]
    wanted = ("return x1 * x2 + ad.sin(x1)", "SeedExplorer(z_fn, 2.0, 3.0)")
    for text in wanted:
        assert any(text in src for src in code), (
            f"{path.name} no longer has `{text}`; update the browser test of its SeedExplorer"
        )
    assert sum("SeedExplorer(" in src for src in code) == 1, (
        f"{path.name} should have exactly one SeedExplorer; update the browser test"
    )


def write_all(root: Path) -> None:
    write_notebook(root / SMOKE_NAME, *SMOKE_CELLS)
    write_notebook(root / ADLAB_NAME, *ADLAB_CELLS)
    shutil.copyfile(REPO / "notebooks" / COURSE_NAME, root / COURSE_NAME)
