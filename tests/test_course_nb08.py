"""Notebook 08's checkers accept the reference solutions and reject typical mistakes."""

import math

import numpy as np
import pytest
from course_cases import accepts, rejects

import adlab as ad
from course import catalog, release
from course.checking import evaluate
from course.exercises import nb08


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions ----------------------------------------------------------

def make_stored_values(ans=True, constants=False, everything=False):
    def stored_values(nodes, reads):
        stored = set()
        for name, op, args in nodes:
            if op == "input":
                continue
            if everything:  # every argument of every operation
                stored.update(a for a in args if isinstance(a, str))
                continue
            named = {"x": args[0], "y": args[1] if len(args) > 1 else None, "ans": name}
            for i, arg in enumerate(args):
                if not isinstance(arg, str) and not constants:
                    continue  # a constant's rule never runs
                for r in reads[op][i]:
                    if r == "ans" and not ans:
                        continue
                    if isinstance(named[r], str):
                        stored.add(named[r])
        return stored
    return stored_values


def make_saved_bytes(output=True, count_all=False, count_input=False):
    def saved_bytes(batch, widths, activation):
        hidden = widths[1:]
        if count_all:  # matmul, add and activation outputs, and the loss
            return 8 * batch * 3 * sum(hidden) + 8
        if activation == "relu":
            n = sum(hidden) + sum(hidden[:-1])       # z_l for relu, h_l for the next matmul
        elif output:
            n = sum(hidden)                          # h_l: tanh and sigmoid read their output
        else:
            n = sum(hidden[:-1])                     # only what the next matmul reads
        if count_input:
            n += widths[0]
        return 8 * batch * n
    return saved_bytes


def make_checkpoint_plan(model="max", always_sqrt=False):
    def checkpoint_plan(L, a, budget):
        if always_sqrt:
            k = max(k for k in range(1, math.isqrt(L) + 1) if L % k == 0)
            return L, k
        for m in range(L + 1):
            for k in range(1, max(m, 1) + 1):
                if m % k:
                    continue
                s = m // k
                if m == 0:
                    peak = L
                elif model == "sum":  # the old law: plain layers alive while recomputing
                    peak = (L - m) + s + k
                elif model == "no-segment":
                    peak = (L - m) + s
                else:
                    peak = max((L - m) + s, s + k)
                if peak * a <= budget:
                    return m, k
        return L, L
    return checkpoint_plan


REFERENCE = {
    "08.stored_values": make_stored_values(),
    "08.saved_bytes": make_saved_bytes(),
    "08.checkpoint_plan": make_checkpoint_plan(),
}

WRONG = {
    "08.stored_values": {
        "every argument of every operation": make_stored_values(everything=True),
        "forgets that tanh and exp read their output": make_stored_values(ans=False),
        "runs the rules of constants too": make_stored_values(constants=True),
        "every node": lambda nodes, reads: {n[0] for n in nodes},
    },
    "08.saved_bytes": {
        "counts every node": make_saved_bytes(count_all=True),
        "forgets that tanh stores its output": make_saved_bytes(output=False),
        "counts the input x": make_saved_bytes(count_input=True),
    },
    "08.checkpoint_plan": {
        "adds the phases (plain layers kept while recomputing)": make_checkpoint_plan("sum"),
        "forgets the segment being recomputed": make_checkpoint_plan("no-segment"),
        "always sqrt(L)": make_checkpoint_plan(always_sqrt=True),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_a_plan_whose_segments_do_not_divide_m_is_refused_with_a_reason():
    result = evaluate(catalog.CATALOG["08.checkpoint_plan"], lambda L, a, budget: (14, 4))
    assert result.status == "failed" and "should divide m = 14" in result.message


def test_every_exercise_of_notebook_08_is_covered():
    ids = {e.id for e in catalog.EXERCISES if e.notebook == "08_memory_and_cost"}
    assert ids == set(REFERENCE) == set(WRONG)
    assert all(len(m) >= 2 for m in WRONG.values())


def test_the_curriculum_example_is_the_first_stored_values_case():
    result = evaluate(catalog.CATALOG["08.stored_values"],
                      WRONG["08.stored_values"]["every argument of every operation"])
    assert "Case 1 of 5" in result.message
    assert "v3 = sub(v1, v2)" in result.case and "v4 = pow(v3, 2)" in result.case


def test_a_name_that_is_not_a_node_is_explained():
    result = evaluate(catalog.CATALOG["08.stored_values"], lambda nodes, reads: {"c"})
    assert result.status == "failed" and "'c' is not the name of a node" in result.message


def test_saved_bytes_worked_example():
    # 32 examples through 64 -> 32 -> 16 tanh layers keep h1 and h2: 8 * 32 * (32 + 16)
    assert REFERENCE["08.saved_bytes"](32, [64, 32, 16], "tanh") == 12288
    args = nb08.stack_arguments(32, [64, 32, 16])
    assert ad.saved_memory(nb08.layer_stack("tanh"), *args).nbytes == 12288


def test_the_peak_model_is_adlab_memorys_at_the_input_end():
    for L in (1, 7, 16, 30):
        for m, k in nb08.plans(L):
            assert nb08.peak_units(L, m, k) == ad.memory.checkpoint_peak(L, m, k, "input")
            assert nb08.sum_peak(L, m, k) == ad.memory.checkpoint_peak(L, m, k, "output")


def test_the_forward_sweep_keeps_the_first_phase_of_the_model():
    # forward sweep of a plan: (L - m) plain outputs + one value per segment
    rng = np.random.default_rng(0)
    L, B, W = 10, 4, 3
    Ws = [rng.standard_normal((W, W)) for _ in range(L)]
    x = rng.standard_normal((B, W))

    def layers(h, *Ws):
        for Wl in Ws:
            h = ad.tanh(h @ Wl)
        return h

    segment = ad.checkpoint(layers)

    def plan(m, k):
        def f(x, *Ws):  # the weights are differentiated too, as in training
            h = x
            for i in range(0, m, k):
                h = segment(h, *Ws[i:i + k])
            return ad.sum(layers(h, *Ws[m:]) ** 2)
        return f

    a = B * W * 8
    for m, k in [(0, 1), (4, 2), (6, 3), (10, 5), (10, 10)]:
        stored = ad.saved_memory(plan(m, k), x, *Ws).nbytes
        assert stored == ((L - m) + (m // k if m else 0)) * a, (m, k)


def test_fewest_recomputed_on_the_worked_example():
    # L = 16 layers, a budget of 10 activations: 7 layers in one segment, max(9 + 1, 1 + 7)
    assert nb08.fewest_recomputed(16, 1, 10) == 7
    assert nb08.model_plan(16, 1, 10) == (7, 7) and nb08.peak_units(16, 7, 7) == 10
    assert nb08.model_plan(16, 1, 10, nb08.sum_peak) == (15, 3)  # the old law: 1 + 5 + 3
    assert nb08.fewest_recomputed(16, 1, 16) == 0
    # every layer in segments of 8 peaks at 8 + 8; leaving the last 8 plain is better:
    # they are freed before any segment is recomputed, max(8 + 7, 7 + 8) = 15
    assert nb08.peak_units(64, 64, 8) == 16 and nb08.peak_units(64, 56, 8) == 15
    assert nb08.smallest_peak(64) == 15
    assert nb08.fewest_recomputed(64, 1, 16) == 54  # max(10 + 6, 6 + 9)


def test_section_6_measures_the_gradient_and_cites_notebook_03_for_one_jvp():
    cells = release.build()["08_memory_and_cost"].notebook.cells
    start = next(i for i, c in enumerate(cells) if c.source.startswith("## 6"))
    code = "\n".join(c.source for c in cells[start:] if c.cell_type == "code")
    text = "\n".join(c.source for c in cells[start:] if c.cell_type == "markdown")
    # forward mode's cost is measured once, in notebook 03; here only the law's subject
    assert "ad.jvp" not in code and "best_time" not in code and "measure.scaling" in code
    assert "notebook 03" in text and "2.75" in text

    # what notebook 03 counts: 11 operations in one forward pass for every 4 of its chain
    def chain(*xs):
        total = 0.0
        for a, b in zip(xs[:-1], xs[1:]):
            total = total + a * b + ad.sin(a)
        return total

    for n in (10, 100):
        xs = tuple(np.linspace(-1.0, 1.0, n))
        with ad.count_work() as work:
            ad.jvp(chain, xs, (1.0,) + (0.0,) * (n - 1))
        assert work.operations == 2.75 * (len(ad.trace(chain, *xs)) - n)

