"""Method checks: the one adlab call that computes an answer is off inside the learner's
function, in check() and in grading alike, and says so kindly; the skill still passes.

Each shortcut below is what a learner tried (issue 13): the transformation that computes
the exercise's answer, called directly, through a saved reference, nested inside an
allowed transformation, or after switching the check off.
"""

import nbformat
import numpy as np
import pytest
from test_course_grade import submission

import adlab as ad
from adlab.core import MethodOff, switched_off
from course import catalog, check
from course.grade import Options, grade_notebook

SHORTCUTS = {
    "00.chain_derivative": ("def chain_derivative(x):\n"
                            "    f = lambda x: ad.sin(ad.log(1 + x * x))\n"
                            "    return ad.jvp(f, (x,), (np.ones_like(x),))[1]\n"),
    "00.three_paths": ("def three_path_partials(x1, x2):\n"
                       "    f = lambda a, b: a * b + ad.sin(a) + a / b\n"
                       "    z, pullback = ad.vjp(f, x1, x2)\n"
                       "    return pullback(np.ones_like(z))\n"),
    "01.build_trace": ("def trace_values(x, y):\n"
                       "    def branchy(x, y):\n        a = x * y\n"
                       "        return ad.sin(a) if a > 1 else a * a\n"
                       "    return [n.value for n in ad.trace(branchy, x, y).nodes]\n"),
    "02.central_difference": ("def central_difference(f, x, h=None):\n"
                              "    return ad.grad(f)(x)\n"),
    "02.symbolic_rules": ("def derivative_rule(op, args, dargs):\n"
                          "    return sym.diff(sym.Op(op, *args), 'x')\n"),
    "03.sin_tangent": "def sin_jvp(x, x_dot):\n    return ad.jvp(ad.sin, (x,), (x_dot,))\n",
    "03.div_tangent": ("def div_jvp(x, x_dot, y, y_dot):\n"
                       "    return ad.jvp(ad.div, (x, y), (x_dot, y_dot))\n"),
    "04.div_vjp": ("def div_vjp(g, x, y):\n    _, pullback = ad.vjp(ad.div, x, y)\n"
                   "    return pullback(g)\n"),
    "05.jacfwd_from_jvp": "def jacobian_fwd(f, x):\n    return ad.jacfwd(f)(x)\n",
    "05.jacrev_from_vjp": "def jacobian_rev(f, x):\n    return ad.jacrev(f)(x)\n",
    "05.jacobian_plan": ("def jacobian_plan(inputs, outputs):\n"
                         "    n = sum(int(np.prod(s)) for s in inputs.values())\n"
                         "    m = sum(int(np.prod(s)) for s in outputs.values())\n"
                         "    J = ad.jacrev(lambda x: x[0] * np.ones(m))(np.ones(n))\n"
                         "    return J.shape, 'forward' if n < m else 'reverse', min(J.shape)\n"),
    "05.matmul_vjp": ("def matmul_vjp(y_bar, x, W):\n    _, pullback = ad.vjp(ad.matmul, x, W)\n"
                      "    return pullback(y_bar)\n"),
    "07.softmax_ce_vjp": ("from adlab import nn\ndef softmax_ce_vjp(z, labels):\n"
                          "    return ad.grad(nn.cross_entropy)(z, labels)\n"),
    "08.checkpoint_plan": ("def checkpoint_plan(L, a, budget):\n"
                           "    peak = ad.memory.checkpoint_peak\n"
                           "    return min((m, k) for m in range(L + 1)\n"
                           "               for k in range(1, max(m, 1) + 1)\n"
                           "               if (m == 0 or m % k == 0)\n"
                           "               and peak(L, m, k) * a <= budget)\n"),
    "08.saved_bytes": ("def saved_bytes(batch, widths, activation):\n"
                       "    return ad.saved_memory(lambda x: x, np.ones(batch)).nbytes\n"),
    "09.hvp": "def hvp(f, x, v):\n    return ad.hessian(f)(x) @ v\n",
    "09.newton_root": ("def newton_root_step(F, x):\n"  # section 4's step, on |F|^2 / 2
                       "    phi = lambda y: ad.sum(F(y) ** 2) / 2\n"
                       "    return x - np.linalg.solve(ad.hessian(phi)(x), ad.grad(phi)(x))\n"),
    "09.second_derivative": ("def second_derivative(f, x, v):\n"
                             "    return v @ ad.hessian(f)(x) @ v\n"),
}
PREAMBLE = "import numpy as np\nimport adlab as ad\nimport adlab.symbolic as sym\n"


def namespace(source):
    ns = {}
    exec(PREAMBLE + source, ns)
    return ns


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


@pytest.mark.parametrize("exercise_id", sorted(SHORTCUTS))
def test_the_one_call_shortcut_fails_kindly_in_check(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    result = check(exercise_id, namespace(SHORTCUTS[exercise_id])[exercise.name],
                   record=False)
    assert result.status == "failed", repr(result)
    assert result.message.startswith("This exercise asks you to write it yourself: ")
    assert f"is off inside {exercise.name}." in result.message


@pytest.fixture(scope="module")
def graded_shortcuts(tmp_path_factory):
    """Every shortcut, handed in as its notebook's exercise cell, graded in one run each."""
    folder = tmp_path_factory.mktemp("shortcuts")
    results = {}
    for stem in sorted({catalog.CATALOG[e].notebook for e in SHORTCUTS}):
        mine = {e: PREAMBLE + s for e, s in SHORTCUTS.items()
                if catalog.CATALOG[e].notebook == stem}
        nbformat.write(submission(stem, replace=mine), folder / f"{stem}.ipynb")
        graded = grade_notebook(folder / f"{stem}.ipynb",
                                options=Options(timeout=20, execute=False))
        results.update({e: graded.results[e] for e in mine})
    return results


@pytest.mark.parametrize("exercise_id", sorted(SHORTCUTS))
def test_the_one_call_shortcut_fails_in_grading_too(graded_shortcuts, exercise_id):
    result = graded_shortcuts[exercise_id]
    assert result.status == "failed" and "write it yourself" in result.message, repr(result)


@pytest.mark.parametrize("source", [
    # a reference saved before the check, used inside
    "HESSIAN = ad.hessian\ndef hvp(f, x, v):\n    return HESSIAN(f)(x) @ v\n",
    # the forbidden transformation nested inside an allowed one
    ("def hvp(f, x, v):\n    g = lambda x: ad.sum(ad.hessian(f)(x) @ v * v)\n"
     "    return ad.grad(g)(x)\n"),
    # the check switched off from inside
    ("import adlab.core\ndef hvp(f, x, v):\n    adlab.core.SWITCHED_OFF = {}\n"
     "    return ad.hessian(f)(x) @ v\n"),
    ("import adlab.core\ndef hvp(f, x, v):\n    adlab.core.SWITCHED_OFF.clear()\n"
     "    return ad.hessian(f)(x) @ v\n"),
    # posing as adlab's own code by the module's name
    "__name__ = 'adlab.transforms'\ndef hvp(f, x, v):\n    return ad.hessian(f)(x) @ v\n",
])
def test_the_check_cannot_be_sidestepped(source):
    result = check("09.hvp", namespace(source)["hvp"], record=False)
    assert result.status == "failed", repr(result)
    assert "write it yourself" in result.message


def test_the_method_the_exercise_asks_for_stays_available():
    # 09.hvp is the gradient of a JVP: both allowed, the Hessian is not
    ns = namespace("def hvp(f, x, v):\n"
                   "    return ad.grad(lambda y: ad.jvp(f, (y,), (v,))[1])(x)\n")
    assert check("09.hvp", ns["hvp"], record=False).passed
    ns = namespace("def jacobian_fwd(f, x):\n    n = len(x)\n"
                   "    return np.stack([ad.jvp(f, (x,), (e,))[1] for e in np.eye(n)], axis=1)\n")
    assert check("05.jacfwd_from_jvp", ns["jacobian_fwd"], record=False).passed


def test_switched_off_is_scoped_and_adlab_itself_is_not_stopped():
    with switched_off({"ad.jacfwd": "off", "ad.jacrev": "off"}):
        with pytest.raises(MethodOff, match="off"):
            ad.jacfwd(ad.sin)(np.ones(2))
        # a Hessian is built from jacfwd and jacrev inside adlab: not stopped by them
        assert np.allclose(ad.hessian(lambda x: ad.sum(x ** 3))(np.ones(2)), 6 * np.eye(2))
    assert np.allclose(ad.jacfwd(ad.sin)(np.zeros(2)), np.eye(2))


def test_every_exercise_switches_off_what_computes_its_answer():
    for exercise in catalog.EXERCISES:
        assert "sym.diff" in exercise.off and "numeric.central_difference" in exercise.off
        assert "ad.hessian" in exercise.off, exercise.id


CALLS = {"Var.backward": "ad.Var(1.0).backward()", "sym.diff": "sym.diff()"}


@pytest.mark.parametrize("exercise_id", sorted(catalog.CATALOG))
def test_every_exercise_switches_its_transformations_off_in_the_learners_function(
        exercise_id):
    """For each exercise, its first and last switched-off transformation, called from the
    learner's function (whatever its arguments), fails the check with the kind message."""
    exercise = catalog.CATALOG[exercise_id]
    for name in {exercise.off[0], exercise.off[-1]}:
        call = CALLS.get(name, f"{name}()")
        ns = namespace(f"from adlab import numeric\ndef learner(*args, **kwargs):\n"
                       f"    return {call}\n")
        result = check(exercise_id, ns["learner"], record=False)
        assert result.status == "failed", (name, repr(result))
        assert f"{name} is off inside {exercise.name}" in result.message, (name, repr(result))
