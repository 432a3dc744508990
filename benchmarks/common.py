"""What the benchmark scripts share: the corpus path, timing in slices,
option parsing and formatting."""

import argparse
import os
import platform
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEXT_PATH = REPO_ROOT.parent / "shared" / "data" / "shakespeare.txt"


def timed_slices(work, seconds, slices):
    """Warm up, then call ``work`` for about ``seconds`` of wall time, in slices.

    ``work()`` returns how much it did (steps, characters). Returns the rate
    of each of the ``slices`` equal slices of the timed part, so that the
    fastest can be reported and interference from other processes seen. The
    warm-up is a tenth of the time or one call, whichever is longer; every
    slice makes at least one call however long it takes.
    """
    work()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 10:
        work()
    rates = []
    for _ in range(slices):
        done = 0
        start = time.perf_counter()
        while True:
            done += work()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / slices:
                break
        rates.append(done / elapsed)
    return rates


def parse_configs(text, configs):
    """Config keys or 1-based numbers, comma-separated, from ``configs``."""
    by_key = {config.key: config for config in configs}
    chosen = []
    for item in text.split(","):
        item = item.strip()
        if item.isdigit() and 1 <= int(item) <= len(configs):
            chosen.append(configs[int(item) - 1])
        elif item in by_key:
            chosen.append(by_key[item])
        else:
            raise argparse.ArgumentTypeError(
                f"unknown configuration {item!r}; choose from {', '.join(by_key)} "
                f"or 1-{len(configs)}")
    return chosen


def parse_threads(text):
    """Thread counts, comma-separated: positive integers, or "auto" (what
    CharRNN(n_threads=None) would choose)."""
    threads = []
    for item in text.split(","):
        item = item.strip()
        if item == "auto":
            threads.append(item)
        elif item.isdigit() and int(item) >= 1:
            threads.append(int(item))
        else:
            raise argparse.ArgumentTypeError(f"--threads wants positive integers or auto, "
                                             f"like 1,2,auto; got {text!r}")
    return threads


def cpu_name():
    """The CPU's vendor and model ("AuthenticAMD AMD EPYC ..."): subnormals and
    small products cost differently on Intel and AMD, so every figure names it."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" in fields:
        return f"{fields.get('vendor_id', '?')} {fields['model name']}"
    return platform.processor() or platform.machine()


def format_rate(value):
    return "n/a" if value is None else f"{value:,.0f}"


def format_ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return "n/a"
    return f"{numerator / denominator:.1f}x"


def blas_description():
    """Which BLAS kernels compute: OpenBLAS's core ("SkylakeX", "Haswell":
    threadpoolctl's architecture) behind scipy, which ours calls, and behind
    NumPy, which the reference calls; whether our per-step products are cut
    for the small-matrix kernels (csrc/blas.h); and OPENBLAS_CORETYPE where it
    is set. Kernels round differently and run at different speeds, so every
    figure names them."""
    import numpy
    from threadpoolctl import threadpool_info

    from charrnn_c import _core

    numpy.dot(numpy.ones((2, 2)), numpy.ones((2, 2)))     # loaded, so threadpoolctl sees it
    numpy_cores = sorted({info.get("architecture") or info["internal_api"]
                          for info in threadpool_info() if info["user_api"] == "blas"
                          and "numpy" in info["filepath"]})
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return (f"BLAS: ours OpenBLAS core {_core.BLAS_CORENAME or 'n/a (not OpenBLAS)'}, "
            f"small-matrix blocks {'on' if _core.small_gemm_blocks() else 'off'}; NumPy's "
            f"{', '.join(numpy_cores) or 'n/a'}"
            + (f"; OPENBLAS_CORETYPE={forced}" if forced else ""))
