"""Benchmark: attempts per second into the class service on a real JupyterHub.

Starts the throwaway hub of the tests (tests/hub/fixture.py: deploy/jupyterhub_config.py
with its managed service ``adlab``, on 127.0.0.1, SQLite in a temporary folder), makes a
token for each of its 50 learners of the course ``loadtest`` through the hub's REST
API, and has them all post at once: each client (a thread with its own token) posts its
attempts through the hub's proxy, ``--batch`` to a post (a learner's check posts
everything not yet sent, so 1 is the everyday case and larger batches are what a
reconnecting class sends). It reports attempts per second, posts per second and the
posts' latency, and checks that the service stored every attempt exactly once (a fast
service that loses attempts is not measured)::

    .venv/bin/python bench/hub.py                     # 50 clients x 200 attempts, batch 20
    .venv/bin/python bench/hub.py --batch 1 --per-client 40
    .venv/bin/python bench/hub.py --json results.json

The rate depends on the machine (the hub, the proxy, the service and the 50 clients
share its cores); tests/test_hub_class.py asserts only that nothing is lost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hub import fixture  # noqa: E402


def run(clients: int, per_client: int, batch: int, seed: int = 0) -> dict:
    proxy = fixture.find_proxy()
    if proxy is None:
        raise SystemExit("bench/hub.py: no configurable-http-proxy; `make test` installs it "
                         "(npm install --prefix .venv configurable-http-proxy)")
    if not 1 <= clients <= len(fixture.LOAD_LEARNERS):
        raise SystemExit(f"bench/hub.py: --clients must be 1 to {len(fixture.LOAD_LEARNERS)}")
    with tempfile.TemporaryDirectory(prefix="adlab-bench-hub-") as folder:
        hub = fixture.ClassHub(Path(folder), proxy)
        started = time.monotonic()
        hub.start()
        try:
            startup = time.monotonic() - started
            learners = fixture.LOAD_LEARNERS[:clients]
            tokens = {name: hub.token(name) for name in learners}
            teacher = hub.token("teacher")
            result = fixture.load(hub.service_url, tokens, per_client, batch, seed)
            stored = fixture.get(
                f"{hub.service_url}api/courses/{fixture.LOAD_COURSE}/attempts", teacher)
        finally:
            hub.stop()
    if result["errors"] or len({a["uid"] for a in stored}) != result["attempts"] \
            or len(stored) != result["attempts"]:
        raise SystemExit(f"bench/hub.py: attempts lost or doubled: sent "
                         f"{result['attempts']}, stored {len(stored)}; errors: "
                         f"{result['errors'][:5]}")
    latencies = sorted(result["latencies"])
    return {
        "clients": clients, "per_client": per_client, "batch": batch,
        "attempts": result["attempts"], "posts": result["posts"],
        "seconds": round(result["seconds"], 3),
        "attempts_per_second": round(result["attempts"] / result["seconds"], 1),
        "posts_per_second": round(result["posts"] / result["seconds"], 1),
        "latency_median_ms": round(1000 * statistics.median(latencies), 1),
        "latency_p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
        "hub_startup_seconds": round(startup, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20, help="attempts per post")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args.clients, args.per_client, args.batch)
    print(f"{result['attempts']} attempts from {result['clients']} clients, "
          f"{result['batch']} per post: {result['seconds']:.2f} s, "
          f"{result['attempts_per_second']:.0f} attempts/s, "
          f"{result['posts_per_second']:.0f} posts/s, latency median "
          f"{result['latency_median_ms']:.0f} ms, p95 {result['latency_p95_ms']:.0f} ms; "
          "none lost, none twice")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
