"""Training throughput, side by side: our C kernel, the NumPy reference, PyTorch.

Each side runs the same training step (forward, BPTT, elementwise clip to
[-clip, clip], Adagrad) on the same text, sizes, dtype and initial weights,
carrying the hidden state across steps, for a fixed wall time (``--seconds``)
cut into slices, of which the fastest counts (``--slices``); for each thread
count of ``--threads`` (1,2,auto: auto is what CharRNN(n_threads=None)
picks). Ours runs its own threads, each on a share of the streams, with
OpenBLAS kept at one (threads.py); the NumPy sides and PyTorch get that many
threads in their own pools. PyTorch runs twice: as users run it, and with
torch.set_flush_denormal(True), as ours flushes subnormals (csrc/fpmode.h);
the LSTM rows, from N(0, 0.01^2) weights, are the ones whose values go
subnormal. The tanh RNN
is compared with nn.RNN, the GRU and LSTM configurations with nn.GRU and
nn.LSTM (the NumPy reference sits those out: its Python loop over steps
would take minutes per run). The write-up's configuration also runs the
write-up's own NumPy loop (``writeup_side``), which a second table compares.

    python benchmarks/train_speed.py                    # all configurations
    python benchmarks/train_speed.py --configs batched --seconds 2 --threads 1
    python benchmarks/train_speed.py --configs lstm,gru,lstm-b1,gru-b1
    python benchmarks/train_speed.py --configs none --defaults   # only the defaults rows

``--defaults`` also times a small model at batch 1, a 1 x 256 RNN (``charrnn
train --preset writeup --hidden-size 256 --dtype float32``, the speed issue's
case), as a new user runs it (no thread settings), with and without
OPENBLAS_NUM_THREADS=1, alone and with a CPU-bound process beside it.

It prints one progress line per run, then a markdown table of chars/s (chars =
seq_length * batch_size per step), the ratios, and for both our kernel and
PyTorch the achieved GFLOP/s (``train_step_flops``), next to the machine's
sgemm peak measured in the same run for the batched configurations. Set
CHARRNN_SMALL_GEMM=0 to see what cutting the per-step products for OpenBLAS's
small-matrix kernels buys (csrc/blas.h).

PyTorch is optional: without it its columns read "n/a".
"""

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg.blas
from threadpoolctl import threadpool_limits

from charrnn_c import _core, kernels, reference
from charrnn_c.optimizers import Adagrad
from charrnn_c.spec import ModelSpec
from charrnn_c.split_step import SplitStep
from charrnn_c.threads import blas_on_one_thread, resolve_threads
from common import (TEXT_PATH, cpu_name, format_rate, format_ratio, parse_configs,
                    parse_threads, timed_slices)

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

TEXT_BYTES = 1 << 20            # the first ~1 MB of the corpus

SEQ_LENGTH = 25
LEARNING_RATE = 0.1
CLIP = 5.0
INIT_STD = 0.01
SGEMM_SIZE = 2048


@dataclass(frozen=True)
class Config:
    key: str                    # what --configs takes
    title: str                  # what the table prints
    num_layers: int
    hidden_size: int
    batch_size: int
    dtype: type
    measure_peak: bool          # compare our GFLOP/s with the sgemm peak
    cell: str = "rnn"
    seq_length: int = SEQ_LENGTH
    numpy: bool = True          # run the NumPy reference too
    writeup: bool = False       # and the write-up's own loop (1 layer, batch 1)


CONFIGS = [
    Config("write-up", "write-up (1x100, B=1, f64)", 1, 100, 1, np.float64, False,
           writeup=True),
    Config("write-up-big", "write-up big (3x512, B=1, f32)", 3, 512, 1, np.float32, False),
    Config("batched", "batched (3x512, B=32, f32)", 3, 512, 32, np.float32, True),
    Config("lstm", "LSTM (2x512, B=32, T=50, f32)", 2, 512, 32, np.float32, True,
           "lstm", 50, False),
    Config("gru", "GRU (2x512, B=32, T=50, f32)", 2, 512, 32, np.float32, True,
           "gru", 50, False),
    Config("lstm-b1", "LSTM (2x512, B=1, T=50, f32)", 2, 512, 1, np.float32, False,
           "lstm", 50, False),
    Config("gru-b1", "GRU (2x512, B=1, T=50, f32)", 2, 512, 1, np.float32, False,
           "gru", 50, False),
]


def train_step_flops(T, B, H, V, L, gates=1):
    """Floating-point operations of one training step, from its matrix products.

    Forward, per time step and stream: the recurrence h_{t-1} W_hh^T in every
    layer (2 G H^2, with G = 1, 3, 4 gate blocks for the RNN, GRU, LSTM), the
    input projection x_t W_ih^T in the L - 1 layers above the first (2 G H^2;
    layer 0's one-hot product is a column gather, counted as free) and the
    output h_t W_ho^T (2 H V). Backward differentiates each product twice,
    once for its input and once for its weight, at the same cost each: twice
    the forward (it skips the recurrence's dh at t = 0, a 1/T correction left
    out). Elementwise work (activations, softmax, the scatter-add into W_ih,
    clipping, Adagrad) is O(T B (G H + V) + P) and left out too.
    """
    forward = 2 * T * B * (gates * H * H * (2 * L - 1) + H * V)
    return 3 * forward


def load_text(path, num_bytes):
    """The text's first bytes as int32 codes into its sorted vocabulary."""
    with open(path, "rb") as f:
        raw = np.frombuffer(f.read(num_bytes), dtype=np.uint8)
    vocab, codes = np.unique(raw, return_inverse=True)
    return codes.astype(np.int32), len(vocab)


def make_batches(codes, seq_length, batch_size):
    """(inputs, targets), each (N, T, B) int32: the text cut into B streams.

    Stream b is the b-th contiguous slice of the text; batch i holds
    characters [i T, (i + 1) T) of every stream, time-major, and the targets
    are the same characters one step later.
    """
    stream_length = len(codes) // batch_size
    streams = codes[:batch_size * stream_length].reshape(batch_size, stream_length)
    num_batches = (stream_length - 1) // seq_length
    if num_batches < 1:
        raise ValueError(f"text too short for {batch_size} streams of {seq_length} steps")
    span = num_batches * seq_length

    def cut(chars):             # (B, N * T) -> (N, T, B)
        return np.ascontiguousarray(
            chars.reshape(batch_size, num_batches, seq_length).transpose(1, 2, 0))

    return cut(streams[:, :span]), cut(streams[:, 1:span + 1])


def numpy_side(train_step, spec, params0, inputs, targets):
    """A step(i) closure over train_step(spec, optimizer, params, grads, ...)
    for batch i, with a fresh Adagrad at LEARNING_RATE.

    The hidden state (and the LSTM's cell state) is carried from step to step
    and zeroed when the text wraps around to batch 0, as in the write-up.
    """
    params = params0.copy()
    grads = np.zeros_like(params)
    optimizer = Adagrad(spec, LEARNING_RATE)
    state_shape = spec.state_shape(inputs.shape[2])
    h = None

    def step(i):
        nonlocal h
        if i == 0:
            h = np.zeros(state_shape, dtype=spec.np_dtype)
        loss, h = train_step(spec, optimizer, params, grads, inputs[i], targets[i], h, CLIP)
        return float(loss)

    return step


def ours_side(spec, params0, inputs, targets, threads):
    """Our step as CharRNN(n_threads=threads) takes it (resolve_threads: a
    batch-1 step stays on one thread): one fused C call, or a SplitStep.
    BLAS stays on one thread inside it."""
    T, B = inputs.shape[1:]
    threads = resolve_threads(threads, B, spec.step_flops(T))
    if threads == 1:
        return numpy_side(kernels.train_step, spec, params0, inputs, targets)
    split = SplitStep(spec, inputs.shape[2], threads)

    def train_step(spec, optimizer, params, grads, inputs, targets, h, clip):
        return split(optimizer, params, grads, inputs, targets, h, clip)

    return numpy_side(train_step, spec, params0, inputs, targets)


def writeup_side(spec, params0, inputs, targets):
    """min-char-rnn's own loop, as published: lossFun over column vectors
    (one-hot x multiplied by Wxh, dicts of per-step values), np.clip on each
    gradient, then Adagrad on each parameter. One layer, one stream.

    Its names map onto ours as the reference's docstring says; bh is
    bias_ih_l0 + bias_hh_l0, so the model is the same one. ``spec`` is a
    one-layer "rnn" ModelSpec."""
    vocab_size, hidden_size = spec.vocab_size, spec.hidden_size
    views = spec.unflatten(params0.copy())
    Wxh, Whh, Why = views["weight_ih_l0"], views["weight_hh_l0"], views["weight_ho"]
    bh = (views["bias_ih_l0"] + views["bias_hh_l0"])[:, None]
    by = views["bias_o"][:, None].copy()
    weights = [Wxh, Whh, Why, bh, by]
    memory = [np.zeros_like(w) for w in weights]
    hprev = None

    def loss_fun(xs_idx, ys_idx, hprev):
        xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
        loss = 0
        for t in range(len(xs_idx)):
            xs[t] = np.zeros((vocab_size, 1))
            xs[t][xs_idx[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            y = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(y) / np.sum(np.exp(y))
            loss += -np.log(ps[t][ys_idx[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(xs_idx))):
            dy = np.copy(ps[t])
            dy[ys_idx[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        grads = [dWxh, dWhh, dWhy, dbh, dby]
        for dparam in grads:
            np.clip(dparam, -CLIP, CLIP, out=dparam)
        return loss, grads, hs[len(xs_idx) - 1]

    def step(i):
        nonlocal hprev
        if i == 0:
            hprev = np.zeros((hidden_size, 1))
        loss, grads, hprev = loss_fun(inputs[i][:, 0], targets[i][:, 0], hprev)
        for param, dparam, mem in zip(weights, grads, memory):
            mem += dparam * dparam
            param += -LEARNING_RATE * dparam / np.sqrt(mem + 1e-8)
        return float(loss)

    return step


TORCH_MODULES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def torch_side(spec, params0, inputs, targets):
    """The same step in PyTorch: nn.RNN(tanh), nn.GRU or nn.LSTM fed one-hot
    vectors, nn.Linear out.

    Weights start equal to ours (PyTorch's parameter names are our layout's).
    Adagrad differs slightly: torch updates p -= lr g / (sqrt(mem) + eps), we
    update p -= lr g / sqrt(mem + eps), both with eps = 1e-8. The steps agree
    once sqrt(mem) is well above 1e-4 and differ only for parameters whose
    gradients have stayed smaller than that; the work per parameter (a
    square root, an add, a divide) is the same, which is close enough for
    timing.
    """
    V, H, L, cell = spec.vocab_size, spec.hidden_size, spec.num_layers, spec.cell
    dtype = torch.float64 if spec.np_dtype == np.float64 else torch.float32
    views = spec.unflatten(params0)
    rnn = getattr(torch.nn, TORCH_MODULES[cell])(V, H, num_layers=L).to(dtype)
    head = torch.nn.Linear(H, V).to(dtype)
    with torch.no_grad():
        for name, value in rnn.named_parameters():
            value.copy_(torch.from_numpy(views[name]))
        head.weight.copy_(torch.from_numpy(views["weight_ho"]))
        head.bias.copy_(torch.from_numpy(views["bias_o"]))
    parameters = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adagrad(parameters, lr=LEARNING_RATE, eps=1e-8)

    all_inputs = torch.from_numpy(inputs.astype(np.int64))     # one_hot wants int64
    all_targets = torch.from_numpy(targets.astype(np.int64))
    T, B = inputs.shape[1:]
    h = None

    def step(i):
        nonlocal h
        if i == 0:
            h = torch.zeros(L, B, H, dtype=dtype)
            if cell == "lstm":
                h = (h, torch.zeros(L, B, H, dtype=dtype))
        x = F.one_hot(all_inputs[i], V).to(dtype)                # (T, B, V)
        out, h_last = rnn(x, h)                                  # (T, B, H)
        logits = head(out).reshape(T * B, V)
        loss = F.cross_entropy(logits, all_targets[i].reshape(-1), reduction="sum") / B
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(parameters, CLIP)
        optimizer.step()
        h = tuple(s.detach() for s in h_last) if cell == "lstm" else h_last.detach()
        return loss.item()

    return step


def defaults_rows(text_path, iterations=8000):
    """A 1 x 256 RNN at batch 1 for ``iterations`` steps, as a new user runs
    `charrnn train` (no thread settings), against OPENBLAS_NUM_THREADS=1,
    each alone and with a CPU-bound process beside it; steps/s from the
    command's own timing."""
    scratch = tempfile.TemporaryDirectory(prefix="charrnn-bench-")
    command = [sys.executable, "-m", "charrnn_c", "train", str(text_path), "--preset",
               "writeup", "--hidden-size", "256", "--dtype", "float32", "--iterations",
               str(iterations), "--no-progress", "--sample-every", str(10 * iterations)]
    results = {}
    for busy in (False, True):
        neighbour = (subprocess.Popen([sys.executable, "-c", "while True: pass"])
                     if busy else None)
        try:
            for env_name, extra in (("defaults", {}), ("OPENBLAS_NUM_THREADS=1",
                                                   {"OPENBLAS_NUM_THREADS": "1"})):
                env = {k: v for k, v in os.environ.items()
                       if not k.startswith(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))}
                env.update(extra)
                start = time.perf_counter()
                # A fresh checkpoint per run: nothing to resume or refuse.
                checkpoint = Path(scratch.name) / f"run-{busy}-{len(results)}.safetensors"
                subprocess.run(command + ["--checkpoint", str(checkpoint)], env=env, check=True,
                               capture_output=True)
                results[busy, env_name] = iterations / (time.perf_counter() - start)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    print("\n`charrnn train --preset writeup --hidden-size 256 --dtype float32` (1 x 256 RNN, "
          f"batch 1), {iterations:,} iterations, steps/s including start-up:\n")
    print("| beside it | defaults | OPENBLAS_NUM_THREADS=1 | defaults / 1 thread |")
    print("|---|---:|---:|---:|")
    for busy in (False, True):
        d, one = results[busy, "defaults"], results[busy, "OPENBLAS_NUM_THREADS=1"]
        print(f"| {'a CPU-bound process' if busy else 'nothing'} | {d:,.0f} | {one:,.0f} "
              f"| {d / one:.2f}x |")


def sgemm_peak(size, repeats=5):
    """Best GFLOP/s of scipy's sgemm on (size, size) Fortran-ordered float32.

    Call it inside the thread limit to measure."""
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
    c = np.zeros((size, size), dtype=np.float32, order="F")
    scipy.linalg.blas.sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=True)    # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        scipy.linalg.blas.sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=True)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=lambda text: [] if text == "none"
                        else parse_configs(text, CONFIGS), default=CONFIGS,
                        help="comma-separated: " + ", ".join(c.key for c in CONFIGS)
                        + f" (or 1-{len(CONFIGS)}); default all")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="wall time per side and run, after a warm-up of a tenth of it "
                        "(default 4)")
    parser.add_argument("--slices", type=int, default=3,
                        help="the timed part is cut into this many slices and the fastest "
                        "counts, which keeps bursts of other work on the machine out of the "
                        "numbers (default 3)")
    parser.add_argument("--threads", type=parse_threads, default=[1, 2, "auto"],
                        help="thread counts to run with, comma-separated; auto is what "
                        "CharRNN(n_threads=None) picks (default 1,2,auto)")
    parser.add_argument("--text", type=Path, default=TEXT_PATH,
                        help=f"training text; its first {TEXT_BYTES:,} bytes are used")
    parser.add_argument("--defaults", action="store_true",
                        help="also time a 1 x 256 RNN at batch 1 through `charrnn train` as "
                        "a new user runs it, against OPENBLAS_NUM_THREADS=1, alone and beside "
                        "a busy process")
    args = parser.parse_args(argv)
    if args.slices < 1 or not args.seconds > 0:
        parser.error("--slices must be at least 1 and --seconds positive")

    load_at_start = os.getloadavg()[0]
    codes, vocab_size = load_text(args.text, TEXT_BYTES)
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs)")
    print(f"ours: subnormals flushed in every call: {_core.flush_subnormals()}; "
          f"OpenBLAS threads outside our calls: {_core.blas_threads()}")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
          f"PyTorch {torch.__version__ if torch else 'not installed'}")
    print(f"scipy's BLAS: OpenBLAS core {_core.BLAS_CORENAME or 'n/a'}; per-step products "
          f"cut for small-matrix kernels: {'yes' if _core.small_gemm_blocks() else 'no'}")
    if os.environ.get("OPENBLAS_CORETYPE"):
        print(f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}")
    print(f"text: first {len(codes):,} bytes of {args.text.name}, vocabulary {vocab_size}; "
          f"seq_length {SEQ_LENGTH} (or as the configuration says), lr {LEARNING_RATE}, "
          f"clip {CLIP}, "
          f"{args.seconds:g} s per side and run, fastest of {args.slices} slices\n")

    sides = ["ours", "numpy", "write-up"]
    if torch is not None:
        sides += ["torch", "torch-ftz"]
        torch_threads = torch.get_num_threads()

    peaks = {}
    rows = []
    first_losses = []
    for config in args.configs:
        L, H, B = config.num_layers, config.hidden_size, config.batch_size
        T, cell = config.seq_length, config.cell
        inputs, targets = make_batches(codes, T, B)
        spec = ModelSpec(vocab_size, H, L, cell, config.dtype)
        params0 = spec.init_params(seed=0, std=INIT_STD)
        flops = train_step_flops(T, B, H, vocab_size, L, spec.gates)
        for wanted in args.threads:
            threads = (resolve_threads(None, B, spec.step_flops(T)) if wanted == "auto"
                       else wanted)
            label = f"auto={threads}" if wanted == "auto" else str(threads)
            # Every BLAS (numpy's and scipy's OpenBLAS are separate libraries)
            # and OpenMP pool in the process, then torch's own intra-op pool;
            # ours keeps scipy's OpenBLAS at one inside its calls and runs
            # its own threads.
            with threadpool_limits(limits=threads):
                if torch is not None:
                    torch.set_num_threads(threads)
                if config.measure_peak and threads not in peaks:
                    peaks[threads] = sgemm_peak(SGEMM_SIZE)
                    print(f"sgemm {SGEMM_SIZE}x{SGEMM_SIZE} float32, {threads} thread(s): "
                          f"{peaks[threads]:.1f} GFLOP/s")
                chars_per_s = {}
                losses = {}
                for name in sides:
                    if name == "numpy" and not config.numpy:
                        continue
                    if name == "write-up" and not config.writeup:
                        continue
                    if name == "write-up":
                        step = writeup_side(spec, params0, inputs, targets)
                    elif name.startswith("torch"):
                        torch.set_flush_denormal(name == "torch-ftz")
                        step = torch_side(spec, params0, inputs, targets)
                    elif name == "ours":
                        step = ours_side(spec, params0, inputs, targets, threads)
                    else:
                        step = numpy_side(reference.train_step, spec, params0, inputs, targets)
                    with blas_on_one_thread if name == "ours" else threadpool_limits(threads):
                        losses[name] = step(0)
                        batches = itertools.count(1)

                        def one_step():
                            step(next(batches) % len(inputs))
                            return 1

                        rates = timed_slices(one_step, args.seconds, args.slices)
                    if name.startswith("torch"):
                        torch.set_flush_denormal(False)
                    best = max(rates)
                    chars_per_s[name] = best * T * B
                    print(f"{config.key:>12}  {label:>6} thread(s)  {name:>9}: "
                          f"{best:9.1f} steps/s  {chars_per_s[name]:11,.0f} chars/s  "
                          f"(slowest slice {min(rates):9.1f} steps/s)", flush=True)
            rows.append((config, label, threads, chars_per_s, flops / (T * B)))
            first_losses.append((config, label, losses))
    if torch is not None:
        torch.set_num_threads(torch_threads)

    print("\n| config | threads | ours chars/s | numpy chars/s | torch chars/s "
          "| torch+FTZ chars/s | ours/numpy | ours/torch | ours/torch+FTZ "
          "| GFLOP/s ours / torch+FTZ | % sgemm peak ours / torch+FTZ |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for config, label, threads, rate, flops_per_char in rows:
        ours, numpy_rate = rate["ours"], rate.get("numpy")
        torch_rate, torch_ftz = rate.get("torch"), rate.get("torch-ftz")
        gflops = [r * flops_per_char / 1e9 if r else None for r in (ours, torch_ftz)]
        gflops_text = " / ".join("n/a" if g is None else f"{g:.1f}" for g in gflops)
        peak = "-"
        if config.measure_peak:
            peak = " / ".join("n/a" if g is None else f"{100 * g / peaks[threads]:.0f}%"
                              for g in gflops)
        print(f"| {config.title} | {label} | {format_rate(ours)} | {format_rate(numpy_rate)} "
              f"| {format_rate(torch_rate)} | {format_rate(torch_ftz)} "
              f"| {format_ratio(ours, numpy_rate)} | {format_ratio(ours, torch_rate)} "
              f"| {format_ratio(ours, torch_ftz)} | {gflops_text} | {peak} |")

    # What a second thread buys each side, from the same run.
    one = {config.key: rate for config, label, threads, rate, _ in rows if label == "1"}
    scaling = [(config, label, rate) for config, label, threads, rate, _ in rows
               if threads > 1 and config.key in one]
    if scaling:
        print("\n| config | threads | ours vs its 1 thread | torch+FTZ vs its 1 thread |")
        print("|---|---:|---:|---:|")
        for config, label, rate in scaling:
            base = one[config.key]
            print(f"| {config.title} | {label} | {format_ratio(rate['ours'], base['ours'])} "
                  f"| {format_ratio(rate.get('torch-ftz'), base.get('torch-ftz'))} |")

    writeup_rows = [(c, t, r) for c, t, _, r, _ in rows if "write-up" in r]
    if writeup_rows:
        print("\nThe write-up's own loop (min-char-rnn's lossFun and Adagrad, NumPy):\n")
        print("| config | threads | ours chars/s | write-up loop chars/s | ours/write-up loop |")
        print("|---|---:|---:|---:|---:|")
        for config, threads, rate in writeup_rows:
            print(f"| {config.title} | {threads} | {format_rate(rate['ours'])} "
                  f"| {format_rate(rate['write-up'])} "
                  f"| {format_ratio(rate['ours'], rate['write-up'])} |")

    print("\nGFLOP/s counts matrix products only: 6 T B (G H^2 (2L - 1) + H V) per step, "
          "G = 1, 3, 4 gate blocks for the RNN, GRU, LSTM (train_step_flops), for\n"
          "both sides: torch, fed one-hot vectors, also multiplies them by W_ih, "
          "which is not counted.")
    if peaks:
        print("sgemm peak: " + ", ".join(f"{t} thread(s) {p:.1f} GFLOP/s"
                                          for t, p in sorted(peaks.items())))
        # With other work on the CPUs, more threads than free cores make
        # OpenBLAS wait on each other and every multi-threaded number drops.
        if 1 in peaks and any(p < 0.75 * t * peaks[1] for t, p in peaks.items() if t > 1):
            print("warning: sgemm does not scale with threads; other processes are "
                  "probably using the CPUs, so the multi-threaded rows are unreliable")
    if args.defaults:
        defaults_rows(args.text)
    print(f"load average (1 min) at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    # The three sides start from the same weights, batch and zero state, so
    # their first losses must agree; a mismatch means they time different work.
    print("first-step loss (same weights and batch on every side):")
    for config, label, losses in first_losses:
        print(f"  {config.key}, {label} thread(s): "
              + ", ".join(f"{name} {loss:.6f}" for name, loss in losses.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
