#!/usr/bin/env python
"""adlab benchmarks: speed ratios against micrograd, plain NumPy, HIPS autograd and PyTorch.

Run from the repository root::

    .venv/bin/python bench/run.py              # full run, writes into bench/results/
    .venv/bin/python bench/run.py --quick      # smoke run (writes into bench/results/quick/)
    .venv/bin/python bench/run.py --profile    # also profile adlab where a goal is missed
    .venv/bin/python bench/run.py --only scalar,train --out /tmp/bench
    .venv/bin/python bench/run.py --threads 2  # BLAS and PyTorch both at 2 threads

or from Python (nothing is written unless ``json_path`` or ``out_dir`` is given)::

    from bench.run import run
    report = run(quick=True, verbose=False)

Every result is a *ratio* of two figures taken in this same run (adlab over its peer),
checked against a goal; nothing is an absolute time limit, and a missed goal is
reported, never a failure (the exit status is 1 only when a benchmark errors). Timings
are per call, the minimum over several repeats after a warm-up (the median is in the
JSON), with the garbage collector enabled during the timed calls as in a user's program
and emptied with ``gc.collect()`` before every repeat. All inputs are seeded.

Threads: NumPy's BLAS is pinned to ``--threads`` threads (default 1) through
``OPENBLAS_NUM_THREADS`` and friends, set before NumPy is imported (variables the
caller set already are kept, without ``--threads``), and PyTorch gets the same number
with ``torch.set_num_threads`` and ``torch.set_num_interop_threads``.

The benchmarks (ids for ``--only``):

``scalar``    1. a scalar MLP built from one object per number, micrograd's own
              ``micrograd.nn.MLP(8, [16, 16, 1])`` (ReLU hidden layers) against the same
              network of ``ad.Var`` scalars with the same ops; a step is zero_grad +
              squared-error loss over 8 samples + backward. Goal adlab/micrograd <= 1,
              moonshot <= 0.5.
``grad``      2. ``ad.value_and_grad`` of a tanh MLP's log-softmax cross-entropy
              (batch 128, layers 64-128-64-10, float64) over the same loss in plain
              NumPy. Goal <= 3.
``jvp``       3. ``ad.jvp`` of the same loss, tangent on the first weight matrix, over
              the plain NumPy loss. Goal <= 3.
``chain``     4. time per tape node of a chain of 10^4 and of 10^6 scalar operations
              (build + backward): the ratio of the two per-node times. Goal within
              1.5x either way through ``ad.grad``, and at most 1.3 for a top-level
              ``ad.Var`` tape with the GC enabled as users have it (adlab.tapegc
              spaces out full collections while a large user tape is alive).
              Reported with the GC disabled too.
``autograd``  5. adlab's ``value_and_grad`` of benchmark 2 over HIPS autograd's.
              Informational; goal < 1.
``train``     6. one training step (forward, cross-entropy from logits, backward, SGD
              update, lr 0.1) of relu MLPs 784-256-128-10 (random data) and
              64-128-64-10 (the digits of ``adlab.datasets.load_digits``), batch 128,
              float32 and float64: adlab (the faster of ``nn.MLP`` + ``optim.SGD`` and
              ``value_and_grad`` + a NumPy update; the other is shown as info) over
              PyTorch on the CPU (goal <= 1.5 on 784-256-128-10, info on the digits)
              and over HIPS autograd (goal < 1). Same initial weights and batches in
              every engine; losses checked to agree before timing.
``ckpt``      7. checkpointing: the gradient of ``sum(h**2)``, ``h = tanh(h @ W_i)`` over
              64 layers (width 256, batch 64, float64) w.r.t. ``x`` and every ``W_i``,
              with ``ad.checkpoint`` every 8 layers over plain reverse mode: stored
              bytes (``ad.saved_memory``: ``nbytes``, ``retained_bytes``; goal cut
              >= 4x, i.e. ratio <= 0.25) and time (goal <= 2); gradients must be
              identical (``np.array_equal``).
``grade``     8. ``course grade`` of a class of honest submissions (the released
              ``04_reverse_mode`` notebook with the reference solutions; 20, or 6 with
              ``--quick``), each run a subprocess as a teacher types it: seconds of
              ``-j 2`` over ``-j 1`` (and ``-j os.cpu_count()`` on more cores, info).
              Every run must give full marks to every submission. Goal: speed-up
              >= 1.8 on 2 cores, i.e. ratio <= 0.556 (see ``bench/grading.py``).

Output (into ``--out DIR``, default ``bench/results``, ``bench/results/quick`` with
``--quick``): ``results.json`` (every figure, the timings' samples, the machine),
``results.md`` (the table in Markdown, for the README) and one PNG per benchmark
(``1_scalar.png``, ``2_grad.png``, ``3_jvp.png``, ``4_chain.png``,
``5_autograd.png``, ``6_train.png``, ``7_checkpoint.png``, none for 8; matplotlib,
Agg backend).
The table is printed as text and, at the end, in Markdown.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import statistics
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Small matrices, 2 cores, other processes: a multithreaded BLAS then spends most of its
# time waiting for its threads (a 5x slower NumPy baseline was seen). One BLAS thread
# for both sides of every ratio, unless the caller set the variables already.
_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS")


def _threads_arg(argv: list[str]) -> str | None:
    """The value of ``--threads`` on the command line (read before NumPy is imported)."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


if __name__ == "__main__" and "numpy" not in sys.modules:
    _n = _threads_arg(sys.argv[1:])
    if _n is not None and not (_n.isdigit() and int(_n) > 0):
        sys.exit(f"run.py: --threads takes a positive integer, got {_n!r}")
    for _v in _BLAS_VARS:
        if _n is not None:
            os.environ[_v] = _n
        else:
            os.environ.setdefault(_v, "1")
    BLAS_NOTE = "BLAS threads: " + ", ".join(f"{v}={os.environ[v]}" for v in _BLAS_VARS)
else:
    BLAS_NOTE = ("BLAS threads: not set by bench.run (NumPy may already be loaded); "
                 + ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in _BLAS_VARS))

import numpy as np  # noqa: E402

import adlab as ad  # noqa: E402
from bench import peers  # noqa: E402
from bench import workloads as wl  # noqa: E402
from bench.timing import (  # noqa: E402
    GcMonitor,
    fmt_bytes,
    fmt_time,
    gc_cost,
    measure,
    measure_many,
    measure_pair,
    time_once,
)

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("scalar", "grad", "jvp", "chain", "autograd", "train", "ckpt", "grade")
DEFAULT_OUT = HERE / "results"


# ---------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    quick: bool
    repeats: int = 7            # timed repeats per measurement
    min_time: float = 0.25      # seconds per repeat (calls per repeat are calibrated)
    warmup: int = 2             # untimed calls before calibrating
    seed: int = 0
    # 1. scalar MLP
    scalar_nin: int = 8
    scalar_layers: tuple = (16, 16, 1)
    scalar_batch: int = 8
    # 2, 3, 5. array MLP
    mlp_sizes: tuple = (64, 128, 64, 10)
    mlp_batch: int = 128
    # 4. chain of scalar operations
    chain_small: int = 10**4
    chain_large: int = 10**6
    chain_small_repeats: int = 15
    chain_large_repeats: int = 3
    chain_mid: int = 10**5      # for the plot of per-node time against n only
    chain_mid_repeats: int = 5
    # 6. training step: (sizes, data) per model, dtypes, batch, SGD learning rate, and
    # how many random batches the steps cycle through
    train_models: tuple = (((784, 256, 128, 10), "random"), ((64, 128, 64, 10), "digits"))
    train_dtypes: tuple = ("float32", "float64")
    train_batch: int = 128
    train_lr: float = 0.1
    train_pool: int = 8
    train_torch_goal: float = 1.5   # on the first (wide) model
    # 7. checkpointing: a chain of tanh(h @ W_i) layers
    ckpt_layers: int = 64
    ckpt_every: int = 8
    ckpt_width: int = 256
    ckpt_batch: int = 64
    # 8. course grade -j 2 over -j 1: submissions, timed runs per -j, the goal
    grade_submissions: int = 20
    grade_repeats: int = 1
    grade_speedup_goal: float = 1.8


FULL = Config(quick=False)
QUICK = Config(quick=True, repeats=2, min_time=0.01, warmup=1, chain_small=10**3,
               chain_large=10**5, chain_small_repeats=3, chain_large_repeats=1,
               chain_mid=10**4, chain_mid_repeats=2, train_pool=2, ckpt_layers=16,
               ckpt_every=4, ckpt_width=64, ckpt_batch=16, grade_submissions=6)


# ---------------------------------------------------------------------------------
# Goals and result rows
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    text: str
    lo: float | None = None     # ratio must be >= lo (or > lo when strict)
    hi: float | None = None     # ratio must be <= hi (or < hi when strict)
    strict: bool = False

    def met(self, ratio: float) -> bool:
        if self.lo is not None and (ratio <= self.lo if self.strict else ratio < self.lo):
            return False
        if self.hi is not None and (ratio >= self.hi if self.strict else ratio > self.hi):
            return False
        return True


def _row(rid: str, bench: str, title: str, *, adlab_s=None, peer=None, peer_s=None,
         medians: tuple | None = None, goal: Goal | None = None,
         moonshot: Goal | None = None, informational=False,
         status="ok", reason=None, details=None, unit: str = "s") -> dict:
    ratio = adlab_s / peer_s if adlab_s is not None and peer_s else None
    ratio_median = medians[0] / medians[1] if medians else None
    if status != "ok":
        verdict = status
    elif goal is None or ratio is None:
        verdict = "info"
    else:
        verdict = "meets goal" if goal.met(ratio) else "misses goal"
        if moonshot is not None:
            verdict += "; meets moonshot" if moonshot.met(ratio) else "; misses moonshot"
    return {
        "id": rid, "benchmark": bench, "title": title, "status": status, "reason": reason,
        "unit": unit, "adlab_s": adlab_s, "peer": peer, "peer_s": peer_s, "ratio": ratio,
        "ratio_of_medians": ratio_median,
        "goal": None if goal is None else asdict(goal),
        "moonshot": None if moonshot is None else asdict(moonshot),
        "informational": informational, "verdict": verdict, "details": details or {},
    }


def _skipped(rid, bench, title, peer, why) -> dict:
    return _row(rid, bench, title, peer=peer, status="skipped", reason=why)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------
# The benchmarks. Each returns (rows, {profile name: adlab callable}).
# ---------------------------------------------------------------------------------


def bench_scalar(cfg: Config):
    """1. scalar MLP, micrograd vs the same network of ad.Var scalars."""
    nin, layers, batch = cfg.scalar_nin, list(cfg.scalar_layers), cfg.scalar_batch
    title = f"scalar MLP {nin}-{'-'.join(map(str, layers))}, batch {batch}"
    try:
        import micrograd  # noqa: F401
        from micrograd.nn import MLP  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means: skip
        why = f"micrograd is not importable ({type(e).__name__}: {e})"
        return [_skipped("scalar_step_gc_on", "1", f"{title}: step", "micrograd", why)], {}

    mg = wl.micrograd_mlp(nin, layers, cfg.seed)
    adm = wl.AdMLP.from_micrograd(mg)
    xs, ys = wl.scalar_data(nin, batch, cfg.seed)
    wl.check_scalar_models(mg, adm, xs, ys)

    # the same arithmetic: count the operations each engine records for one loss
    n_params = len(mg.parameters())
    n_ops = wl.expected_scalar_ops(nin, layers, batch)
    n_mg = wl.micrograd_ops(mg, xs, ys)
    n_ad = wl.adlab_ops(adm, xs, ys)
    if not n_mg == n_ad == n_ops:
        raise AssertionError(f"op counts differ: micrograd {n_mg}, adlab {n_ad}, "
                             f"expected {n_ops}")

    step_a = lambda: wl.scalar_step(adm, xs, ys)
    step_m = lambda: wl.scalar_step(mg, xs, ys)
    fwd_a = lambda: wl.scalar_loss(adm, xs, ys)
    fwd_m = lambda: wl.scalar_loss(mg, xs, ys)
    kw = dict(repeats=cfg.repeats, min_time=cfg.min_time, warmup=cfg.warmup)
    # micrograd's graphs are reference cycles (each node's _backward closure refers to
    # the node), so only the cyclic GC frees them; adlab's tapes are freed by reference
    # counting. Both GC states are reported: "on" is what a user's program pays.
    t = {}
    for gc_on in (True, False):
        t["step", gc_on] = measure_pair(step_a, step_m, gc_enabled=gc_on, **kw)
        t["fwd", gc_on] = measure_pair(fwd_a, fwd_m, gc_enabled=gc_on, **kw)
    a_on, m_on = t["step", True]
    gc_steps = {"adlab": gc_cost(step_a, max(a_on.number, 10)),
                "micrograd": gc_cost(step_m, max(m_on.number, 10))}
    common = {"gc_cost_per_step": gc_steps,
              "micrograd_version": _version("micrograd"), "parameters": n_params,
              "ops_per_loss": n_ops, "nonlinearity": "relu (micrograd.nn default)",
              "loss": "sum of squared errors", "grad reset": "Var.zero_grad() per parameter"}
    rows = []
    for what, gc_on in (("step", True), ("step", False), ("fwd", True), ("fwd", False)):
        a, m = t[what, gc_on]
        label = "step (zero_grad+fwd+bwd)" if what == "step" else "forward only"
        main = what == "step" and gc_on
        rows.append(_row(
            f"scalar_{what}_gc_{'on' if gc_on else 'off'}", "1",
            f"{title}: {label}, gc {'on' if gc_on else 'off'}", adlab_s=a.best,
            peer="micrograd", peer_s=m.best, medians=(a.median, m.median),
            goal=Goal("<= 1", hi=1.0) if what == "step" else None,
            moonshot=Goal("<= 0.5", hi=0.5) if main else None, informational=not main,
            details={**(common if main else {}), "adlab": a.as_dict(),
                     "peer_timing": m.as_dict(), "adlab_per_op_s": a.best / n_ops,
                     "micrograd_per_op_s": m.best / n_ops}))
    (sa, sm), (fa, fm) = t["step", False], t["fwd", False]
    rows.append(_row("scalar_bwd_gc_off", "1", f"{title}: zero_grad+bwd (step - fwd), gc off",
                     adlab_s=sa.best - fa.best, peer="micrograd", peer_s=sm.best - fm.best,
                     informational=True,
                     details={"derived": "gc-off step minimum - gc-off forward minimum"}))
    return rows, {"scalar_step_gc_on": step_a, "scalar_step_gc_off": step_a}


def _mlp_setup(cfg: Config):
    params, X, Y = wl.mlp_problem(cfg.mlp_sizes, cfg.mlp_batch, cfg.seed)
    desc = (f"MLP {'-'.join(map(str, cfg.mlp_sizes))}, batch {cfg.mlp_batch}, tanh, "
            "log_softmax CE, float64")
    return params, X, Y, desc


def bench_grad(cfg: Config):
    """2. ad.value_and_grad of the MLP loss over the loss alone in NumPy."""
    params, X, Y, desc = _mlp_setup(cfg)
    loss_np = lambda: wl.mlp_loss(params, X, Y, wl.NUMPY)
    vg = ad.value_and_grad(lambda p, X, Y: wl.mlp_loss(p, X, Y, wl.ADLAB))
    loss_ad = lambda: vg(params, X, Y)

    value, grads = loss_ad()
    ref = loss_np()
    if not np.isclose(float(value), ref, rtol=1e-12):
        raise AssertionError(f"value_and_grad value {value!r} != NumPy loss {ref!r}")
    if [np.shape(g) for g in grads] != [p.shape for p in params]:
        raise AssertionError("value_and_grad: gradient shapes do not match the parameters")
    ta, tn = measure_pair(loss_ad, loss_np, repeats=cfg.repeats, min_time=cfg.min_time,
                          warmup=cfg.warmup)
    row = _row("grad_mlp", "2", f"value_and_grad({desc})", adlab_s=ta.best,
               peer="numpy loss only", peer_s=tn.best, medians=(ta.median, tn.median),
               goal=Goal("<= 3", hi=3.0),
               details={"adlab": ta.as_dict(), "peer_timing": tn.as_dict()})
    # the floor: the same gradient backpropagated by hand in NumPy, over the loss alone
    by_hand = lambda: wl.mlp_loss_and_grad_by_hand(params, X, Y)
    hand_value, hand_grads = by_hand()
    for g_ad, g_hand in zip(grads, hand_grads):
        if not np.allclose(g_ad, g_hand, rtol=1e-10, atol=1e-12):
            raise AssertionError("the hand-written NumPy gradient differs from adlab's")
    th, tn2 = measure_pair(by_hand, loss_np, repeats=cfg.repeats, min_time=cfg.min_time,
                           warmup=cfg.warmup)
    floor = _row("grad_mlp_by_hand", "2", "  floor: the same, backpropagated by hand in NumPy",
                 adlab_s=th.best, peer="numpy loss only", peer_s=tn2.best,
                 medians=(th.median, tn2.median), goal=None, informational=True,
                 details={"by_hand": th.as_dict(), "peer_timing": tn2.as_dict()})
    return [row, floor], {"grad_mlp": loss_ad}


def bench_jvp(cfg: Config):
    """3. ad.jvp of the MLP loss (tangent on W1) over the loss alone in NumPy."""
    params, X, Y, desc = _mlp_setup(cfg)
    rng = np.random.default_rng(cfg.seed + 1)
    V = rng.standard_normal(params[0].shape)
    rest = params[1:]
    loss_np = lambda: wl.mlp_loss(params, X, Y, wl.NUMPY)

    # the loss as a function of W1 alone: the other parameters are constants
    f_w1 = lambda W1: wl.mlp_loss([W1, *rest], X, Y, wl.ADLAB)
    jvp_w1 = lambda: ad.jvp(f_w1, (params[0],), (V,))
    # the loss of all parameters, with zero tangents on all but W1 (as JAX users write it)
    f_all = lambda p: wl.mlp_loss(p, X, Y, wl.ADLAB)
    tangents = [V] + [np.zeros_like(p) for p in rest]
    jvp_all = lambda: ad.jvp(f_all, (params,), (tangents,))

    # check: same value as NumPy, the two forms agree, and JVP == <grad, V> (reverse mode)
    ref = loss_np()
    v1, t1 = jvp_w1()
    v2, t2 = jvp_all()
    _, grads = ad.value_and_grad(f_all)(params)
    dot = float(np.sum(grads[0] * V))
    for v in (v1, v2):
        if not np.isclose(float(v), ref, rtol=1e-12):
            raise AssertionError(f"jvp value {v!r} != NumPy loss {ref!r}")
    for t in (t1, t2):
        if not np.isclose(float(t), dot, rtol=1e-8, atol=1e-12):
            raise AssertionError(f"jvp tangent {t!r} != <grad W1, V> = {dot!r}")

    kw = dict(repeats=cfg.repeats, min_time=cfg.min_time, warmup=cfg.warmup)
    ta, tn = measure_pair(jvp_w1, loss_np, **kw)
    tb = measure(jvp_all, **kw)
    rows = [
        _row("jvp_mlp", "3", f"jvp({desc}), tangent on W1", adlab_s=ta.best,
             peer="numpy loss only", peer_s=tn.best, medians=(ta.median, tn.median),
             goal=Goal("<= 3", hi=3.0),
             details={"adlab": ta.as_dict(), "peer_timing": tn.as_dict(),
                      "form": "jvp(lambda W1: loss([W1, *rest]), (W1,), (V,))"}),
        _row("jvp_mlp_all", "3", "  same, all params as primals, zero tangents but W1",
             adlab_s=tb.best, peer="numpy loss only", peer_s=tn.best,
             medians=(tb.median, tn.median), informational=True,
             details={"adlab": tb.as_dict(),
                      "form": "jvp(lambda p: loss(p), (params,), ([V, 0, 0, ...],))"}),
    ]
    return rows, {"jvp_mlp": jvp_w1}


def _chain_runs(n: int, repeats: int, gc_enabled: bool, via_grad: bool = False) -> dict:
    """Build-and-backward a chain of ``n`` ops ``repeats`` times; free outside the timer."""
    expected = 0.999 ** (n // 2)
    build, free = [], []
    monitor = GcMonitor()  # collections during the timed build + backward only
    work = (lambda: wl.chain_grad(n)) if via_grad else (lambda: wl.chain(n))
    for _ in range(repeats):
        t, out = time_once(work, gc_enabled=gc_enabled, monitor=monitor)
        x = out[0]
        dx = x if via_grad else x.grad
        if not np.isclose(float(dx), expected, rtol=1e-9):
            raise AssertionError(f"chain of {n}: dx = {dx!r}, expected {expected!r}")
        t0 = time.perf_counter()
        out = x = None  # frees the whole tape (refcounting; no cycles expected)
        free.append(time.perf_counter() - t0)
        build.append(t)
    gc.collect()
    return {"n_ops": n, "gc_enabled": gc_enabled, "repeats": repeats,
            "per_node_best_s": min(build) / n,
            "per_node_median_s": statistics.median(build) / n,
            "run_seconds": build, "free_per_node_best_s": min(free) / n,
            "gc": monitor.as_dict()}


def _bytes_per_node(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = wl.chain(n)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del out
    return (after - before) / n


def bench_chain(cfg: Config):
    """4. per-node time of a long chain over a short one (build + backward)."""
    small, large = cfg.chain_small, cfg.chain_large
    wl.chain(1000)  # warm-up
    res, mid = {}, {}
    for gc_on in (True, False):
        res[gc_on] = (_chain_runs(small, cfg.chain_small_repeats, gc_on),
                      _chain_runs(large, cfg.chain_large_repeats, gc_on))
        mid[gc_on] = _chain_runs(cfg.chain_mid, cfg.chain_mid_repeats, gc_on)
    # through ad.grad, with the collector on as users have it (adlab pauses it inside)
    res["grad"] = (_chain_runs(small, cfg.chain_small_repeats, True, via_grad=True),
                   _chain_runs(large, cfg.chain_large_repeats, True, via_grad=True))
    mid["grad"] = _chain_runs(cfg.chain_mid, cfg.chain_mid_repeats, True, via_grad=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bpn = _bytes_per_node(small)
    goal = Goal("1/1.5 .. 1.5", lo=1 / 1.5, hi=1.5)
    goals = {"grad": goal, True: Goal("<= 1.3", hi=1.3), False: goal}
    rows = []
    for key in ("grad", True, False):
        s, lg = res[key]
        state = {"grad": "ad.grad", True: "ad.Var + backward(), gc on",
                 False: "ad.Var + backward(), gc off"}[key]
        rows.append(_row(
            "chain_" + {"grad": "grad", True: "gc_on", False: "gc_off"}[key], "4",
            f"per node, chain of {large:.0e} vs {small:.0e} ops ({state})".replace("+0", ""),
            adlab_s=lg["per_node_best_s"], peer=f"{small:.0e} chain".replace("+0", ""),
            peer_s=s["per_node_best_s"],
            medians=(lg["per_node_median_s"], s["per_node_median_s"]), goal=goals[key],
            informational=key is False,
            details={"op": "y = y * 0.999 + 0.001 (2 nodes per step), then backward",
                     "timed": "build + backward; freeing the tape is timed separately",
                     "small": s, "large": lg, "mid (plot only)": mid[key],
                     "peak_rss_mb": rss_mb,
                     "traced_bytes_per_node": bpn}))
    return rows, {"chain_gc_on": lambda: wl.chain(large)}


def bench_autograd(cfg: Config):
    """5. adlab's value_and_grad of the MLP loss over HIPS autograd's."""
    title = "value_and_grad(MLP of bench 2): adlab vs autograd"
    try:
        import autograd

        ns = wl.autograd_namespace()
    except Exception as e:  # noqa: BLE001
        why = f"HIPS autograd is not importable ({type(e).__name__}: {e})"
        return [_skipped("autograd_mlp", "5", title, "autograd", why)], {}
    params, X, Y, desc = _mlp_setup(cfg)
    vg_ad = ad.value_and_grad(lambda p, X, Y: wl.mlp_loss(p, X, Y, wl.ADLAB))
    vg_ag = autograd.value_and_grad(lambda p, X, Y: wl.mlp_loss(p, X, Y, ns))
    run_ad = lambda: vg_ad(params, X, Y)
    run_ag = lambda: vg_ag(params, X, Y)

    va, ga = run_ad()
    vb, gb = run_ag()
    if not np.isclose(float(va), float(vb), rtol=1e-12):
        raise AssertionError(f"loss: adlab {va!r} != autograd {vb!r}")
    for i, (a, b) in enumerate(zip(ga, gb)):
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12):
            raise AssertionError(f"gradient {i}: adlab and autograd differ "
                                 f"(max abs diff {np.max(np.abs(a - b)):.3g})")
    ta, tb = measure_pair(run_ad, run_ag, repeats=cfg.repeats, min_time=cfg.min_time,
                          warmup=cfg.warmup)
    row = _row("autograd_mlp", "5", title, adlab_s=ta.best, peer="autograd",
               peer_s=tb.best, medians=(ta.median, tb.median),
               goal=Goal("< 1 (info)", hi=1.0, strict=True),
               informational=True,
               details={"autograd_version": _version("autograd"), "adlab": ta.as_dict(),
                        "peer_timing": tb.as_dict()})
    return [row], {"autograd_mlp": run_ad}


def bench_train(cfg: Config):
    """6. one MLP training step: adlab (nn or functional) over PyTorch and HIPS autograd."""
    try:
        from adlab import nn, optim  # noqa: F401
    except Exception as e:  # noqa: BLE001
        why = f"adlab.nn / adlab.optim are not importable ({type(e).__name__}: {e})"
        return [_skipped("train", "6", "MLP training step", "torch, autograd", why)], {}
    missing = {}
    for peer, load in (("torch", peers.import_torch), ("autograd", _import_autograd)):
        try:
            load()
        except Exception as e:  # noqa: BLE001
            missing[peer] = str(e)
    rows, targets = [], {}
    for m, (sizes, data) in enumerate(cfg.train_models):
        for dname in cfg.train_dtypes:
            try:
                _train_config(cfg, m, sizes, data, dname, missing, rows, targets)
            except Exception as e:  # noqa: BLE001 - report it, run the other configs
                rows.append(_row(f"train_{sizes[0]}_{dname}", "6",
                                 f"train step {'-'.join(map(str, sizes))} {dname}",
                                 status="error", reason=f"{type(e).__name__}: {e}",
                                 details={"traceback": traceback.format_exc()}))
                traceback.print_exc()
    return rows, targets


def _train_config(cfg, m, sizes, data, dname, missing, rows, targets):
    """Benchmark 6 for one model and dtype: appends rows, adds profile targets."""
    from bench import training as tr

    dtype = np.dtype(dname).type
    prob = tr.make_problem(sizes, dtype, cfg.train_batch, cfg.seed, data,
                           cfg.train_pool)
    tag = f"train_{sizes[0]}_f{np.dtype(dtype).itemsize * 8}"
    desc = f"{prob.name}, {np.dtype(dtype).name}, batch {cfg.train_batch}"
    names = [k for k in tr.ENGINES if k not in missing]
    # check on one set of engines, time fresh ones (same start, same batches)
    check = tr.check_agreement({k: tr.BUILDERS[k](prob, cfg.train_lr)
                                for k in names}, prob)
    engines = {k: tr.BUILDERS[k](prob, cfg.train_lr) for k in names}
    t = measure_many({k: e.step for k, e in engines.items()}, repeats=cfg.repeats,
                     min_time=cfg.min_time, warmup=cfg.warmup)
    final = {k: e.loss_value(e.step()) for k, e in engines.items()}
    best = min(("adlab_nn", "adlab_fn"), key=lambda k: t[k].best)
    other = "adlab_fn" if best == "adlab_nn" else "adlab_nn"
    common = {
        "data": prob.data, "notes": prob.notes, "lr": cfg.train_lr,
        "adlab_path": tr.LABELS[best], "other_adlab_path": tr.LABELS[other],
        "timings": {k: v.as_dict() for k, v in t.items()},
        "check": check, "loss_after_timing": final,
        "versions": {k: e.version for k, e in engines.items()},
        "threads": {"blas": BLAS_NOTE, "torch": peers.torch_threads_note()},
    }
    title = f"train step {desc}: {tr.LABELS[best]}"
    a = t[best]
    wide = m == 0
    for peer in ("torch", "autograd"):
        rid = f"{tag}_{peer}"
        ptitle = f"{title} vs {tr.LABELS[peer]}"
        if peer in missing:
            rows.append(_skipped(rid, "6", f"train step {desc}", tr.LABELS[peer],
                                 missing[peer]))
            continue
        p = t[peer]
        if peer == "autograd":
            goal = Goal("< 1", hi=1.0, strict=True)
        elif wide:  # the goal against PyTorch is on the first (wide) model only
            goal = Goal(f"<= {cfg.train_torch_goal:g}", hi=cfg.train_torch_goal)
        else:
            goal = None
        label = f"{tr.LABELS[peer]} {engines[peer].version}"
        rows.append(_row(rid, "6", ptitle, adlab_s=a.best, peer=label,
                         peer_s=p.best, medians=(a.median, p.median), goal=goal,
                         details={**common, "adlab": a.as_dict(),
                                  "peer_timing": p.as_dict()}))
        targets[rid] = engines[best].step
    ref = "torch" if "torch" in t else ("autograd" if "autograd" in t else None)
    if ref is None:  # no peer at all: show adlab's own figure
        rows.append(_row(f"{tag}_adlab", "6", f"{title} (no peer installed)",
                         adlab_s=a.best, informational=True,
                         details={**common, "adlab": a.as_dict()}))
    o = t[other]
    rows.append(_row(
        f"{tag}_other", "6", f"  info: the other adlab path, {tr.LABELS[other]}",
        adlab_s=o.best, peer=None if ref is None else tr.LABELS[ref],
        peer_s=None if ref is None else t[ref].best,
        medians=None if ref is None else (o.median, t[ref].median),
        informational=True, details={"adlab": o.as_dict()}))
    targets[f"{tag}_other"] = engines[other].step


def _import_autograd():
    try:
        import autograd  # noqa: F401
    except Exception as e:  # noqa: BLE001
        raise ImportError(f"HIPS autograd is not importable ({type(e).__name__}: {e})") \
            from None


def _peak_bytes(fn: Callable[[], object]) -> int:
    """Peak memory allocated (tracemalloc) while ``fn()`` runs, above what was there before."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del out
    return peak


def bench_checkpoint(cfg: Config):
    """7. a deep tanh chain, plain reverse mode vs ad.checkpoint every k layers."""
    L, k, width, batch = cfg.ckpt_layers, cfg.ckpt_every, cfg.ckpt_width, cfg.ckpt_batch
    x, Ws = wl.deep_chain_problem(L, width, batch, cfg.seed)
    ckpt = wl.deep_chain_checkpointed(k)
    argnums = tuple(range(L + 1))  # x and every W_i
    vg_plain = ad.value_and_grad(wl.deep_chain, argnums)
    vg_ckpt = ad.value_and_grad(ckpt, argnums)
    run_plain = lambda: vg_plain(x, *Ws)
    run_ckpt = lambda: vg_ckpt(x, *Ws)

    (vp, gp), (vc, gc_) = run_plain(), run_ckpt()
    same = [bool(np.array_equal(a, b)) for a, b in zip(gp, gc_)]
    if not (float(vp) == float(vc) and all(same) and len(gp) == len(gc_) == L + 1):
        raise AssertionError(f"checkpointing changed the result: value {vp!r} vs {vc!r}, "
                             f"{same.count(False)} of {len(same)} gradients differ")
    grad_bytes = sum(np.asarray(g).nbytes for g in gp)
    del gp, gc_
    m_plain = ad.saved_memory(wl.deep_chain, x, *Ws)
    m_ckpt = ad.saved_memory(ckpt, x, *Ws)
    peak_plain, peak_ckpt = _peak_bytes(run_plain), _peak_bytes(run_ckpt)
    tc, tp = measure_pair(run_ckpt, run_plain, repeats=cfg.repeats, min_time=cfg.min_time,
                          warmup=cfg.warmup)
    desc = (f"{L} layers tanh(h @ W), width {width}, batch {batch}, float64, "
            f"checkpoint every {k}")
    common = {"layers": L, "every": k, "width": width, "batch": batch,
              "gradients_identical": True, "n_gradients": len(same),
              "saved_memory_plain": {f: getattr(m_plain, f) for f in
                                     ("count", "nbytes", "input_count", "input_bytes",
                                      "retained_bytes", "n_nodes")},
              "saved_memory_checkpointed": {f: getattr(m_ckpt, f) for f in
                                            ("count", "nbytes", "input_count",
                                             "input_bytes", "retained_bytes", "n_nodes")},
              "gradient_bytes": grad_bytes, "peak_plain": peak_plain,
              "peak_checkpointed": peak_ckpt,
              "time_plain": tp.as_dict(), "time_checkpointed": tc.as_dict()}
    cut = Goal("<= 0.25 (cut >= 4x)", hi=0.25)
    peer = "plain reverse mode"
    rows = [
        _row("ckpt_nbytes", "7", f"{desc}: stored intermediates (saved_memory.nbytes)",
             adlab_s=m_ckpt.nbytes, peer=peer, peer_s=m_plain.nbytes, goal=cut, unit="B",
             details=common),
        _row("ckpt_retained", "7", "  same: bytes the recording held (.retained_bytes)",
             adlab_s=m_ckpt.retained_bytes, peer=peer, peer_s=m_plain.retained_bytes,
             goal=cut, unit="B"),
        _row("ckpt_peak", "7", "  info: peak allocated during value_and_grad (tracemalloc, "
             "gradients included)", adlab_s=peak_ckpt, peer=peer, peer_s=peak_plain,
             informational=True, unit="B"),
        _row("ckpt_time", "7", "  same: time of value_and_grad (gradients identical)",
             adlab_s=tc.best, peer=peer, peer_s=tp.best, medians=(tc.median, tp.median),
             goal=Goal("<= 2", hi=2.0)),
    ]
    return rows, {"ckpt_time": run_ckpt}


def bench_grade(cfg: Config):
    """8. `course grade` of a class in subprocesses: -j 2 (and -j cores) over -j 1."""
    from bench import grading

    n, cores, goal = cfg.grade_submissions, os.cpu_count() or 1, cfg.grade_speedup_goal
    jobs = [1, 2] + ([cores] if cores > 2 else [])
    m = grading.measure(n, jobs, cfg.grade_repeats)
    best = m["best_s"]
    details = {**m, "cpu_count": cores, "goal_speedup": goal,
               "speedup": {j: best[1] / best[j] for j in jobs},
               "submissions_per_s": {j: n / best[j] for j in jobs},
               "blas": BLAS_NOTE + " (inherited by the graders)"}
    title = (f"course grade, {n} solved copies of {grading.NOTEBOOK}, {cores} core(s): "
             "-j 2 vs -j 1")
    rows = [_row("grade_j2", "8", title, adlab_s=best[2], peer="-j 1", peer_s=best[1],
                 goal=Goal(f"<= {1 / goal:.3f} (speed-up >= {goal:g}x)", hi=1 / goal),
                 informational=cores < 2, details=details)]
    if cores > 2:
        rows.append(_row(f"grade_j{cores}", "8", f"  info: -j {cores} (all cores) vs -j 1",
                         adlab_s=best[cores], peer="-j 1", peer_s=best[1],
                         informational=True))
    return rows, {}  # the work is in subprocesses: nothing for cProfile here


_BENCH_FUNCS = {"scalar": bench_scalar, "grad": bench_grad, "jvp": bench_jvp,
                "chain": bench_chain, "autograd": bench_autograd, "train": bench_train,
                "ckpt": bench_checkpoint, "grade": bench_grade}


# ---------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------


_HEAD = ("#", "benchmark", "adlab", "peer", "peer figure", "ratio", "(medians)", "goal",
         "verdict")


def _fmt(value, unit: str) -> str:
    return fmt_bytes(value) if unit == "B" else fmt_time(value)


def _cells(r: dict) -> tuple:
    """One row of the table as text cells (see :data:`_HEAD`)."""
    goal = r["goal"]["text"] if r["goal"] else "-"
    if r["moonshot"]:
        goal += f" (moonshot {r['moonshot']['text']})"
    if r["status"] != "ok":
        return (r["benchmark"], r["title"], "-", r["peer"] or "-", "-", "-", "-", goal,
                f"{r['status']}: {r['reason']}")
    unit = r.get("unit", "s")
    ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
    rmed = "-" if r["ratio_of_medians"] is None else f"({r['ratio_of_medians']:.2f})"
    verdict = r["verdict"] + (" (informational)" if r["informational"]
                              and r["verdict"] != "info" else "")
    return (r["benchmark"], r["title"], _fmt(r["adlab_s"], unit), r["peer"] or "-",
            _fmt(r["peer_s"], unit), ratio, rmed, goal, verdict)


def _table(rows: list[dict]) -> str:
    lines = [_cells(r) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(_HEAD, *lines)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [fmt(_HEAD), fmt(["-" * w for w in widths])]
    out += [fmt(line) for line in lines]
    return "\n".join(out)


def markdown_table(rows: list[dict]) -> str:
    """The table as GitHub Markdown (ratio and ratio of medians in one column)."""
    head = ("#", "benchmark", "adlab", "peer", "peer figure", "ratio (of medians)", "goal",
            "verdict")
    esc = lambda c: str(c).replace("|", "\\|").strip()
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        c = list(_cells(r))
        ratio = c[5] if c[6] == "-" else f"{c[5]} {c[6]}"
        cells = c[:5] + [ratio] + c[7:]
        out.append("| " + " | ".join(esc(x) for x in cells) + " |")
    return "\n".join(out)


def _notes(rows: list[dict]) -> list[str]:
    notes = []
    for r in rows:
        d = r["details"]
        if r["id"] == "scalar_step_gc_on" and r["status"] == "ok":
            notes.append(f"1: {d['parameters']} parameters, {d['ops_per_loss']} ops per loss "
                         "in both engines; per op (step, gc on): adlab "
                         f"{fmt_time(d['adlab_per_op_s'])}, micrograd "
                         f"{fmt_time(d['micrograd_per_op_s'])} (micrograd "
                         f"{d['micrograd_version']}); micrograd's graphs are reference "
                         "cycles that only the cyclic GC frees, adlab's are freed by "
                         "refcounting, hence the gc on/off rows.")
            g = d["gc_cost_per_step"]
            notes.append("1: time in the cyclic GC per step (gc on, untimed diagnostic run): "
                         + "; ".join(f"{k} {fmt_time(v['gc_seconds_per_call'])} "
                                     f"({v['collections_per_generation']} collections of gen "
                                     f"0/1/2 in {v['calls']} steps)" for k, v in g.items()))
        if r["id"].startswith("chain_") and r["status"] == "ok":
            s, lg = d["small"], d["large"]
            state = r["id"].removeprefix("chain_").replace("_", " ")
            notes.append(
                f"4 ({state}): per node {fmt_time(s['per_node_best_s'])} at {s['n_ops']} ops, "
                f"{fmt_time(lg['per_node_best_s'])} at {lg['n_ops']} ops (best of "
                f"{s['repeats']} / {lg['repeats']}); gc during the large runs: "
                f"{lg['gc']['collections_per_generation']} collections (gen 0/1/2), "
                f"{lg['gc']['gc_seconds']:.2f} s in {lg['repeats']} run(s); freeing the tape: "
                f"{fmt_time(s['free_per_node_best_s'])} / {fmt_time(lg['free_per_node_best_s'])}"
                " per node (not in the timing).")
            if r["id"] == "chain_gc_on":
                notes.append("4: transformations (ad.grad, vjp, jvp, trace) pause the cyclic "
                             "GC while they run: adlab's tapes are acyclic and freed by "
                             "refcounting. A top-level ad.Var tape grows outside any adlab "
                             "call (the gc-on row): there adlab.tapegc raises generation "
                             "2's threshold in proportion to the live user tape while it "
                             "is large, so full collections do not re-walk it again and "
                             "again, and restores the user's thresholds when it is freed.")
                notes.append(f"4: {d['traced_bytes_per_node']:.0f} traced bytes per node "
                             f"(tracemalloc); peak RSS of the process {d['peak_rss_mb']:.0f} MB.")
        if r["id"] == "autograd_mlp" and r["status"] == "ok":
            notes.append(f"5: autograd {d['autograd_version']}.")
        if (r["benchmark"] == "6" and r["status"] == "ok" and "timings" in d
                and r["id"].endswith(("_torch", "_autograd"))
                and not any(n.startswith(f"6 ({r['id'].rsplit('_', 1)[0]})") for n in notes)):
            tag = r["id"].rsplit("_", 1)[0]
            times = ", ".join(f"{k} {fmt_time(v['best'])}" for k, v in d["timings"].items())
            ch = d["check"]
            rel = max(ch["max_rel_loss_diff"].values())
            gd = "; ".join(f"{k} {'/'.join(v)}" for k, v in ch["grad_dtypes"].items() if v)
            notes.append(f"6 ({tag}): {times}; adlab's figure is {d['adlab_path']}. Data: "
                         f"{d['data']}. Losses of the first {ch['steps']} steps agree to "
                         f"{rel:.1e} relative; gradient dtypes: {gd}."
                         + (" " + " ".join(d["notes"]) if d["notes"] else ""))
        if r["id"] == "ckpt_nbytes" and r["status"] == "ok":
            mp, mc = d["saved_memory_plain"], d["saved_memory_checkpointed"]
            notes.append(
                f"7: stored intermediates {mp['count']} -> {mc['count']} arrays "
                f"({fmt_bytes(mp['nbytes'])} -> {fmt_bytes(mc['nbytes'])}, "
                f"{mp['nbytes'] / max(mc['nbytes'], 1):.1f}x less), recording held "
                f"{fmt_bytes(mp['retained_bytes'])} -> {fmt_bytes(mc['retained_bytes'])}; "
                f"inputs read too: {fmt_bytes(mp['input_bytes'])} (both). saved_memory "
                "counts the forward recording; the reverse sweep re-records one segment at "
                f"a time (about {fmt_bytes(mp['nbytes'] * d['every'] / d['layers'])} "
                "more), which the peak row includes, as it does the "
                f"{fmt_bytes(d['gradient_bytes'])} of gradients. All {d['n_gradients']} "
                "gradients and the value are identical (np.array_equal).")
        if r["id"] == "grade_j2" and r["status"] == "ok":
            runs = "; ".join(f"-j {j}: {s:.1f} s, {d['submissions_per_s'][j]:.2f} "
                             "submissions/s" + (f", speed-up {d['speedup'][j]:.2f}x"
                                                if j != 1 else "")
                             for j, s in d["best_s"].items())
            ok = d["speedup"][2] >= d["goal_speedup"]
            notes.append(f"8: {d['submissions']} submissions of {d['notebook']} on a machine "
                         f"with os.cpu_count() = {d['cpu_count']}: {runs}. -j 2 "
                         f"{'reaches' if ok else 'does not reach'} the goal of "
                         f"{d['goal_speedup']:g}x (best of {d['repeats']} run(s) per -j; "
                         f"one submission alone took {d['one_submission_s']:.1f} s; 1-min "
                         "load average after each run, its own graders included: "
                         + ", ".join(f"-j {j} {x:.2f}" for j, x in d["load_after_run"])
                         + ").")
    return notes


def profile_adlab(fn: Callable[[], object], seconds: float = 1.5, top: int = 20) -> str:
    """cProfile ``fn`` (called repeatedly for about ``seconds``): top entries by own time."""
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, min(10_000, int(seconds / once)))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    buf = io.StringIO()
    buf.write(f"({calls} call(s) profiled)\n")
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def _meta(cfg: Config, gc_note: str) -> dict:
    return {
        "mode": "quick" if cfg.quick else "full",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "python": sys.version.split()[0], "implementation": platform.python_implementation(),
        "numpy": np.__version__, "adlab": getattr(ad, "__version__", None),
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": _cpu_count(), "git": _git_state(),
        "timing": (f"per call: minimum over {cfg.repeats} repeats (median in details), each "
                   f"repeat calibrated to >= {cfg.min_time} s, after {cfg.warmup} warm-up "
                   "call(s); the two sides of a ratio are timed interleaved"),
        "gc": gc_note, "blas": BLAS_NOTE, "seed": cfg.seed, "config": asdict(cfg),
        "load_average_start": _loadavg(),
    }


def _loadavg():
    """The 1, 5 and 15 minute load averages (other processes make timings noisy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not available
        return None


def _git_state() -> dict:
    """The commit measured, and whether adlab/ had uncommitted changes."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD") or None,
                "adlab_uncommitted_changes": bool(git("status", "--porcelain", "--", "adlab"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "adlab_uncommitted_changes": None}


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count()


def run(quick: bool = False, only=None, json_path=None, profile: str | None = None,
        verbose: bool = True, top: int = 20, out=None, out_dir=None,
        plots: bool = True, write_json: bool = True) -> dict:
    """Run the benchmarks; return (and optionally write) the report.

    ``only``: benchmark ids (see :data:`BENCHMARKS`); ``profile``: ``None``,
    ``"missed"`` (profile adlab where a goal is missed) or ``"all"``. ``out`` is the
    stream for the text output. ``out_dir``: a folder for ``results.json``,
    ``results.md`` and (with ``plots``) one PNG per benchmark; ``json_path`` puts
    the JSON elsewhere (``write_json=False``: no JSON). Nothing is written when both
    are ``None``.
    """
    out = out or sys.stdout
    say = (lambda *a: print(*a, file=out, flush=True)) if verbose else (lambda *a: None)
    cfg = QUICK if quick else FULL
    names = list(BENCHMARKS if not only else only)
    unknown = [n for n in names if n not in _BENCH_FUNCS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    gc_note = ("enabled during timed calls (as in a user's program), gc.collect() before "
               "every repeat; benchmark 4 also reports gc disabled")
    meta = _meta(cfg, gc_note)
    peer_status = peers.status(load_torch="train" in names)
    meta["peers"] = peer_status
    meta["torch_threads"] = peers.torch_threads_note()
    g = meta["git"]
    tree = ("" if g["commit"] is None else f", adlab at {g['commit'][:10]}"
            + (" + uncommitted changes" if g["adlab_uncommitted_changes"] else ""))
    say(f"adlab benchmarks ({meta['mode']}): Python {meta['python']}, NumPy {meta['numpy']}, "
        f"{meta['platform']}, {meta['cpu_count']} CPU(s){tree}")
    say(f"timing: {meta['timing']}")
    say(f"gc: {gc_note}")
    say(f"threads: {BLAS_NOTE}; PyTorch: {meta['torch_threads']}")
    found = [f"{k} {v['version']}" for k, v in peer_status.items() if "version" in v]
    lacking = [f"{k} ({v['missing']})" for k, v in peer_status.items() if "missing" in v]
    say("peers: " + (", ".join(found) or "none") + "; skipped: "
        + ("; ".join(lacking) if lacking else "none"))
    if cfg.quick:
        say("quick mode: a smoke run with few, short repeats and a smaller chain; its "
            "figures are noisy (GC-heavy rows especially) and not the reference ones")
    rows, targets = [], {}
    t_start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        try:
            new_rows, new_targets = _BENCH_FUNCS[name](cfg)
        except Exception as e:  # noqa: BLE001 - report it, run the others
            tb = traceback.format_exc()
            new_rows = [_row(name, str(BENCHMARKS.index(name) + 1), name, status="error",
                             reason=f"{type(e).__name__}: {e}", details={"traceback": tb})]
            new_targets = {}
            say(tb)
        rows += new_rows
        targets.update(new_targets)
        for r in new_rows:
            if r["status"] == "skipped":
                say(f"  {name}: SKIPPED {r['id']} ({r['peer']}): {r['reason']}")
        say(f"  {name}: done in {time.perf_counter() - t0:.1f} s")
    meta["seconds"] = round(time.perf_counter() - t_start, 1)
    meta["load_average_end"] = _loadavg()

    say("")
    say(_table(rows))
    say("")
    for note in _notes(rows):
        say("note " + note)
    missed = [r for r in rows if r["status"] == "ok" and "misses goal" in r["verdict"]]
    brief = lambda rs: ", ".join(f"{r['id']} (ratio {r['ratio']:.2f}, goal {r['goal']['text']})"
                                 for r in rs) or "none"
    say("")
    say("goals met: " + (", ".join(r["id"] for r in rows if r["status"] == "ok"
                                   and "meets goal" in r["verdict"]
                                   and not r["informational"]) or "none"))
    say("goals missed: " + brief([r for r in missed if not r["informational"]]))
    say("informational goals missed: " + brief([r for r in missed if r["informational"]]))
    skipped = [r["id"] for r in rows if r["status"] == "skipped"]
    if skipped:
        say("skipped: " + ", ".join(skipped))
    errors = [r["id"] for r in rows if r["status"] == "error"]
    if errors:
        say("errors: " + ", ".join(errors))
    say(f"total time {meta['seconds']} s; load average (1/5/15 min) at the start "
        f"{meta['load_average_start']}, at the end {meta['load_average_end']} on "
        f"{meta['cpu_count']} CPU(s)")

    profiles = {}
    if profile:
        wanted = [r["id"] for r in (rows if profile == "all" else missed)]
        done = set()
        for rid in wanted:
            fn = targets.get(rid)
            if fn is None or id(fn) in done:
                continue
            done.add(id(fn))
            say(f"\n===== profile of adlab in {rid} =====")
            profiles[rid] = profile_adlab(fn, top=top)
            say(profiles[rid])

    md = markdown_table(rows)
    say("\nThe table in Markdown (for the README):\n")
    say(md)
    say("")

    report = {"meta": meta, "results": rows, "profiles": profiles}
    written = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if json_path is None and write_json:
            json_path = out_dir / "results.json"
        (out_dir / "results.md").write_text(_markdown_file(meta, rows, md))
        written.append(out_dir / "results.md")
        if profiles:
            (out_dir / "profiles.txt").write_text(
                "".join(f"===== profile of adlab in {k} =====\n{v}\n"
                        for k, v in profiles.items()))
            written.append(out_dir / "profiles.txt")
        if plots:
            try:
                from bench.plots import write_plots

                written += write_plots(report, out_dir)
            except Exception as e:  # noqa: BLE001 - figures are a bonus, not a failure
                say(f"plots: not written ({type(e).__name__}: {e})")
                if verbose:
                    traceback.print_exc(file=out)
    if json_path is not None and write_json:
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        written.insert(0, json_path)
    if written:
        say("written: " + ", ".join(_rel(p) for p in written))
    report["written"] = [str(p) for p in written]
    return report


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _markdown_file(meta: dict, rows: list[dict], md: str) -> str:
    peers_ = ", ".join(f"{k} {v['version']}" for k, v in meta["peers"].items()
                       if "version" in v) or "none"
    return (f"# adlab benchmarks ({meta['mode']} run, {meta['date']})\n\n"
            f"Python {meta['python']}, NumPy {meta['numpy']}, {meta['platform']}, "
            f"{meta['cpu_count']} CPU(s); peers: {peers_}.\n"
            f"{meta['blas']}; PyTorch: {meta['torch_threads']}. Load average (1/5/15 "
            f"min): {meta['load_average_start']} at the start, "
            f"{meta['load_average_end']} at the end.\n"
            f"Ratios are adlab over the peer (lower is better for adlab), measured in one "
            f"run: {meta['timing']}.\n\n{md}\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fast smoke run (few, small repeats)")
    p.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    p.add_argument("--out", help="folder for results.json, results.md and the PNGs "
                   "(default bench/results, or bench/results/quick with --quick)")
    p.add_argument("--json", help="write the JSON here instead of OUT/results.json")
    p.add_argument("--no-json", action="store_true", help="do not write JSON")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNGs")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS and PyTorch threads (default 1, or the BLAS variables "
                        "already set in the environment); read before NumPy is imported")
    p.add_argument("--profile", nargs="?", const="missed", choices=("missed", "all"),
                   help="cProfile adlab's side of the benchmarks that miss their goal "
                        "(or of all with --profile all)")
    p.add_argument("--top", type=int, default=20, help="profile entries to show (20)")
    a = p.parse_args(argv)
    only = [s.strip() for s in a.only.split(",") if s.strip()] if a.only else None
    out_dir = Path(a.out) if a.out else DEFAULT_OUT / ("quick" if a.quick else "")
    report = run(quick=a.quick, only=only, json_path=a.json, profile=a.profile, top=a.top,
                 out_dir=out_dir, plots=not a.no_plots, write_json=not a.no_json)
    return 1 if any(r["status"] == "error" for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
