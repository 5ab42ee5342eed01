"""One PNG per benchmark from a report of :func:`bench.run.run` (matplotlib, Agg).

The figures are drawn with matplotlib's object API on an Agg canvas (no pyplot, no
change of the global backend, so calling this from a notebook leaves its backend
alone). Each shows the figures of the table with the ratio written next to them:

``1_scalar.png``     adlab vs micrograd per row (step / forward, gc on / off)
``2_grad.png``       value_and_grad, the by-hand floor and the NumPy loss
``3_jvp.png``        jvp (two forms) and the NumPy loss
``4_chain.png``      time per tape node against the chain length n (log x)
``5_autograd.png``   adlab vs HIPS autograd
``6_train.png``      one training step per model and dtype: every engine
``7_checkpoint.png`` stored bytes and time, plain reverse mode vs checkpointing
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["write_plots"]

ADLAB, PEER, OTHER = "#1f77b4", "#ff7f0e", "#9ecae1"
ENGINE_COLOURS = {"adlab_nn": "#1f77b4", "adlab_fn": "#6baed6", "torch": "#d62728",
                  "autograd": "#ff7f0e"}
ENGINE_LABELS = {"adlab_nn": "adlab nn+optim", "adlab_fn": "adlab value_and_grad",
                 "torch": "PyTorch", "autograd": "HIPS autograd"}
FILES = {"1": "1_scalar.png", "2": "2_grad.png", "3": "3_jvp.png", "4": "4_chain.png",
         "5": "5_autograd.png", "6": "6_train.png", "7": "7_checkpoint.png"}


def _ok(rows):
    return [r for r in rows if r["status"] == "ok"]


def _time_scale(values):
    """(factor, unit) to show seconds in a readable unit."""
    top = max([v for v in values if v] or [1.0])
    for factor, unit in ((1e9, "ns"), (1e6, "us"), (1e3, "ms")):
        if top * factor < 2000:
            return factor, unit
    return 1.0, "s"


def _short(title: str, width: int = 38) -> str:
    t = title.strip()
    if ": " in t and not t.startswith(("info", "same", "floor")):
        t = t.split(": ", 1)[1]
    return "\n".join(textwrap.wrap(t, width)[:3])


def _verdict_mark(r) -> str:
    v = r["verdict"]
    if "misses goal" in v:
        return " (misses goal)"
    if "meets goal" in v:
        return " (meets goal)"
    return ""


def _pairs(rows, title: str, path: Path, adlab_label="adlab (the row's subject)") -> Path | None:
    """Horizontal bars, adlab and its peer for every timed row, ratio written beside."""
    rows = [r for r in _ok(rows) if r.get("unit", "s") == "s" and r["adlab_s"] is not None
            and r["peer_s"] is not None and r["adlab_s"] > 0]
    if not rows:
        return None
    factor, unit = _time_scale([v for r in rows for v in (r["adlab_s"], r["peer_s"])])
    fig = Figure(figsize=(9, 1.1 + 0.9 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    h = 0.38
    top = max(max(r["adlab_s"], r["peer_s"]) for r in rows) * factor
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        ax.barh(y + h / 2, r["adlab_s"] * factor, h, color=ADLAB,
                label=adlab_label if i == 0 else None)
        ax.barh(y - h / 2, r["peer_s"] * factor, h, color=PEER,
                label="peer" if i == 0 else None)
        ax.text(max(r["adlab_s"], r["peer_s"]) * factor + top * 0.02, y,
                f"ratio {r['ratio']:.2f}{_verdict_mark(r)}\npeer: {r['peer']}",
                va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(r["title"]) for r in reversed(rows)], fontsize=8)
    ax.set_xlim(0, top * 1.55)
    ax.set_xlabel(f"time per call ({unit}), best of the repeats")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def _chain(rows, path: Path) -> Path | None:
    rows = [r for r in _ok(rows) if "small" in r["details"]]
    if not rows:
        return None
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    labels = {"chain_grad": "ad.grad", "chain_gc_on": "Var + backward(), gc on",
              "chain_gc_off": "Var + backward(), gc off"}
    for r in rows:
        d = r["details"]
        pts = sorted([d["small"], d["large"]] + ([d["mid (plot only)"]]
                                                  if "mid (plot only)" in d else []),
                     key=lambda p: p["n_ops"])
        xs = [p["n_ops"] for p in pts]
        ys = [p["per_node_best_s"] * 1e9 for p in pts]
        ax.plot(xs, ys, marker="o", label=f"{labels.get(r['id'], r['id'])}: "
                f"ratio {r['ratio']:.2f}{_verdict_mark(r)}")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("chain length n (operations)")
    ax.set_ylabel("time per tape node (ns), build + backward")
    ax.set_title("4. per-node cost of a chain of scalar operations\n"
                 "ratio: per-node time at the largest n over the smallest (goal 1/1.5..1.5)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def _train(rows, path: Path) -> Path | None:
    groups: dict[str, dict] = {}
    for r in _ok(rows):
        if "timings" not in r["details"]:
            continue
        tag = r["id"].rsplit("_", 1)[0]
        g = groups.setdefault(tag, {"timings": r["details"]["timings"], "ratios": [],
                                    "title": r["title"].split(":")[0]})
        g["ratios"].append(f"/{r['peer'].split()[0] if r['peer'] else '?'}"
                           f" {r['ratio']:.2f}{_verdict_mark(r)}")
    if not groups:
        return None
    n = len(groups)
    fig = Figure(figsize=(3.6 * n, 4.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, g in zip(axes, groups.values()):
        t = g["timings"]
        names = [k for k in ENGINE_LABELS if k in t]
        factor, unit = _time_scale([t[k]["best"] for k in names])
        vals = [t[k]["best"] * factor for k in names]
        bars = ax.bar(range(len(names)), vals, color=[ENGINE_COLOURS[k] for k in names])
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.0f}" if v >= 100 else f"{v:.3g}",
                    ha="center",
                    va="bottom", fontsize=7)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([ENGINE_LABELS[k].replace(" ", "\n", 1) for k in names],
                           fontsize=7)
        ax.set_ylabel(f"time per step ({unit})")
        ax.set_ylim(0, max(vals) * 1.25)
        title = g["title"].removeprefix("train step ")
        ax.set_title("\n".join(textwrap.wrap(title, 40)) + "\n"
                     + "\n".join("adlab" + x for x in g["ratios"]), fontsize=8)
    fig.suptitle("6. one training step (forward, cross-entropy, backward, SGD): "
                 "adlab's figure is the faster adlab path", fontsize=10)
    fig.savefig(path, dpi=110)
    return path


def _checkpoint(rows, path: Path) -> Path | None:
    by_id = {r["id"]: r for r in _ok(rows)}
    if "ckpt_nbytes" not in by_id:
        return None
    d = by_id["ckpt_nbytes"]["details"]
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    ax_b, ax_t = fig.subplots(1, 2, width_ratios=(2.2, 1))
    kinds = [(k, lbl) for k, lbl in (("ckpt_nbytes", "stored\nintermediates\n(.nbytes)"),
                                     ("ckpt_retained", "recording held\n(.retained_bytes)"),
                                     ("ckpt_peak", "peak during\nvalue_and_grad\n(info)"))
             if k in by_id]
    w = 0.38
    for i, (k, _) in enumerate(kinds):
        r = by_id[k]
        ax_b.bar(i - w / 2, r["peer_s"] / 1e6, w, color=PEER,
                 label="plain reverse mode" if i == 0 else None)
        ax_b.bar(i + w / 2, r["adlab_s"] / 1e6, w, color=ADLAB,
                 label=f"checkpoint every {d['every']}" if i == 0 else None)
        ax_b.text(i, max(r["peer_s"], r["adlab_s"]) / 1e6 * 1.03,
                  f"ratio {r['ratio']:.3f}\n({r['peer_s'] / max(r['adlab_s'], 1):.1f}x less)"
                  f"{_verdict_mark(r)}", ha="center", va="bottom", fontsize=7)
    ax_b.set_xticks(range(len(kinds)))
    ax_b.set_xticklabels([lbl for _, lbl in kinds], fontsize=8)
    ax_b.set_ylabel("MB")
    ax_b.set_ylim(0, max(max(by_id[k]["peer_s"], by_id[k]["adlab_s"])
                         for k, _ in kinds) / 1e6 * 1.3)
    ax_b.set_title("memory (goal: stored bytes cut >= 4x)", fontsize=9)
    ax_b.legend(fontsize=8, loc="upper right")
    if "ckpt_time" in by_id:
        r = by_id["ckpt_time"]
        factor, unit = _time_scale([r["peer_s"], r["adlab_s"]])
        ax_t.bar([0, 1], [r["peer_s"] * factor, r["adlab_s"] * factor], color=[PEER, ADLAB])
        ax_t.set_xticks([0, 1])
        ax_t.set_xticklabels(["plain", f"checkpoint\nevery {d['every']}"], fontsize=8)
        ax_t.set_ylabel(f"value_and_grad time ({unit})")
        ax_t.set_ylim(0, max(r["peer_s"], r["adlab_s"]) * factor * 1.3)
        ax_t.set_title(f"time: ratio {r['ratio']:.2f}{_verdict_mark(r)}\n(goal <= 2)",
                       fontsize=9)
    fig.suptitle(f"7. checkpointing: {d['layers']} layers tanh(h @ W), width {d['width']}, "
                 f"batch {d['batch']}, float64; gradients identical", fontsize=10)
    fig.savefig(path, dpi=110)
    return path


def write_plots(report: dict, out_dir) -> list[Path]:
    """Write the PNG of every benchmark that has results; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_bench: dict[str, list] = {}
    for r in report["results"]:
        by_bench.setdefault(r["benchmark"], []).append(r)
    titles = {"1": "1. scalar MLP: adlab ad.Var scalars vs micrograd",
              "2": "2. value_and_grad of an MLP loss vs the loss alone in NumPy",
              "3": "3. jvp of the MLP loss vs the loss alone in NumPy",
              "5": "5. value_and_grad of the MLP loss: adlab vs HIPS autograd"}
    written = []
    for b, rows in by_bench.items():
        path = out_dir / FILES.get(b, f"{b}.png")
        if b in titles:
            p = _pairs(rows, titles[b], path)
        elif b == "4":
            p = _chain(rows, path)
        elif b == "6":
            p = _train(rows, path)
        elif b == "7":
            p = _checkpoint(rows, path)
        else:
            p = None
        if p is not None:
            written.append(p)
    return written
