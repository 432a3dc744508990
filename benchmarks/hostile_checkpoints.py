"""What refusing a hostile checkpoint costs: seconds and peak memory.

A small fitted model (1 x 8 RNN, 9 symbols, Adagrad: a few KB) is saved, then
rewritten with one size in its metadata set to something its tensors do not
have, and a valid checksum (issue 14). Each file is loaded in a fresh
process, which reports the wall time of CharRNN.load, its peak resident
memory (ru_maxrss) before and after, and what was raised. A load that takes
longer than --timeout is killed, and --memory caps its address space, so
that measuring the unfixed code cannot take the machine down.

    python benchmarks/hostile_checkpoints.py
    python benchmarks/hostile_checkpoints.py --cases num_layers=100000 --timeout 60
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

from charrnn_c import CharRNN
from charrnn_c import safetensors_file as cio
from common import blas_description, cpu_name

CASES = ("num_layers=1000000", "num_layers=100000", "hidden_size=1000000000")

CHILD = """
import json, resource, sys, time
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from charrnn_c import CharRNN
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    CharRNN.load(sys.argv[1])
    raised, message = None, ""
except BaseException as error:
    raised, message = type(error).__name__, str(error)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "before_kb": before, "after_kb": after,
                  "raised": raised, "message_chars": len(message), "message": message[:160]}))
"""


def measure(path, timeout, memory):
    try:
        result = subprocess.run([sys.executable, "-c", CHILD, path, str(memory)],
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    lines = result.stdout.strip().splitlines()
    if not lines:
        return {"crashed": result.returncode, "stderr": result.stderr[-300:]}
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES),
                        help="comma-separated param=value (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per load")
    parser.add_argument("--memory", type=int, default=4 << 30,
                        help="address-space cap per load in bytes, 0 for none")
    args = parser.parse_args()
    print(blas_description())
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
          f"NumPy {np.__version__}")
    with tempfile.TemporaryDirectory() as directory:
        model = CharRNN(hidden_size=8, num_layers=1, cell="rnn", optimizer="adagrad",
                        batch_size=1, seq_length=25, seed=0).fit("hello world " * 40,
                                                                 iterations=3, progress=False)
        good = os.path.join(directory, "good.safetensors")
        model.save(good)
        tensors, metadata = cio.load_checkpoint(good)
        print(f"good checkpoint: {os.path.getsize(good):,} bytes")
        baseline = measure(good, args.timeout, args.memory)
        print(f"  loads in {baseline['seconds']:.4f} s, peak RSS "
              f"{baseline['before_kb'] / 1024:.1f} -> {baseline['after_kb'] / 1024:.1f} MB")
        for case in args.cases.split(","):
            name, value = case.split("=")
            metadata["params"] = {**model.get_params(), name: int(value)}
            path = os.path.join(directory, f"{name}.safetensors")
            with open(path, "wb") as file:
                file.write(cio.checkpoint_bytes(tensors, metadata))
            result = measure(path, args.timeout, args.memory)
            print(f"{case} ({os.path.getsize(path):,} bytes):")
            if result is None:
                print(f"  still loading after {args.timeout:.0f} s: killed")
            elif "crashed" in result:
                print(f"  the process died (status {result['crashed']}): {result['stderr']}")
            else:
                print(f"  {result['seconds']:.4f} s, peak RSS {result['before_kb'] / 1024:.1f} "
                      f"-> {result['after_kb'] / 1024:.1f} MB; {result['raised']} of "
                      f"{result['message_chars']:,} characters: {result['message']}")


if __name__ == "__main__":
    main()
