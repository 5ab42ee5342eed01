"""The comparison peers: which are importable, their versions, and PyTorch's threads.

Every peer is optional. :func:`status` says, for each, its version or why it is
missing; the benchmarks that need a missing peer print a skip line with that reason.

PyTorch runs its own thread pool, independent of NumPy's BLAS. For a fair ratio both
sides get the same number of threads: :func:`import_torch` calls
``torch.set_num_threads(n)`` (and ``set_num_interop_threads``) with the number the
BLAS was pinned to (``bench/run.py --threads N``, default 1).
"""

from __future__ import annotations

import os
from importlib import import_module, metadata

__all__ = ["PEERS", "status", "import_torch", "blas_threads", "torch_threads_note"]

#: import name -> distribution name, in the order they are reported
PEERS = {"micrograd": "micrograd", "autograd": "autograd", "torch": "torch"}

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS")
_torch = None
_torch_error: str | None = None


def blas_threads() -> int | None:
    """The BLAS thread count set in the environment (the first of the usual variables)."""
    for v in _BLAS_VARS:
        value = os.environ.get(v, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def import_torch():
    """``torch``, with its intra- and inter-op threads set to :func:`blas_threads`.

    Raises ImportError (with the reason) when PyTorch cannot be imported. Cached.
    """
    global _torch, _torch_error
    if _torch is not None:
        return _torch
    if _torch_error is not None:
        raise ImportError(_torch_error)
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any failure means: no PyTorch
        _torch_error = (f"PyTorch is not importable ({type(e).__name__}: {e}); `make bench` "
                        "installs torch==2.13.0 where pip has a CPU build of it")
        raise ImportError(_torch_error) from None
    n = blas_threads()
    if n is not None:
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # already set, or parallel work has started
            pass
    _torch = torch
    return torch


def torch_threads_note() -> str:
    if _torch is None:
        return "PyTorch not loaded"
    return (f"torch.get_num_threads() = {_torch.get_num_threads()}, interop "
            f"{_torch.get_num_interop_threads()}")


def status(load_torch: bool = True) -> dict[str, dict]:
    """For each peer: ``{"version": ...}`` or ``{"missing": reason}``.

    Imports each peer; PyTorch only with ``load_torch`` (its import takes a second or
    two, so runs that do not use it only read its installed version).
    """
    out = {}
    for mod, dist in PEERS.items():
        try:
            if mod == "torch" and not load_torch:
                version = metadata.version(dist) + " (installed, not loaded)"
            elif mod == "torch":
                torch = import_torch()
                version = torch.__version__
            else:
                import_module(mod)
                version = metadata.version(dist)
            out[mod] = {"version": version}
        except Exception as e:  # noqa: BLE001
            reason = str(e) if mod == "torch" else f"{type(e).__name__}: {e}"
            out[mod] = {"missing": reason}
    return out
