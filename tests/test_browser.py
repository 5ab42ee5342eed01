"""The widgets in a real browser: JupyterLab 4 + ipywidgets 8, driven by Chromium.

A throwaway JupyterLab serves notebooks written at test time and a released course
notebook (notebooks/03_forward_mode.ipynb, with a throwaway progress store); Playwright drives
Debian's Chromium (``make system`` installs it). Every wait is bounded; a failure
saves a screenshot and reports it with the tails of the JupyterLab log and the
browser console. Without Playwright or a Chromium binary these tests skip, except
under CI (CI=true), where they fail instead, so CI cannot skip them silently.

The last test renders every widget and a graph drawing in the light and the dark theme,
at 1400 and 1000 px, screenshots each output and checks that it fits its column and
that its text reads (tests/browser/layout.py); LAYOUT_OUTPUTS lists what it renders.

Run alone: ``.venv/bin/python -m pytest -q tests/test_browser.py``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # tests/browser/ is a package beside this file
    sys.path.insert(0, _TESTS)

from browser import lab, layout, notebooks  # noqa: E402

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the machine
    sync_playwright = expect = None
    PLAYWRIGHT_MISSING = f"Playwright is not installed ({exc}); pip install playwright"
else:
    PLAYWRIGHT_MISSING = None

IN_CI = os.environ.get("CI") == "true"

# Playwright's per-action and per-assertion limit; page loads get longer.
STEP_MS = 20_000
LOAD_MS = 60_000


def unavailable(reason: str):
    """Skip, except under CI, where a missing browser is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------------
# Fixtures: one Chromium and one JupyterLab for the module, a fresh page per test
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium_browser():
    if PLAYWRIGHT_MISSING:
        unavailable(PLAYWRIGHT_MISSING)
    chromium = lab.find_chromium()
    if chromium is None:
        explicit = os.environ.get("ADLAB_CHROMIUM")
        unavailable(
            f"ADLAB_CHROMIUM={explicit} is not an executable" if explicit else
            "no Chromium binary (/usr/bin/chromium or chromium on PATH; set ADLAB_CHROMIUM "
            "to use another); `make system` installs Debian's"
        )
    expect.set_options(timeout=STEP_MS)  # the default 5 s is short on a busy CI box
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=lab.CHROMIUM_ARGS, timeout=LOAD_MS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def lab_server(chromium_browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    notebooks.write_all(root)
    server = lab.LabServer(
        root, home=tmp_path_factory.mktemp("lab-home"),
        log_path=tmp_path_factory.mktemp("lab-log") / "jupyterlab.log",
        # the course notebook's checks record attempts here, never in the user's store
        env={"ADLAB_COURSE_DB": str(tmp_path_factory.mktemp("lab-progress") / "progress.db")},
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


class LabPage:
    """A Chromium page on the test JupyterLab, with failure diagnostics."""

    def __init__(self, page, server: lab.LabServer, tmp_path: Path):
        self.page = page
        self.server = server
        self.tmp_path = tmp_path
        self.console: list[str] = []
        self.name: str | None = None
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))

    def open(self, name: str) -> None:
        lab.open_notebook(self.page, self.server, name, timeout_ms=LOAD_MS)
        self.name = name

    def run_all(self, timeout_ms: int = LOAD_MS) -> None:
        lab.run_all_cells(self.page, self.name, timeout_ms=timeout_ms)

    @contextlib.contextmanager
    def diagnostics(self):
        """Turn any failure inside into one with a screenshot and the log tails."""
        try:
            yield
        except Exception as exc:
            shot = self.tmp_path / "failure.png"
            try:
                self.page.screenshot(path=str(shot), full_page=True, timeout=10_000)
            except Exception as shot_exc:  # the page may be gone
                shot = f"(no screenshot: {shot_exc})"
            console = "\n".join(self.console[-30:]) or "(empty)"
            raise AssertionError(
                f"{type(exc).__name__}: {exc}\n"
                f"screenshot: {shot}\n"
                f"--- JupyterLab log tail ({self.server.log_path}) ---\n"
                f"{self.server.log_tail()}\n"
                f"--- browser console tail ---\n{console}"
            ) from exc


@pytest.fixture
def lab_page(chromium_browser, lab_server, tmp_path):
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_MS)
    try:
        yield LabPage(context.new_page(), lab_server, tmp_path)
    finally:
        context.close()
        with contextlib.suppress(OSError):  # a dead server has failed the test already
            lab_server.shutdown_kernels()  # the next test starts from a fresh kernel


# ---------------------------------------------------------------------------
# The pipeline: kernel, widget manager, clicks and keys, with plain ipywidgets
# ---------------------------------------------------------------------------


def test_plain_ipywidgets_respond_to_clicks_and_keys(lab_page):
    page = lab_page.page
    with lab_page.diagnostics():
        lab_page.open(notebooks.SMOKE_NAME)
        lab_page.run_all()
        out = page.locator(".smoke-out")
        expect(out).to_have_text("clicks: 0")
        page.locator(".smoke-button").click()
        expect(out).to_have_text("clicks: 1, n=3")
        # the slider's value comes back from the browser too
        page.locator(".smoke-slider .noUi-handle").press("ArrowRight")
        page.locator(".smoke-button").click()
        expect(out).to_have_text("clicks: 2, n=4")


# ---------------------------------------------------------------------------
# The course widgets (adlab.widgets) on z = f(x1, x2) = x1 x2 + sin x1 at (2, 3):
# df/dx1 = x2 + cos x1 = 2.58385 and df/dx2 = x1 = 2, with 6 significant digits.
# The DOM hooks are the CSS classes the widgets' docstrings list (adlab-*).
# ---------------------------------------------------------------------------

DF_DX1 = "2.58385"
DF_DX2 = "2"


def seed_box(page, label: str):
    """The ``input`` of SeedExplorer's FloatText for input ``label``."""
    box = page.locator(".adlab-seed").filter(has=page.locator(f"label:text-is('{label}')"))
    expect(box).to_have_count(1)
    return box.locator("input")


def type_seed(page, label: str, value: str) -> None:
    """Type one seed component and commit it the way a learner does (Enter, then Tab:
    a FloatText sends its value to the kernel on change, not on every key)."""
    field = seed_box(page, label)
    field.fill(value)
    field.press("Enter")
    field.press("Tab")


def test_seed_explorer_typed_seeds_give_each_derivative(lab_page):
    page = lab_page.page
    with lab_page.diagnostics():
        lab_page.open(notebooks.ADLAB_NAME)
        lab_page.run_all()
        derivative = page.locator(".adlab-seed-explorer .adlab-derivative")
        expect(derivative).to_have_count(1)
        expect(page.locator(".adlab-seed")).to_have_count(2)
        # every typed component changes the seed, so every step shows another text
        expect(derivative).to_contain_text(f"∂f/∂x1 = {DF_DX1}")  # the start: (1, 0)
        type_seed(page, "x1", "0")
        expect(derivative).to_contain_text("Seed (0, 0) is zero")
        type_seed(page, "x2", "1")
        expect(derivative).to_contain_text("Seed (0, 1) is one-hot on x2")
        expect(derivative).to_contain_text(f"∂f/∂x2 = {DF_DX2}.")
        type_seed(page, "x1", "1")
        expect(derivative).to_contain_text("directional derivative")
        expect(derivative).to_contain_text("= 4.58385")  # 2.58385 + 2
        type_seed(page, "x2", "0")
        expect(derivative).to_contain_text("Seed (1, 0) is one-hot on x1")
        expect(derivative).to_contain_text(f"∂f/∂x1 = {DF_DX1}.")
        # a preset button sets the seed in the kernel, and the boxes follow it
        page.locator(".adlab-preset").filter(has_text="seed x2").click()
        expect(derivative).to_contain_text(f"∂f/∂x2 = {DF_DX2}.")
        expect(seed_box(page, "x1")).to_have_value("0")
        expect(seed_box(page, "x2")).to_have_value("1")


def adjoint_rows(page) -> dict[str, list[str]]:
    """ReverseStepper's adjoints table: node → [node, contributions, sum, state] texts."""
    rows = page.locator(".adlab-adjoints tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
    )
    return {cells[0].split()[0]: cells for cells in rows if cells and cells[0] != "node"}


def test_reverse_stepper_walks_both_sweeps_to_the_gradient(lab_page):
    page = lab_page.page
    with lab_page.diagnostics():
        lab_page.open(notebooks.ADLAB_NAME)
        lab_page.run_all()
        status = page.locator(".adlab-reverse-stepper .adlab-status")
        nxt = page.locator(".adlab-reverse-stepper .adlab-next")
        prev = page.locator(".adlab-reverse-stepper .adlab-prev")
        expect(status).to_have_count(1)
        expect(nxt).to_have_text("Next")
        expect(prev).to_have_text("Prev")
        expect(status).to_contain_text("step 0 of 11")
        expect(prev).to_be_disabled()

        # 5 nodes: 5 forward steps, 5 reverse steps, then "done"; each click says so
        statuses = [status.inner_text()]
        for _ in range(20):
            if nxt.is_disabled():
                break
            nxt.click()
            expect(status).not_to_have_text(statuses[-1])
            statuses.append(status.inner_text())
            if "reverse" in statuses[-1] and "step 6 of" in statuses[-1]:
                # the reverse sweep has begun: the output's seed is its first contribution
                assert adjoint_rows(page)["v3"][1:3] == ["1 (from seed)", "1"]
        assert len(statuses) == 12, f"expected 11 steps, saw {len(statuses) - 1}: {statuses}"
        assert [s.split(" — ")[0] for s in statuses] == (
            [f"forward · step {k} of 11" for k in range(6)]
            + [f"reverse · step {k} of 11" for k in range(6, 11)]
            + ["done · step 11 of 11"]
        ), statuses
        expect(status).to_contain_text(f"∂f/∂x1 = {DF_DX1}, ∂f/∂x2 = {DF_DX2}.")

        rows = adjoint_rows(page)
        assert rows["v-1"][0] == "v-1 (x1)" and rows["v0"][0] == "v0 (x2)", rows
        # v-1 is used twice (by v1 = v-1 v0 and v2 = sin v-1): two contributions, one sum
        assert rows["v-1"][1] == "-0.416147 (from v2) + 3 (from v1)", rows["v-1"]
        assert rows["v-1"][2] == DF_DX1, rows["v-1"]
        assert rows["v0"][1:3] == ["2 (from v1)", DF_DX2], rows["v0"]
        assert all(r[3] == "final" for r in rows.values()), rows

        # and back: Prev undoes the last step
        prev.click()
        expect(status).to_contain_text("reverse · step 10 of 11")


# ---------------------------------------------------------------------------
# A released course notebook, as a learner opens it: notebooks/03_forward_mode.ipynb.
# Its SeedExplorer is SeedExplorer(z_fn, 2.0, 3.0) with z_fn = x1 x2 + sin x1, the
# function and point of the tests above (checked first, so a rewrite of the notebook
# fails here with a clear message rather than on a number).
# ---------------------------------------------------------------------------


def test_course_notebook_runs_and_its_seed_explorer_answers_typed_seeds(lab_page):
    notebooks.assert_course_explorer(lab_page.server.root_dir / notebooks.COURSE_NAME)
    page = lab_page.page
    with lab_page.diagnostics():
        lab_page.open(notebooks.COURSE_NAME)
        # a real notebook (it times things, too): more time; fails on any error output
        lab_page.run_all(timeout_ms=2 * LOAD_MS)
        # the unanswered exercise stubs are graded "not attempted", not errors
        for exercise in notebooks.COURSE_EXERCISES:
            verdict = page.locator(".adlab-check").filter(has_text=exercise)
            expect(verdict).to_have_count(1)
            expect(verdict).to_contain_text("not attempted")

        explorer = page.locator(".adlab-seed-explorer")
        expect(explorer).to_have_count(1)
        expect(page.locator(".adlab-seed")).to_have_count(2)
        derivative = explorer.locator(".adlab-derivative")
        # whatever seed the notebook's own cells left: (1, 1) first, then one-hot seeds;
        # each step's text differs from the one before it
        type_seed(page, "x1", "1")
        type_seed(page, "x2", "1")
        expect(derivative).to_contain_text("Seed (1, 1) is not one-hot")
        expect(derivative).to_contain_text("= 4.58385")  # 2.58385 + 2
        type_seed(page, "x1", "0")
        expect(derivative).to_contain_text("Seed (0, 1) is one-hot on x2")
        expect(derivative).to_contain_text(f"∂f/∂x2 = {DF_DX2}.")
        type_seed(page, "x1", "1")
        type_seed(page, "x2", "0")
        expect(derivative).to_contain_text("Seed (1, 0) is one-hot on x1")
        expect(derivative).to_contain_text(f"∂f/∂x1 = {DF_DX1}.")

    # the kernel used the server's throwaway store (the notebook's progress() cell opened
    # it) and, as nothing was attempted, recorded no attempt
    db = Path(lab_page.server.extra_env["ADLAB_COURSE_DB"])
    assert db.is_file(), f"the kernel did not use ADLAB_COURSE_DB={db}"
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute("SELECT exercise, passed FROM attempts").fetchall()
    assert rows == [], rows


# ---------------------------------------------------------------------------
# Layout: every widget, and a graph drawing, fits a notebook column and reads in
# the light and the dark theme (issue 14).
# ---------------------------------------------------------------------------

# The outputs the layout test renders, one line each: (name, a cell whose result is
# displayed). The cells run after LAYOUT_SETUP: adlab as ad, adlab.widgets as aw,
# f = x1 x2 + sin x1, draw, at(widget, attribute=value, ...) (sets attributes, returns
# the widget) and training_demo(). Add a new widget here with one line.
LAYOUT_OUTPUTS = [
    ("seed-explorer", "aw.SeedExplorer(f, 2.0, 3.0)"),
    ("reverse-stepper", "at(aw.ReverseStepper(f, 2.0, 3.0), position=8)"),  # mid-sweep
    ("cost-explorer", "aw.CostExplorer(n=20, m=2)"),
    ("training-monitor", "training_demo()"),
    ("reverse-seed-explorer", "aw.ReverseSeedExplorer(lambda x1, x2: ad.stack("
                              "[x1 * x2, ad.sin(x1), x1 + x2 ** 2]), 2.0, 3.0)"),
    ("checkpoint-explorer", "aw.CheckpointExplorer(L=16, m=16, k=4, repeats=1)"),
    ("graph", "draw(ad.trace(f, 2.0, 3.0), mode='adjoint', partials=True, highlight='v1')"),
]

LAYOUT_SETUP = """\
import adlab as ad
import adlab.widgets as aw
from adlab.draw import draw

f = lambda x1, x2: x1 * x2 + ad.sin(x1)

def at(widget, **state):
    for name, value in state.items():
        setattr(widget, name, value)
    return widget

def training_demo():
    mon = aw.TrainingMonitor(total=20, title="toy run")
    for step in range(20):
        mon.update(step, 1 / (step + 1), accuracy=step / 20)
    mon.close()
    return mon"""

LAYOUT_NAME = "adlab_layout.ipynb"
# light at the usual width and a narrow one; dark for the colours (and the same fit)
LAYOUT_VIEWS = ((layout.LIGHT, 1400), (layout.LIGHT, 1000), (layout.DARK, 1000),
                (layout.DARK, 1400))


def test_every_widget_fits_its_column_and_reads_in_both_themes(lab_page):
    page, shots = lab_page.page, lab_page.tmp_path
    notebooks.write_notebook(lab_page.server.root_dir / LAYOUT_NAME, LAYOUT_SETUP,
                             *(code for _, code in LAYOUT_OUTPUTS))
    found: list[str] = []
    with lab_page.diagnostics():
        lab_page.open(LAYOUT_NAME)
        lab_page.run_all()
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        expect(cells).to_have_count(1 + len(LAYOUT_OUTPUTS))
        areas = {}
        for k, (name, _) in enumerate(LAYOUT_OUTPUTS, start=1):
            area = cells.nth(k).locator(".jp-OutputArea-output")
            expect(area).to_have_count(1)  # one output per cell: the widget or drawing
            # drawn (an empty view would fit trivially): a widget, a picture
            expect(area.locator(".jupyter-widgets, svg, img").first).to_be_visible()
            areas[name] = area
        try:
            for theme, width in LAYOUT_VIEWS:
                layout.set_theme(page, theme)
                layout.set_width(page, width, areas[LAYOUT_OUTPUTS[0][0]])
                dark = theme == layout.DARK
                for name, area in areas.items():
                    area.scroll_into_view_if_needed()
                    shot = shots / f"{name}-{'dark' if dark else 'light'}-{width}.png"
                    area.screenshot(path=str(shot))
                    found += [f"{name}, {theme}, {width} px ({shot.name}): {p}"
                              for p in layout.problems(area)]
        finally:  # the theme is a user setting of the shared server: back to light
            with contextlib.suppress(Exception):  # (a failure above says what went wrong)
                layout.set_theme(page, layout.LIGHT)
    assert not found, (f"{len(found)} layout problems (screenshots in {shots}):\n"
                       + "\n".join(found))
