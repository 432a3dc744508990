"""Peak memory and time to first step of fitting on a large file, first run and cached.

For each size and kind it writes a text file by repeating the package's
corpus (kind "non-ascii" mixes in é, ’, — and 😀: 2-, 3- and 4-byte UTF-8),
then runs, in a fresh process each time, twice in a row (the first run
counts and encodes the file into the cache, the second maps the cache):

    CharRNN(hidden_size=32, num_layers=1, cell="rnn", batch_size=1, seq_length=25,
            seed=0).fit(Path(f), iterations=50, progress=False)

and reports that process's peak RSS (VmHWM, which counts the pages of the
mapped cache that training touched), the time from fit's call
to the end of the first training step, fit's whole time, and the size of the
encoded cache. ``--in-memory`` adds a run of the same fit on the text read
into a str first (the path a str takes). Files and caches are deleted at the
end; the text is in the page cache when it is read (it was just written).

    python benchmarks/memory.py                               # 200 MB and 2 GB, both kinds
    python benchmarks/memory.py --sizes 200 --kinds ascii --in-memory
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import blas_description, cpu_name

from charrnn_c import datasets

KINDS = ("ascii", "non-ascii")

# One fit in a fresh process; prints a JSON line. Time to first step is read
# by wrapping kernels.train_step, which the training loop calls once a step.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import charrnn_c.kernels as kernels
from charrnn_c import CharRNN
def peak_kb():
    # VmHWM: this process's own peak. ru_maxrss would do elsewhere, but on
    # Linux a child's starts at its parent's peak (kept across fork and exec).
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path, in_memory = Path(sys.argv[1]), sys.argv[2] == "1"
baseline = peak_kb()
first = []
step = kernels.train_step
def timed_step(*args, **kwargs):
    result = step(*args, **kwargs)
    if not first:
        first.append(time.perf_counter())
    return result
kernels.train_step = timed_step
start = time.perf_counter()
text = open(path, encoding="utf-8", newline="").read() if in_memory else path
model = CharRNN(hidden_size=32, num_layers=1, cell="rnn", batch_size=1, seq_length=25,
                seed=0).fit(text, iterations=50, progress=False)
end = time.perf_counter()
print(json.dumps({"peak_kb": peak_kb(),
                  "baseline_kb": baseline, "first_step": first[0] - start,
                  "total": end - start, "n_iter": model.n_iter_,
                  "vocab": len(model.vocab_)}))
"""


def make_text(path, size, kind):
    """Write ``size`` bytes of text of ``kind`` to ``path``, a corpus-sized block at a time."""
    block = datasets.shakespeare()
    if kind == "non-ascii":
        block = (block.replace("--", "—").replace("'", "’").replace("Caesar", "Cæsar")
                 .replace("\n\n", "\n\n😀 ").replace("fiancee", "fiancée"))
    raw = block.encode()
    with open(path, "wb") as file:
        written = 0
        while written + len(raw) <= size:
            file.write(raw)
            written += len(raw)
        tail = raw[:size - written]
        # Cut at a character boundary: drop a partial UTF-8 sequence at the end.
        file.write(tail.decode("utf-8", "ignore").encode())


def run(path, cache, in_memory=False):
    env = dict(os.environ, CHARRNN_C_CACHE_DIR=str(cache), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), "1" if in_memory else "0"],
                            capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"the fit failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def megabytes(kb):
    return kb * 1024 / 1e6


def machine():
    memory = "?"
    try:
        with open("/proc/meminfo") as f:
            memory = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return (f"machine: {cpu_name()}, {os.cpu_count()} CPUs, {memory}; "
            f"Python {platform.python_version()}, NumPy {np.__version__}\n{blas_description()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200,2000",
                        help="file sizes in MB (10^6 bytes), comma-separated "
                             "(default: %(default)s)")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="ascii, non-ascii or both (default: %(default)s)")
    parser.add_argument("--in-memory", action="store_true",
                        help="also fit on the text read into a str, for comparison")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the text files and the cache go (default: %(default)s)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    print(machine())
    print("fit(Path(f), iterations=50, progress=False), a 1 x 32 RNN at batch 1, "
          "each run a fresh process\n")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="charrnn-memory-", dir=args.dir))
    try:
        for size in sizes:
            for kind in kinds:
                path = work / f"{kind}-{size}MB.txt"
                make_text(path, size * 10**6, kind)
                cache = work / "cache"
                runs = [("first run", run(path, cache)), ("cached", run(path, cache))]
                if args.in_memory:
                    runs.append(("str in memory", run(path, cache, in_memory=True)))
                encoded = sum(f.stat().st_size for f in cache.iterdir())
                for name, result in runs:
                    assert result["n_iter"] == 50
                    row = (f"| {size:,} MB | {kind} | {name} | "
                           f"{megabytes(result['peak_kb']):,.0f} MB "
                           f"({megabytes(result['peak_kb']) / size:.2f}x) | "
                           f"{megabytes(result['baseline_kb']):,.0f} MB | "
                           f"{result['first_step']:.2f} s | {result['total']:.2f} s | "
                           f"{encoded / 1e6:,.0f} MB | {result['vocab']} |")
                    print(row, flush=True)
                    rows.append(row)
                shutil.rmtree(cache)
                path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| file | kind | run | peak RSS (x file) | RSS before fit | first step "
          "| fit | encoded cache | symbols |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
