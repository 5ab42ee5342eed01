"""Symbolic differentiation: rules, simplification, printing, sizes, and expression swell."""

from __future__ import annotations

from dataclasses import astuple

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import adlab as ad
from adlab.numeric import central_difference
from adlab.symbolic import (
    Const,
    Op,
    Symbol,
    cos,
    dag_size,
    diff,
    draw,
    evaluate,
    exp,
    expression_swell,
    log,
    plot_swell,
    simplify,
    sin,
    tanh,
    to_function,
    to_latex,
    tree_size,
)

matplotlib.use("Agg")  # figures are returned, never shown

x, y = Symbol("x"), Symbol("y")


# -- building and printing ---------------------------------------------------------

@pytest.mark.parametrize("expr, text", [
    (4 * x * (1 - x), "4*x*(1 - x)"),
    (x - (y - x), "x - (y - x)"),
    (x - y - x, "x - y - x"),
    (x / (y * x), "x/(y*x)"),
    (x * y / x, "x*y/x"),
    ((-x) ** 2, "(-x)**2"),
    (-(x ** 2), "-x**2"),
    (-(x * y), "-(x*y)"),
    (x * (-y), "x*(-y)"),
    (x + -2, "x + (-2)"),
    (x ** (y ** 2), "x**(y**2)"),
    ((x ** 2) ** 3, "(x**2)**3"),
    (sin(x + y) * cos(x), "sin(x + y)*cos(x)"),
    (exp(-x) / (1 + log(x)), "exp(-x)/(1 + log(x))"),
    (tanh(x) ** 0.5, "tanh(x)**0.5"),
])
def test_text_has_the_fewest_parentheses_that_keep_the_meaning(expr, text):
    assert str(expr) == text


def test_latex():
    assert to_latex(4 * x * (1 - x)) == r"4 \cdot x \cdot \left(1 - x\right)"
    assert (x / (1 + x ** 2)).latex() == r"\frac{x}{1 + {x}^{2}}"
    assert (sin(x) ** 2).latex() == r"{\sin\left(x\right)}^{2}"
    assert ((x / y) ** 2).latex() == r"{\left(\frac{x}{y}\right)}^{2}"
    assert Symbol("x1").latex() == "x_{1}"
    assert Const(1e-7).latex() == r"1 \cdot 10^{-7}"
    assert (x * y)._repr_latex_() == r"$x \cdot y$"


def test_expressions_are_immutable_and_compare_structurally():
    assert x * x == x * x and hash(x * x) == hash(x * x)
    assert x * y != y * x and x != Const(1.0) and x != Symbol("y")
    assert len({x * x, x * x, x + x}) == 2
    with pytest.raises(AttributeError, match="immutable"):
        x.op = "const"
    assert np.float64(2.0) * x == Op("mul", 2.0, x)  # NumPy scalars defer to expressions
    assert (x * y).symbols == {"x", "y"} and Const(2).symbols == frozenset()


def test_bad_input_is_explained():
    with pytest.raises(TypeError, match="cannot put a str"):
        x + "1"
    with pytest.raises(ValueError, match="unknown operation"):
        Op("sqrt", x)
    with pytest.raises(ValueError, match="identifier"):
        Symbol("2x")
    with pytest.raises(KeyError, match="no value for the symbol 'y'"):
        evaluate(x * y, {"x": 1.0})
    with pytest.raises(ValueError, match=r"\['y'\]"):
        to_function(x * y, [x])


# -- the rules ---------------------------------------------------------------------

def test_textbook_rules_written_out_in_full():
    assert str(diff(4 * x * (1 - x), x)) == "(0*x + 4*1)*(1 - x) + 4*x*(0 - 1)"
    assert str(diff(x * y + sin(x), x)) == "1*y + x*0 + cos(x)*1"
    assert str(diff(x / y, x)) == "(1*y - x*0)/y**2"
    assert str(diff(x ** 3, x)) == "3*x**2*1"
    assert str(diff(x ** y, x)) == "y*x**(y - 1)*1"                 # y free of x
    assert str(diff(2 ** x, x)) == "2**x*(1*log(2) + x*0/2)"         # general power rule
    assert str(diff(tanh(x), "x")) == "(1 - tanh(x)**2)*1"


def test_simplified_derivatives():
    assert str(simplify(diff(4 * x * (1 - x), x))) == "4*(1 - x) - 4*x"
    assert str(simplify(diff(x * y + sin(x), x))) == "y + cos(x)"
    assert str(simplify(diff(x ** 3, x))) == "3*x**2"
    assert str(simplify(diff(exp(2 * x), x))) == "exp(2*x)*2"
    assert str(simplify(diff(log(x), x))) == "1/x"


@pytest.mark.parametrize("expr, simple", [
    (x + 0, x), (0 + x, x), (x - 0, x), (0 - x, -x), (x * 1, x), (1 * x, x),
    (x * 0, Const(0)), (0 * sin(x), Const(0)), (x / 1, x), (0 / x, Const(0)),
    (x ** 1, x), (x ** 0, Const(1)), (1 ** x, Const(1)), (x - x, Const(0)),
    (sin(x) / sin(x), Const(1)), (Op("neg", -x), x), (log(exp(x)), x), (x * x, x ** 2),
    (x + x, 2 * x), (2 * (3 * x), 6 * x), (-1 * x, -x), (x + -y, x - y), (x - -y, x + y),
    (-x * y, -(x * y)), (Const(2) * 3 + sin(Const(0)), Const(6)), (-(Const(2)), Const(-2)),
    ((x + 0) * (y * 1) - 0, x * y),
])
def test_simplify_identities(expr, simple):
    assert simplify(expr) == simple


def test_simplify_keeps_undefined_constants_as_written():
    assert str(simplify(Const(0) / Const(0) + x)) == "0/0 + x"
    assert str(simplify(log(Const(-1)))) == "log(-1)"


def test_evaluate_takes_arrays_and_complex_numbers():
    e = x * y + sin(x)
    grid = np.linspace(0, 1, 5)
    np.testing.assert_allclose(evaluate(e, {x: grid, "y": 2.0}), grid * 2 + np.sin(grid))
    z = evaluate(e, {"x": 1 + 1e-20j, "y": 2.0})
    assert np.imag(z) / 1e-20 == pytest.approx(2 + np.cos(1), rel=1e-15)


def test_to_function_runs_on_adlab_and_names_its_arguments():
    f = to_function(x * y + sin(x), [x, y])
    assert f(2.0, 3.0) == pytest.approx(6.909297426825682)
    assert ad.grad(f, argnums=(0, 1))(2.0, 3.0) == pytest.approx((2.583853163452857, 2.0))
    t = ad.trace(f, 2.0, 3.0)
    assert [n.label for n in t.nodes[:2]] == ["x", "y"]
    assert [n.op for n in t.nodes[2:]] == ["mul", "sin", "add"]
    with pytest.raises(TypeError, match="takes 2 argument"):
        f(1.0)


def test_functions_build_expressions_or_compute_with_adlab():
    assert sin(x) == Op("sin", x)
    assert sin(2.0) == pytest.approx(np.sin(2.0))
    assert ad.grad(lambda v: tanh(v) * exp(v))(0.5) == pytest.approx(
        (1 - np.tanh(0.5) ** 2) * np.exp(0.5) + np.tanh(0.5) * np.exp(0.5))


# -- random expressions: symbolic = AD = central differences -------------------------

_leaves = st.one_of(st.sampled_from([x, y]),
                    st.integers(-20, 20).map(lambda k: Const(k / 10)))


def _extend(children):
    pairs = st.tuples(children, children)
    return st.one_of(
        st.tuples(st.sampled_from(["add", "sub", "mul"]), children, children).map(
            lambda t: Op(*t)),
        pairs.map(lambda t: t[0] / (2 + sin(t[1]))),            # divisor in [1, 3]
        st.tuples(st.sampled_from([sin, cos, tanh, lambda e: -e]), children).map(
            lambda t: t[0](t[1])),
        children.map(lambda e: log(1 + e * e)),                 # log of something >= 1
        children.map(lambda e: exp(tanh(e))),                   # exp of something in [-1, 1]
        st.tuples(children, st.sampled_from([2, 3])).map(lambda t: t[0] ** t[1]),
        pairs.map(lambda t: (1 + t[0] * t[0]) ** tanh(t[1])),    # general power rule
    )


expressions = st.recursive(_leaves, _extend, max_leaves=8)
points = st.floats(-2, 2, allow_nan=False)


def _close(a, b, rtol, scale):
    return abs(a - b) <= rtol * (abs(a) + abs(b) + scale)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, points, points)
def test_symbolic_derivatives_equal_ad_and_central_differences(e, a, b):
    point = {"x": a, "y": b}
    f = to_function(e, [x, y])
    value = float(evaluate(e, point))
    by_ad = ad.grad(f, argnums=(0, 1))(a, b)
    for k, s in enumerate((x, y)):
        d = diff(e, s)
        symbolic = float(evaluate(d, point))
        simplified = float(evaluate(simplify(d), point))
        numeric = float(central_difference(f, [a, b], [1.0 - k, float(k)]))
        scale = 1.0 + abs(value)
        where = f"d/d{s} of {e} at x={a}, y={b}: {d}"
        assert _close(symbolic, float(by_ad[k]), 1e-9, scale), (where, symbolic, by_ad[k])
        assert _close(simplified, symbolic, 1e-9, scale), (where, simplified, symbolic)
        assert _close(numeric, symbolic, 1e-5, scale), (where, numeric, symbolic)


@settings(max_examples=150, deadline=None)
@given(expressions, points, points)
def test_simplify_preserves_values_and_never_grows_an_expression(e, a, b):
    s = simplify(e)
    point = {"x": a, "y": b}
    assert _close(float(evaluate(s, point)), float(evaluate(e, point)), 1e-12, 1.0), (e, s)
    assert tree_size(s) <= tree_size(e) + 1  # x*x -> x**2 trades a node for a constant
    assert simplify(s) == s  # nothing left to do


# -- sizes and expression swell ------------------------------------------------------

def test_tree_and_dag_sizes():
    assert (tree_size(x), dag_size(x)) == (1, 1)
    assert (tree_size(x * x), dag_size(x * x)) == (3, 2)
    e = sin(x * y) + sin(x * y) * x
    assert (tree_size(e), dag_size(e)) == (11, 6)
    assert dag_size(Const(1) + Const(1.0)) == 2


# n, l_n as tree / DAG, dl_n/dx raw tree / DAG, simplified tree / DAG, trace nodes,
# adjoint terms of the reverse sweep: measured once, now facts
LOGISTIC = [
    (1, 7, 6, 19, 13, 9, 7, 4, 4),
    (2, 19, 9, 73, 23, 41, 14, 7, 8),
    (3, 43, 12, 217, 33, 129, 21, 10, 12),
    (4, 91, 15, 577, 43, 353, 28, 13, 16),
    (5, 187, 18, 1441, 53, 897, 35, 16, 20),
]


def test_expression_swell_of_the_logistic_map_in_numbers():
    records = expression_swell(n_max=5)
    assert [astuple(r) for r in records] == LOGISTIC


def test_swell_is_exponential_as_a_tree_and_linear_when_shared():
    records = expression_swell(n_max=12)
    for before, after in zip(records, records[1:]):
        assert after.diff_tree >= 2 * before.diff_tree           # at least doubles
        assert after.simplified_tree >= 2 * before.simplified_tree
        assert after.diff_dag - before.diff_dag == 10            # DAG: + 10 per step
        assert after.simplified_dag - before.simplified_dag == 7
        assert after.trace_nodes - before.trace_nodes == 3       # AD: 3 operations a step
        assert after.reverse_terms - before.reverse_terms == 4   # 4 adjoint terms a step
    last = records[-1]
    assert last.diff_tree > 100_000 > 100 > last.trace_nodes


def test_unary_chains_swell_much_less():
    sizes = [r.diff_tree for r in expression_swell(n_max=6, map="sine")]
    assert sizes == [4, 8, 13, 19, 26, 34]  # quadratic: the chain rule copies one argument


def test_walks_visit_shared_nodes_once():
    """l_25's derivative has 7.5 billion nodes as a tree: a walk that visited shared
    subexpressions again would never finish."""
    e = x
    for _ in range(25):
        e = 4 * e * (1 - e)
    d = diff(e, x)
    assert tree_size(d) == 7_549_747_201 and dag_size(d) == 253
    assert tree_size(simplify(d)) > 10 ** 9
    assert float(evaluate(d, {"x": 0.3})) == pytest.approx(ad.grad(to_function(e, [x]))(0.3))


def test_deep_expressions_need_no_recursion():
    e = x
    for k in range(2000):
        e = sin(e) + k
    assert tree_size(diff(e, x)) > 2000
    assert len(str(e)) > 2000 and evaluate(simplify(diff(e, x)), {"x": 0.1}) is not None


def test_plot_swell_is_a_log_scale_figure():
    fig = plot_swell(expression_swell(n_max=6))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 5
    assert list(ax.lines[0].get_ydata()) == [19, 73, 217, 577, 1441, 3457]


# -- pictures ----------------------------------------------------------------------

def test_draw_as_a_tree_repeats_and_as_a_dag_shares():
    d = diff(4 * x * (1 - x), x)
    tree, dag = draw(d), draw(d, as_dag=True)
    count = lambda g: sum(1 for ln in g.source.splitlines() if "[label=" in ln)  # noqa: E731
    assert count(tree) == tree_size(d) == 19
    assert count(dag) == dag_size(d) == 13
    assert "tree: 19 nodes (as a DAG: 13)" in tree.source
    assert "DAG: 13 distinct subexpressions" in dag.source
    assert dag.to_html()  # SVG, or the DOT source with how to install Graphviz
    with pytest.raises(ValueError, match="max_nodes"):
        draw(diff(4 * d * (1 - d), x), max_nodes=50)
