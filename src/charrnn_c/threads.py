"""The thread policy: how many threads a model trains on, and BLAS's own pool kept at one.

Two resources, one owner each, both here:

- OpenBLAS's thread pool. Inside our calls BLAS runs on the calling thread:
  a step's products are small (a 1 x 256 model at batch 1 ran 2-13x slower
  with OpenBLAS's default threads when another process used a core), and a
  thread of ours that computes with subnormals flushed (csrc/fpmode.h) would
  not pass the mode to BLAS's workers. ``blas_on_one_thread`` sets the pool
  to one thread while any of our calls runs and gives the user's setting
  back after the last one ends.
- Our workers. A model that trains on n threads splits its ``batch_size``
  streams into n shares, each forward and BPTT on its own thread with its
  own gradient buffer (kernels keep a workspace per thread), and sums the
  shares in a fixed order: the same thread count gives the same bits run
  to run. ``resolve_threads`` decides n.
"""

from __future__ import annotations

import os
import threading
from . import _core

# A share smaller than this many multiply-adds per step (about 50 us of
# work) costs more in handing it to a thread than it saves.
MIN_SHARE_FLOPS = 5e6

class _BlasOnOneThread:
    """OpenBLAS on one thread while any of our calls runs; re-entrant and
    thread-safe. A class, not a generator: kernels enter it at every call,
    and this costs about 0.3 us where contextlib's costs 1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: int | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                threads = _core.blas_threads()
                self._saved = threads if threads not in (None, 1) else None
                if self._saved is not None:
                    _core.set_blas_threads(1)
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                _core.set_blas_threads(self._saved)
                self._saved = None


blas_on_one_thread = _BlasOnOneThread()


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_threads(n_threads: int | None, batch_size: int, flops_per_stream: float) -> int:
    """How many threads a step of ``batch_size`` streams runs on.

    ``n_threads`` None: the available cores. Never more threads than streams,
    and none whose share of the step is below MIN_SHARE_FLOPS: the write-up's
    model at batch 1 stays on one thread."""
    wanted = available_cores() if n_threads is None else n_threads
    worthwhile = int(batch_size * flops_per_stream // MIN_SHARE_FLOPS)
    return max(1, min(wanted, batch_size, worthwhile))


def shares(batch_size: int, threads: int) -> list[slice]:
    """``batch_size`` streams cut into ``threads`` contiguous shares, as even as can be."""
    bounds = [batch_size * i // threads for i in range(threads + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]
