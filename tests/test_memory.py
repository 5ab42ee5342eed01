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


# -- freeing after the last use, and where the checkpoints sit --------------------

B, W = 64, 32          # one activation: 64 x 32 float64 = 16 KiB, large next to bookkeeping
A = B * W * 8


def chain_problem(L, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, W)),
            [rng.standard_normal((W, W)) / math.sqrt(W) for _ in range(L)])


def placed(Ws, m, k, placement):
    """sum(h_L ** 2) with m layers checkpointed in segments of k at one end of the chain."""
    segment = ad.checkpoint(layers)
    L = len(Ws)
    start = 0 if placement == "input" else L - m

    def f(x):
        h = layers(x, *Ws[:start])
        for i in range(start, start + m, k):
            h = segment(h, *Ws[i:i + k])
        return ad.sum(layers(h, *Ws[start + m:]) ** 2)
    return f


def peak_during(action):
    import tracemalloc
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_model_counts_both_placements():
    from adlab.memory import checkpoint_peak
    assert checkpoint_peak(64, 0, 1) == 64 and checkpoint_peak(64, 64, 8) == 16
    assert checkpoint_peak(16, 7, 7, "input") == 10       # max(9 + 1, 1 + 7)
    assert checkpoint_peak(16, 7, 7, "output") == 17      # 9 + 1 + 7
    assert checkpoint_peak(64, 56, 8) == 15               # max(8 + 7, 7 + 8)
    assert checkpoint_peak(10, 7, 3, "input") == max(3 + 3, 2 + 3, 3 + 1)  # 3, 3, 1
    assert checkpoint_peak(64, 32, 32, "input", per_layer=2) == 65
    with pytest.raises(ValueError):
        checkpoint_peak(4, 5, 1)


def test_segments_at_the_input_end_peak_far_below_the_output_end_and_near_the_model():
    from adlab.memory import checkpoint_peak
    L = 48
    x, Ws = chain_problem(L)
    reference = ad.grad(plain)(x, *Ws)
    for m, k in [(24, 24), (24, 6)]:
        peaks, models = {}, {}
        for placement in ("input", "output"):
            g = ad.grad(placed(Ws, m, k, placement))
            assert np.array_equal(g(x), reference)
            peaks[placement] = peak_during(lambda g=g: g(x)) / A
            # adlab's recording of tanh(h @ W) holds two activations a layer
            model = models[placement] = checkpoint_peak(L, m, k, placement, per_layer=2)
            # the model plus the loss, the adjoints and a rule's temporaries
            assert model <= peaks[placement] <= model + 10, (m, k, placement, peaks, model)
        # the output end keeps the plain activations through the recomputations
        gap = models["output"] - models["input"]
        assert peaks["output"] - peaks["input"] > 0.7 * gap > 0, (peaks, models)
        if k == m:  # half the chain in one segment: max(48 + 1, 1 + 48) against 48 + 1 + 48
            assert peaks["input"] < 0.6 * peaks["output"], peaks


def test_plain_grad_frees_each_node_after_its_last_use():
    # a probe halfway down the chain reads the memory in use when the forward sweep and
    # when the reverse sweep pass it: a one-shot sweep has freed the second half by then
    import tracemalloc
    L = 32
    x, Ws = chain_problem(L)
    seen = []

    def probe(h):
        seen.append(tracemalloc.get_traced_memory()[0])
        return h * 1.0
    marker = ad.checkpoint(probe)

    def f(x):
        h = layers(x, *Ws[:L // 2])
        return ad.sum(layers(marker(h), *Ws[L // 2:]) ** 2)

    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        g = ad.grad(f)(x)
        held_vjp = ad.vjp(f, x)          # a many-use pullback keeps its recording
        seen_vjp = len(seen)
        held_vjp[1](1.0)
    finally:
        tracemalloc.stop()
    assert np.array_equal(g, ad.grad(plain)(x, *Ws))
    forward, backward = (s - start for s in seen[:2])
    assert abs(backward - forward) < 6 * A, (forward / A, backward / A)
    assert forward > 0.8 * L * A  # half the layers, two activations each
    # through ad.vjp the second half is still alive when the sweep reaches the probe
    assert seen[seen_vjp] - seen[seen_vjp - 1] > 0.8 * L * A


def test_the_peak_of_plain_grad_is_the_recording_plus_a_few_activations():
    L = 32
    x, Ws = chain_problem(L)
    f = lambda x: plain(x, *Ws)
    held = peak_during(lambda: ad.vjp(f, x))
    assert peak_during(lambda: ad.grad(f)(x)) < held + 6 * A


def test_a_one_shot_pullback_refuses_a_second_call_and_vjp_keeps_its_contract():
    from adlab.reverse import vjp_once
    x, Ws = deep(3, width=4, batch=2)
    f = lambda x: plain(x, *Ws)
    value, once = vjp_once(f, x)
    first = once(1.0)
    with pytest.raises(ad.AdlabError, match="many times"):
        once(1.0)
    value2, many = ad.vjp(f, x)
    assert value == value2
    assert np.array_equal(many(1.0)[0], first[0]) and np.array_equal(many(2.0)[0],
                                                                      2 * first[0])


def test_nested_halves_need_logarithmic_memory_and_logarithmic_work_per_layer():
    def halves(h, *Ws):
        if len(Ws) <= 1:
            return layers(h, *Ws)
        mid = len(Ws) // 2
        return half(half(h, *Ws[:mid]), *Ws[mid:])
    half = ad.checkpoint(halves)
    peaks, extra = {}, {}
    for L in (16, 64):
        x, Ws = chain_problem(L)
        g = ad.grad(lambda x, Ws=Ws: ad.sum(halves(x, *Ws) ** 2))
        assert np.array_equal(g(x), ad.grad(plain)(x, *Ws))
        peaks[L] = peak_during(lambda g=g, x=x: g(x)) / A
        with ad.count_work() as work:
            g(x)
        with ad.count_work() as plain_work:
            ad.grad(plain)(x, *Ws)
        extra[L] = (work.operations - plain_work.operations) / (2 * L)  # runs per layer
    assert peaks[64] < peaks[16] + 12 and peaks[64] < 0.25 * 2 * 64  # not 4x for 4x layers
    assert extra[16] == 4 and extra[64] == 6  # one more run of every layer per level


# -- binomial checkpointing -------------------------------------------------------

def test_revolve_needs_the_fewest_forward_steps_and_respects_the_binomial_bound():
    from functools import lru_cache

    from adlab.memory import (
        binomial_steps,
        repetitions_needed,
        replay,
        revolve_advances,
        revolve_schedule,
    )

    @lru_cache(None)
    def fewest(n, c):  # the recursion of Griewank's proof, by brute force
        if n == 1:
            return 0
        if c == 1:
            return n * (n - 1) // 2
        return min(j + fewest(n - j, c - 1) + fewest(j, c) for j in range(1, n))

    for n in range(1, 30):
        for c in range(1, 6):
            s = revolve_schedule(n, c)
            assert s.advances == revolve_advances(n, c) == fewest(n, c), (n, c)
            assert s.peak_slots <= c and s.repetitions == repetitions_needed(n, c) or n == 1
    # beta(s, r) steps need r repetitions with s slots; one step more needs r + 1
    for c, r in [(3, 2), (4, 4), (7, 6)]:
        n = binomial_steps(c, r)
        assert repetitions_needed(n, c) == r and repetitions_needed(n + 1, c) == r + 1
        assert revolve_schedule(n, c).repetitions == r
    # log L memory, log L repetitions: 1000 steps with 7 slots, no step run over 6 times
    s = revolve_schedule(1000, 7)
    assert s.repetitions == 6 and s.advances < 5 * 1000
    broken = revolve_schedule(5, 2)
    broken.actions = [a for a in broken.actions if a[0] != "store"]
    with pytest.raises(ValueError):
        replay(broken)
