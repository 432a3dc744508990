"""The JavaScript sampler in Node beside the C sampler: characters per second,
one thread, and the weights-only file's size.

For the write-up's model (CharRNN.writeup(): a 1 x 100 tanh RNN, float64) and
the defaults' (CharRNN(): a 2 x 256 GRU, float32), each trained for
``--train-iterations`` steps on the built-in corpus: CharRNN.sample(n,
prime="KING.", temperature=0.8) in C, with BLAS on one thread, and
charrnn.js's model.sample with the same arguments in Node
(benchmarks/js_sample_speed.mjs; Node runs JavaScript on one thread), the
fastest of ``--repeats`` runs each. Whether both drew the same text is
printed too. Then the sizes of the defaults' full checkpoint and of its
weights-only file in float32 and float16.

    python benchmarks/js_sample_speed.py
    python benchmarks/js_sample_speed.py --smoke      # tiny sizes, a few seconds
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from charrnn_c import CharRNN, datasets
from common import blas_description, cpu_name

SCRIPT = Path(__file__).with_suffix(".mjs")


def c_rate(model: CharRNN, n: int, repeats: int) -> tuple[float, str]:
    best, text = 0.0, ""
    with threadpool_limits(1):
        model.sample(2000, prime="KING.", seed=1)
        for _ in range(repeats):
            start = time.perf_counter()
            text = model.sample(n, prime="KING.", temperature=0.8, seed=0)
            best = max(best, len(text) / (time.perf_counter() - start))
    return best, hashlib.sha256(text.encode()).hexdigest()


def js_rate(node: str, path: Path, n: int, repeats: int) -> tuple[float, str]:
    best, digest = 0.0, ""
    for _ in range(repeats):
        out = subprocess.run([node, str(SCRIPT), str(path), str(n)], capture_output=True,
                             text=True, check=True)
        result = json.loads(out.stdout)
        best, digest = max(best, result["chars_per_second"]), result["text_sha256"]
    return best, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=30_000, help="characters per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-iterations", type=int, default=200)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny models and runs: checks the script in seconds")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None:
        sys.exit("node is not installed: the JavaScript side needs Node 18+")
    text = datasets.shakespeare()[:200_000]
    configs = {"write-up 1 x 100 rnn float64": CharRNN.writeup(seed=0),
               "defaults 2 x 256 gru float32": CharRNN(seed=0)}
    if args.smoke:
        args.chars, args.repeats, args.train_iterations = 500, 1, 2
        configs = {"smoke 1 x 16 rnn float64": CharRNN.writeup(hidden_size=16, seed=0),
                   "smoke 2 x 16 gru float32": CharRNN(hidden_size=16, seed=0)}
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    print(blas_description())
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"Node {version}; one thread each; {args.chars:,} characters a run, best of "
          f"{args.repeats}")
    print(f"{'model':32} {'C chars/s':>11} {'JS chars/s':>11} {'JS / C':>7}  same text")
    with tempfile.TemporaryDirectory() as directory:
        for name, model in configs.items():
            model.fit(text, iterations=args.train_iterations, progress=False)
            path = Path(directory) / "model.safetensors"
            model.save(path)
            c, c_digest = c_rate(model, args.chars, args.repeats)
            js, js_digest = js_rate(node, path, args.chars, args.repeats)
            print(f"{name:32} {c:11,.0f} {js:11,.0f} {js / c:7.2f}  "
                  f"{'yes' if c_digest == js_digest else 'no'}")
            if name.startswith(("defaults", "smoke 2")):
                sizes = {"full checkpoint": path.stat().st_size}
                for dtype in ("float32", "float16"):
                    weights = Path(directory) / f"weights_{dtype}.safetensors"
                    model.save(weights, weights_only=True, dtype=dtype)
                    sizes[f"weights-only {dtype}"] = weights.stat().st_size
    for kind, size in sizes.items():
        print(f"{kind:>24}: {size:>10,} bytes")


if __name__ == "__main__":
    main()
