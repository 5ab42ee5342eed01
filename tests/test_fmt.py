"""adlab.fmt: the one way adlab writes numbers for people, and every view using it."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest

import adlab as ad
from adlab import fmt
from adlab.draw import draw, node_expression

DZ_DX1 = 3 + math.cos(2.0)  # 2.5838531634528574, the worked example's dz/dx1


def z(x1, x2):
    return x1 * x2 + ad.sin(x1)


def branch(x):
    if x > 0:
        return x * x
    return -x


def node_line(source: str, name: str) -> str:
    pattern = re.compile(rf'^\s*"?{re.escape(name)}"? \[label=', re.M)
    (line,) = [ln for ln in source.splitlines() if pattern.match(ln)]
    return line


# ---------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------

def test_six_significant_digits_without_trailing_zeros():
    assert fmt.number(6.909297426825682) == "6.9093"
    assert fmt.number(DZ_DX1) == "2.58385"
    assert fmt.number(np.float64(-0.4161468365471424)) == "-0.416147"
    assert fmt.number(0.5) == "0.5"
    assert fmt.number(DZ_DX1, digits=3) == "2.58"
    assert fmt.number(DZ_DX1, digits=12) == "2.58385316345"


def test_whole_floats_integers_and_booleans():
    assert fmt.number(2.0) == "2" and fmt.number(np.float64(-19.0)) == "-19"
    assert fmt.number(3) == "3" and fmt.number(np.int64(1234567)) == "1234567"  # exact
    assert fmt.number(True) == "True" and fmt.number(np.bool_(False)) == "False"


def test_negative_zero_is_zero():
    for x in (-0.0, np.float64(-0.0), np.float32(-0.0), np.array(-0.0)):
        assert fmt.number(x) == "0"
    assert fmt.array(np.array([-0.0, 1.0])) == "[0, 1]"


def test_nan_and_infinities():
    assert [fmt.number(x) for x in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]
    assert fmt.array(np.array([np.nan, -np.inf])) == "[nan, -inf]"


def test_float32_noise_never_shows():
    assert repr(float(np.float32(0.1))) == "0.10000000149011612"  # what must not show
    assert fmt.number(np.float32(0.1)) == "0.1"
    assert fmt.number(np.float32(0.1), digits=17) == "0.1"  # at most the 6 digits it holds
    assert fmt.number(np.float16(0.1), digits=17) == "0.1"
    assert fmt.array(np.array([0.1, 1 / 3], dtype=np.float32)) == "[0.1, 0.333333]"
    assert repr(ad.Var(np.float32(0.1))) == "Var(0.1, grad=None)"


def test_large_and_small_magnitudes_are_scientific():
    assert fmt.number(1e-5) == "1e-05" and fmt.number(0.0001) == "0.0001"
    assert fmt.number(123456.0) == "123456" and fmt.number(1234567.0) == "1.23457e+06"
    assert fmt.number(6.02214076e23) == "6.02214e+23"


def test_other_values():
    assert fmt.number(1 + 2j) == "1+2j"
    assert fmt.number(ad.Var(DZ_DX1)) == "2.58385"  # adlab values are unboxed
    assert fmt.number(None) == "None" and fmt.number("a") == "'a'"
    with pytest.raises(TypeError, match="array"):
        fmt.number(np.ones(3))


def test_arrays_in_numpys_layout_with_numbers_entries():
    assert fmt.array(np.array([1.0, 2.5, DZ_DX1])) == "[1, 2.5, 2.58385]"
    assert fmt.array(np.eye(2)) == "[[1, 0],\n [0, 1]]"
    assert fmt.array(np.array([1, 10])) == "[1, 10]"
    assert fmt.array(np.array([True, False])) == "[True, False]"
    assert fmt.array(2.0) == "2" and fmt.array(np.array(2.0)) == "2"
    assert fmt.array(np.zeros(0)) == "[]"


def test_big_arrays_are_summarized_with_shape_and_dtype():
    assert fmt.array(np.arange(12.0)) == "[" + ", ".join(map(str, range(12))) + "]"
    assert fmt.array(np.arange(20.0)) == "f64[20] [0, 1, 2, ..., 17, 18, 19]"
    big = fmt.array(np.zeros((100, 100), dtype=np.float32))
    assert big.startswith("f32[100, 100] [[0, 0, 0, ..., 0, 0, 0],") and big.count("\n") == 6
    assert fmt.array(np.arange(20.0), threshold=100).startswith("[0, 1, 2, 3,")


def test_compact_for_narrow_places():
    assert fmt.compact(DZ_DX1) == "2.58385"
    assert fmt.compact(np.array([1.0, 2.5])) == "f64[2] [1, 2.5]"
    assert fmt.compact(np.array([[1.0, 2.0], [3.0, 4.0]])) == "f64[2, 2] [[1, 2], [3, 4]]"
    assert fmt.compact(np.zeros((4, 3))) == "f64[4, 3]"  # more than 6 entries: shape only
    assert fmt.compact(np.ones(3), small=2) == "f64[3]"
    assert fmt.compact(np.array([True, False])) == "bool[2] [True, False]"


def test_shape_percent_and_count():
    assert fmt.shape(np.zeros((4, 3))) == "f64[4, 3]" and fmt.shape(2.0) == "scalar"
    assert fmt.shape(np.zeros(2, np.float32)) == "f32[2]"
    assert fmt.shape(np.zeros(2, np.int64)) == "i64[2]"
    assert fmt.shape(np.zeros(2, bool)) == "bool[2]"
    assert fmt.shape(np.zeros(2, complex)) == "c128[2]"
    assert fmt.percent(0.953125) == "95.31%" and fmt.percent(1) == "100.00%"
    assert fmt.count(12288) == "12,288"


# ---------------------------------------------------------------------------------
# Every view writes a number the same way
# ---------------------------------------------------------------------------------

def test_one_value_reads_the_same_in_every_view():
    shown = fmt.number(DZ_DX1)
    assert shown == "2.58385"

    # reprs: Var (reverse mode) and Dual (forward mode)
    x1, x2 = ad.Var(2.0), ad.Var(3.0)
    z(x1, x2).backward()
    assert repr(x1) == f"Var(2, grad={shown})"
    assert repr(z(ad.Dual(2.0, 1.0), ad.Dual(3.0, 0.0))) == f"Dual(6.9093, tangent={shown})"

    # the evaluation-trace table, as text and as HTML
    t = ad.trace(z, 2.0, 3.0)
    table = t.table(seed=(1, 0))
    assert f"v3_dot  =  v1_dot + v2_dot             = {shown}" in str(table)
    assert f">{shown}</td>" in table._repr_html_()

    # the graph: a node's tangent and adjoint, an edge's local partial
    assert f"tangent {shown}<" in node_line(draw(t, mode="tangent").source, "v3")
    assert f"adjoint {shown}<" in node_line(draw(t, mode="adjoint").source, "v-1")
    t_at = ad.trace(lambda x: x * DZ_DX1, 1.0)
    assert f"∂v1/∂v0 = {shown}" in draw(t_at, partials=True).source

    # a trace's listing and its call text, and a guard's message
    tb = ad.trace(branch, DZ_DX1)
    assert f"Trace of branch(x={shown})" in repr(tb)
    assert re.search(rf"v0 = x +{shown}\n", repr(tb))
    with pytest.raises(ad.GuardError) as e:
        tb(-1.0)
    assert f"branch(x={shown}) was traced" in str(e.value)
    assert f"v0 = {shown} when traced, -1 now" in str(e.value)


def test_arrays_read_the_same_in_every_view():
    x = np.array([1.0, -0.0, DZ_DX1])
    shown = fmt.compact(x)
    assert shown == "f64[3] [1, 0, 2.58385]"
    t = ad.trace(lambda v: v * 1.0, x)
    assert f"f(v={shown})" in repr(t) and repr(t).endswith(shown)
    assert f"= {shown}" in str(t.table(seed=(np.ones(3),), out_seed=np.ones(3)))
    src = draw(t).source
    assert "f64[3]" in node_line(src, "v0") and "[1, 0, 2.58385]" in node_line(src, "v0")
    assert repr(ad.Var(x)) == f"Var({fmt.array(x)}, grad=None)"
    assert fmt.array(x) == "[1, 0, 2.58385]"


def test_graph_nodes_write_a_condition_as_the_trace_does_not_as_a_number():
    for x in (2.0, np.array([2.0, -1.0])):
        node = ad.trace(lambda v: ad.where(v > 0, v * v, -v), x).nodes[-1]
        assert node_expression(node) == node.expression() == "where(v0 > 0, v1, v2)"


def test_symbolic_numeric_memory_and_training_texts_use_it():
    import adlab.symbolic as sym

    shown = fmt.number(DZ_DX1)
    assert str(sym.Symbol("x") * DZ_DX1) in (f"x*{shown}", f"{shown}*x")
    memory = ad.saved_memory(lambda a: ad.sum(ad.tanh(a)), np.zeros(2000))
    assert f"{fmt.count(memory.nbytes)} bytes" in str(memory) and "16,000" in str(memory)
    bar = ad.nn.ProgressBar(None, "t", file=io.StringIO(), force=True)
    bar.update(0, DZ_DX1, 0.953125)
    assert f"loss {fmt.number(DZ_DX1)}" in bar.line() and "95.31%" in bar.line()


def test_generated_code_keeps_exact_floats():
    # to_code() is for Python, not for people: a constant must read back exactly
    t = ad.trace(lambda x: x * 0.1234567891234, 1.0)
    assert "0.1234567891234" in t.to_code()
