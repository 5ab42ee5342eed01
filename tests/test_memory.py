"""What reverse mode stores, and checkpointing."""

import math

import numpy as np
import pytest

import adlab as ad


def deep(L=16, width=24, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((width, width)) / math.sqrt(width) for _ in range(L)]
    return rng.standard_normal((batch, width)), Ws


def layers(h, *Ws):
    for W in Ws:
        h = ad.tanh(h @ W)
    return h


def plain(x, *Ws):
    return ad.sum(layers(x, *Ws) ** 2)


def every(k):
    segment = ad.checkpoint(layers)

    def f(x, *Ws):
        h = x
        for i in range(0, len(Ws), k):
            h = segment(h, *Ws[i:i + k])
        return ad.sum(h ** 2)
    return f


def test_curriculum_example_stores_x1_x2_and_the_difference():
    m = ad.saved_memory(lambda x1, x2, x3, x4: (x1 * x2 - (x3 + x4)) ** 2, 1.0, 2.0, 3.0, 4.0)
    assert (m.count, m.nbytes) == (1, 8)  # the difference c, read by the square
    assert (m.input_count, m.input_bytes) == (2, 16)  # x1 and x2, read by the product
    assert m.nodes == ["v3"] and m.n_nodes == 8  # 4 inputs, 4 operations
    assert "1 stored intermediates" in str(m)


def test_stored_memory_grows_with_depth():
    sizes = []
    for L in (4, 8, 16):
        x, Ws = deep(L)
        sizes.append(ad.saved_memory(plain, x, *Ws).nbytes)
    assert sizes[1] > 1.8 * sizes[0] and sizes[2] > 1.8 * sizes[1]


def test_checkpointing_every_sqrt_depth_layers_cuts_stored_bytes_4x_with_identical_gradients():
    L = 16
    x, Ws = deep(L, width=48, batch=32)  # arrays large enough to dominate bookkeeping
    f = every(int(math.sqrt(L)))
    argnums = tuple(range(L + 1))
    g_plain = ad.grad(plain, argnums)(x, *Ws)
    g_ckpt = ad.grad(f, argnums)(x, *Ws)
    assert all(np.array_equal(a, b) for a, b in zip(g_plain, g_ckpt))
    m_plain, m_ckpt = ad.saved_memory(plain, x, *Ws), ad.saved_memory(f, x, *Ws)
    assert m_plain.nbytes >= 4 * m_ckpt.nbytes
    assert m_plain.retained_bytes >= 4 * m_ckpt.retained_bytes


def test_a_checkpoint_is_one_node_that_keeps_its_inputs():
    x, Ws = deep(4, width=3, batch=2)
    t = ad.trace(every(2), x, *Ws)
    ops = [n.op for n in t.nodes if n.op != "input"]
    assert ops == ["checkpoint[layers]", "checkpoint[layers]", "pow", "sum"]
    first = next(n for n in t.nodes if n.op.startswith("checkpoint"))
    assert set(first.inputs) <= set(t.saved())


def test_checkpointed_segments_differentiate_in_every_mode_and_order():
    seg = ad.checkpoint(lambda h, W: ad.sin(h @ W) * h[..., :1])
    rng = np.random.default_rng(3)
    ad.check_grads(lambda h, W: ad.sum(seg(h, W)), (rng.standard_normal((2, 3)),
                                                    rng.standard_normal((3, 3))), order=2)


def test_checkpoint_with_vars_and_on_plain_values():
    seg = ad.checkpoint(lambda a, b: a * ad.exp(b))
    assert seg(2.0, 0.0) == 2.0
    a, b = ad.Var(2.0), ad.Var(0.0)
    seg(a, b).backward()
    assert (a.grad, b.grad) == (1.0, 2.0)
    # a constant argument: only the Var's cotangent is asked for
    c = ad.Var(1.5)
    seg(c, 1.0).backward()
    assert c.grad == pytest.approx(math.e)
