"""The spread of the learning tests' figures across seeds and BLAS kernels.

Each test that asserts what training reaches (tests/learning.py holds their
runs) is run here over many seeds, in a child process per BLAS setting:
this machine's own kernels with the small-matrix blocks (as production runs
them where OpenBLAS picks SkylakeX-family kernels), the same kernels with
products whole (CHARRNN_SMALL_GEMM=0), and OpenBLAS's Haswell and
Sandybridge kernels (OPENBLAS_CORETYPE, set for that child only). A bound in
a test is set from these figures; the tests say which.

    python benchmarks/learning_spread.py              # 64 seeds, a few minutes
    python benchmarks/learning_spread.py --seeds 4    # a smoke run, seconds
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from common import REPO_ROOT, cpu_name

sys.path.insert(0, str(REPO_ROOT / "tests"))

# Each figure is "the margin below the unigram entropy" (nats/char; the
# test needs it above a bound) or a pass/fail.
RUNS = {
    "writeup_small float32": lambda seed: learning().writeup_small(seed, "float32")[1],
    "writeup_small float64": lambda seed: learning().writeup_small(seed, "float64")[1],
    # What sends a write-up run above the unigram entropy: not the float32
    # path (float64 fails as often), not the clip; one stream at lr 0.1.
    "writeup_small float64 no clip": lambda seed: learning().writeup_small(
        seed, "float64", clip=1e6)[1],
    "writeup_small float32 lr 0.05": lambda seed: learning().writeup_small(
        seed, "float32", learning_rate=0.05)[1],
    "writeup_small float32 batch 4": lambda seed: learning().writeup_small(
        seed, "float32", batch_size=4)[1],
    "two_tanh_layers": lambda seed: learning().two_tanh_layers(seed),
    "gated gru": lambda seed: learning().gated_cell("gru", seed)[1],
    "gated lstm": lambda seed: learning().gated_cell("lstm", seed)[1],
    "abc_greedy": lambda seed: float(learning().abc_greedy(seed)),
}

SETTINGS = {
    "own kernels, blocks": {"CHARRNN_SMALL_GEMM": "1"},
    "own kernels, whole": {"CHARRNN_SMALL_GEMM": "0"},
    "Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "Sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
}


def learning():
    import learning
    return learning


def child(seeds, runs):
    from charrnn_c import _core
    print(json.dumps({"core": _core.BLAS_CORENAME, "blocks": _core.small_gemm_blocks()}))
    for name in runs:
        print(json.dumps({name: [RUNS[name](seed) for seed in range(seeds)]}), flush=True)


def summary(values):
    v = np.sort(np.asarray(values))
    return (f"min {v[0]:6.3f}  5% {np.percentile(v, 5):6.3f}  median {np.median(v):6.3f}  "
            f"max {v[-1]:6.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--runs", default=",".join(RUNS),
                        help="comma-separated, of: %(default)s")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    runs = args.runs.split(",")
    if unknown := set(runs) - set(RUNS):
        parser.error(f"unknown runs {sorted(unknown)}; choose from {', '.join(RUNS)}")
    if args.child:
        return child(args.seeds, runs)

    print(f"CPU: {cpu_name()}; seeds 0-{args.seeds - 1}")
    results = {}
    for setting, extra in SETTINGS.items():
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CHARRNN_SMALL_GEMM")}
        env.update(extra)
        out = subprocess.run([sys.executable, __file__, "--child", "--seeds", str(args.seeds),
                              "--runs", args.runs],
                             env=env, capture_output=True, text=True, check=True).stdout
        lines = [json.loads(line) for line in out.splitlines()]
        kernel = lines[0]
        results[setting] = {k: v for line in lines[1:] for k, v in line.items()}
        print(f"{setting}: OpenBLAS core {kernel['core']}, blocks {kernel['blocks']}")
    for name in runs:
        print(f"\n{name}" + (" (fraction of seeds that pass)" if name == "abc_greedy" else
                             " (nats/char below the unigram entropy)"))
        everything = []
        for setting in SETTINGS:
            values = results[setting][name]
            everything += values
            print(f"  {setting:20s} {summary(values)}")
        print(f"  {'all':20s} {summary(everything)}")
        if name.startswith("writeup_small"):
            worse = [(setting, seed) for setting in SETTINGS
                     for seed, margin in enumerate(results[setting][name]) if margin < 0]
            print(f"  below the unigram entropy in {len(everything) - len(worse)} of "
                  f"{len(everything)} runs; above it: {worse}")
            # What test_fit_returns_self_and_learns_below_the_unigram_entropy
            # asserts: the median of five seeds.
            medians = {setting: [float(np.median(results[setting][name][i:i + 5]))
                                 for i in range(0, args.seeds - 4, 5)] for setting in SETTINGS}
            print("  median of 5 seeds (0-4, 5-9, ...): lowest "
                  + ", ".join(f"{setting} {min(m):.3f}" for setting, m in medians.items() if m))


if __name__ == "__main__":
    main()
