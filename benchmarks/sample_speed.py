"""Sampling throughput, side by side: CharRNN.sample, NumPy loops, PyTorch.

Every side draws characters one at a time from the same weights, in the same
dtype, at the same temperature, starting from a zero state and the prime
"\\n" (what CharRNN.sample starts from when given no prime). Each call
draws ``--chars`` characters; each side is timed for ``--seconds`` of wall
time cut into ``--slices`` slices, of which the fastest counts, first with
every thread pool limited to one thread, then to two (``--threads``).

The sides:

    ours      CharRNN.sample(n, seed=i): what users call (seeding, encoding the
              prime and decoding the output included)
    kernel    charrnn_c.kernels.sample directly: the C loop alone
    numpy     a lean per-character NumPy loop: h = tanh(W_ih[:, x] + W_hh h + b)
              per layer, y = W_ho h + b_o, then a cumulative-sum draw
    write-up  the write-up's own loop: np.dot with a one-hot column vector,
              p = exp(y) / sum(exp(y)), np.random.choice(range(V), p=p)
    torch     nn.RNN + nn.Linear stepping one character at a time under
              torch.no_grad(), one-hot input, torch.multinomial(softmax(y))

``reference.sample`` is not a side: it goes through the generic batched
forward pass and would understate what a NumPy loop can do.

Several samples at once: CharRNN.sample(n, num_samples=k) for each k of
``--num-samples`` (1, 8 and 32 by default) draws k streams of ``--chars``
characters in one call, one step of the stack (a matrix product) for all
k streams per character; its rate counts the k streams' characters. Its
check: 32 streams of 1,000 characters drawn together and 32 single calls
of 1,000 each, scored by the model, nats/char +- standard error: the same
distribution, so they should agree within noise.

The weights are trained briefly first (``--train-iterations``; 0 gives
random N(0, 0.1^2) weights and zero biases), once per architecture in
float32, and copied into every side and dtype (float32 values are exact in
float64, so the float64 rows use the very same numbers). Two checks print
after the table: every side's step gives the model's log-probabilities on
the same text, and every side's sample scores alike under the model.

    python benchmarks/sample_speed.py
    python benchmarks/sample_speed.py --configs write-up --seconds 2 --threads 1

PyTorch is optional: without it its column reads "n/a".
"""

import argparse
import itertools
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_limits

from charrnn_c import CharRNN, kernels
from common import (TEXT_PATH, blas_description, cpu_name, format_rate, format_ratio, parse_configs,
                    parse_threads, timed_slices)

try:
    import torch
except ImportError:
    torch = None


PRIME = "\n"
RANDOM_STD = 0.1                # the weights' std with --train-iterations 0
CHECK_CHARACTERS = 200          # characters of the corpus fed to every side's step
CHECK_SAMPLE = 10_000           # characters each side draws for the check on samples
CHECK_STREAMS = 32              # streams drawn together, and single calls, for the batch's check
CHECK_STREAM_CHARS = 1_000      # characters per stream in that check


@dataclass(frozen=True)
class Config:
    key: str                    # what --configs takes
    title: str                  # what the table prints
    num_layers: int
    hidden_size: int
    dtype: str


@dataclass(frozen=True)
class Training:
    """How an architecture's weights are trained before sampling."""
    iterations: int
    optimizer: str
    learning_rate: float


CONFIGS = [
    Config("write-up", "write-up (1x100, f64)", 1, 100, "float64"),
    Config("big", "big (3x512, f32)", 3, 512, "float32"),
    Config("big-f64", "big (3x512, f64)", 3, 512, "float64"),
]

# Per architecture (num_layers, hidden_size). The write-up's Adagrad at lr 0.1
# sends the 3x512 stack's held-out loss to about 18 nats/char within 100
# iterations; Adam at its usual rate brings it down.
TRAINING = {
    (1, 100): Training(2000, "adagrad", 0.1),
    (3, 512): Training(300, "adam", 2e-3),
}


# ----------------------------------------------------------------------
# Weights


def trained_state(text, num_layers, hidden_size, training, seed):
    """A float32 state_dict, and a line saying how it was made."""
    # The write-up's tanh RNN (CharRNN's default cell is the GRU), whose
    # weights copy into torch's nn.RNN by name.
    if training.iterations == 0:
        model = CharRNN.writeup(hidden_size=hidden_size, num_layers=num_layers, dtype="float32",
                                init_std=RANDOM_STD, seed=seed)
        model.fit(text, iterations=0)
        return model.state_dict(), f"random N(0, {RANDOM_STD}^2) weights, zero biases"
    model = CharRNN.writeup(hidden_size=hidden_size, num_layers=num_layers, dtype="float32",
                            optimizer=training.optimizer, learning_rate=training.learning_rate,
                            seed=seed)
    start = time.perf_counter()
    model.fit(text, iterations=training.iterations, eval_every=training.iterations)
    record = model.history_[-1]
    return model.state_dict(), (
        f"trained {training.iterations} iterations ({training.optimizer}, "
        f"lr {training.learning_rate:g}, float32) in {time.perf_counter() - start:.1f} s: "
        f"smoothed train {record['train_loss']:.3f}, held-out {record['val_loss']:.3f} "
        f"nats/char")


def model_with(text, config, state):
    """A CharRNN of ``config``'s size and dtype holding the weights ``state``.

    fit(iterations=0) builds the vocabulary and buffers without taking a
    step; load_state_dict then casts the weights into the model's dtype."""
    model = CharRNN.writeup(hidden_size=config.hidden_size, num_layers=config.num_layers,
                            dtype=config.dtype, seed=0)
    model.fit(text, iterations=0)
    model.load_state_dict(state)
    return model


# ----------------------------------------------------------------------
# The sides. Each is (stepper, draw). draw(n, seed) gives n characters (a str
# for CharRNN.sample, indices for the rest) from a zero state and the prime,
# for the timing. stepper, for the check, is
# (step, fresh_state), step(x, state) -> (logits, state) feeding one character,
# or None for our two sides, whose reference is model.score_samples itself.


def ours_side(model, temperature):
    def draw(n, seed):
        return model.sample(n, seed=seed, temperature=temperature)     # a str

    return None, draw


def kernel_side(model, prime_index, temperature):
    spec, params = model.spec_, model.params_
    h0 = np.zeros(spec.sample_state_shape(), dtype=spec.np_dtype)
    prime = np.array([prime_index], dtype=np.int32)

    def draw(n, seed):
        out, _ = kernels.sample(spec, params, h0, _rng_state(seed), prime, n, temperature)
        return out

    return None, draw


def _rng_state(seed):
    return np.random.SeedSequence(seed).generate_state(4, np.uint64)


def numpy_side(state, num_layers, dtype, prime_index, temperature):
    """The lean loop: a column gather for layer 0, one matvec per product.

    W_ih_l0 is transposed once so that its column x is a contiguous row,
    and each layer's two biases are summed once, as the write-up's bh."""
    dtype = np.dtype(dtype)
    W = {name: np.ascontiguousarray(value, dtype=dtype) for name, value in state.items()}
    embed = np.ascontiguousarray(W["weight_ih_l0"].T)                 # (V, H)
    W_ih = [None] + [W[f"weight_ih_l{layer}"] for layer in range(1, num_layers)]
    W_hh = [W[f"weight_hh_l{layer}"] for layer in range(num_layers)]
    bias = [W[f"bias_ih_l{layer}"] + W[f"bias_hh_l{layer}"] for layer in range(num_layers)]
    W_ho, b_o = W["weight_ho"], W["bias_o"]
    hidden_size = W_hh[0].shape[0]

    def step(x, h):
        below = embed[x]
        for layer in range(num_layers):
            projected = below if layer == 0 else W_ih[layer] @ below
            h[layer] = np.tanh(projected + W_hh[layer] @ h[layer] + bias[layer])
            below = h[layer]
        return W_ho @ below + b_o, h

    def fresh_state():
        return [np.zeros(hidden_size, dtype=dtype) for _ in range(num_layers)]

    def draw(n, seed):
        rng = np.random.default_rng(seed)
        h = fresh_state()
        out = np.empty(n, dtype=np.int32)
        x = prime_index
        for i in range(n):
            y, h = step(x, h)
            p = np.exp((y - y.max()) / temperature)
            cumulative = np.cumsum(p)
            x = min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], "right")),
                    p.size - 1)
            out[i] = x
        return out

    return (step, fresh_state), draw


def writeup_side(state, num_layers, dtype, prime_index, temperature):
    """min-char-rnn's sample(), grown to L layers: column vectors, one-hot x."""
    dtype = np.dtype(dtype)
    W = {name: np.asarray(value, dtype=dtype) for name, value in state.items()}
    W_ih = [W[f"weight_ih_l{layer}"] for layer in range(num_layers)]
    W_hh = [W[f"weight_hh_l{layer}"] for layer in range(num_layers)]
    bias = [(W[f"bias_ih_l{layer}"] + W[f"bias_hh_l{layer}"])[:, None]
            for layer in range(num_layers)]
    Why, by = W["weight_ho"], W["bias_o"][:, None]
    vocab_size, hidden_size = Why.shape

    def step(x, h):
        below = np.zeros((vocab_size, 1), dtype=dtype)
        below[x] = 1
        for layer in range(num_layers):
            h[layer] = np.tanh(np.dot(W_ih[layer], below) + np.dot(W_hh[layer], h[layer])
                               + bias[layer])
            below = h[layer]
        return np.dot(Why, below) + by, h

    def fresh_state():
        return [np.zeros((hidden_size, 1), dtype=dtype) for _ in range(num_layers)]

    def draw(n, seed):
        random = np.random.RandomState(seed)
        h = fresh_state()
        ixes = []
        x = prime_index
        for _ in range(n):
            y, h = step(x, h)
            p = np.exp(y / temperature) / np.sum(np.exp(y / temperature))
            x = random.choice(range(vocab_size), p=p.ravel())
            ixes.append(x)
        return np.array(ixes, dtype=np.int32)

    return (step, fresh_state), draw


def torch_side(state, num_layers, dtype, prime_index, temperature):
    """nn.RNN(tanh) + nn.Linear, one character per call, one-hot input.

    nn.RNN's parameter names are our layout's, so the weights copy by name."""
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    vocab_size, hidden_size = state["weight_ho"].shape
    rnn = torch.nn.RNN(vocab_size, hidden_size, num_layers=num_layers,
                       nonlinearity="tanh").to(torch_dtype)
    head = torch.nn.Linear(hidden_size, vocab_size).to(torch_dtype)
    with torch.no_grad():
        for name, value in rnn.named_parameters():
            value.copy_(torch.from_numpy(np.asarray(state[name])))
        head.weight.copy_(torch.from_numpy(np.asarray(state["weight_ho"])))
        head.bias.copy_(torch.from_numpy(np.asarray(state["bias_o"])))
    one_hot = torch.eye(vocab_size, dtype=torch_dtype)

    def step(x, h):
        with torch.no_grad():
            out, h = rnn(one_hot[x].view(1, 1, vocab_size), h)
            return head(out[0, 0]).numpy().astype(np.float64), h

    def draw(n, seed):
        generator = torch.Generator().manual_seed(seed)
        out = np.empty(n, dtype=np.int32)
        x = prime_index
        with torch.no_grad():
            h = torch.zeros(num_layers, 1, hidden_size, dtype=torch_dtype)
            for i in range(n):
                y, h = rnn(one_hot[x].view(1, 1, vocab_size), h)
                p = torch.softmax(head(y[0, 0]) / temperature, dim=-1)
                x = int(torch.multinomial(p, 1, generator=generator))
                out[i] = x
        return out

    def fresh_state():
        return torch.zeros(num_layers, 1, hidden_size, dtype=torch_dtype)

    return (step, fresh_state), draw


# ----------------------------------------------------------------------
# Timing and checks


def step_log_probs(stepper, codes):
    """log softmax of a side's logits at each character of ``codes``, from zero.

    Returns log p(codes[i + 1] | codes[:i + 1]) for every i, like model.score_samples."""
    step, fresh_state = stepper
    h = fresh_state()
    values = []
    for x, target in zip(codes[:-1], codes[1:]):
        y, h = step(int(x), h)
        y = np.asarray(y, dtype=np.float64).ravel()
        values.append(y[target] - y.max() - np.log(np.exp(y - y.max()).sum()))
    return np.array(values)


def sample_nats(model, sample):
    """-log p per character of a side's sample (str or indices), scored by the model.

    Returns (mean, standard error of the mean). The prime goes first, so
    the scores are the probabilities the sample was drawn from (at
    temperature 1)."""
    if not isinstance(sample, str):
        sample = model.vocab_.decode(np.asarray(sample, dtype=np.int64))
    nats = -model.score_samples(PRIME + sample)
    return float(nats.mean()), float(nats.std(ddof=1) / np.sqrt(nats.size))


def batched_nats(model, temperature):
    """nats/char (mean, standard error) of CHECK_STREAMS samples drawn in one
    call with num_samples, and of as many single calls: (batched, single)."""
    batched = model.sample(CHECK_STREAM_CHARS, num_samples=CHECK_STREAMS, seed=7,
                           temperature=temperature)
    single = [model.sample(CHECK_STREAM_CHARS, seed=10**6 + i, temperature=temperature)
              for i in range(CHECK_STREAMS)]

    def nats(samples):
        values = np.concatenate([-model.score_samples(PRIME + sample) for sample in samples])
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))

    return nats(batched), nats(single)


def call_overhead(model, prime_index, calls=2000, repeats=5):
    """Seconds CharRNN.sample(1) takes over kernels.sample(..., 1): its cost per call.

    Both feed the prime and draw one character; the best of ``repeats``
    rounds of ``calls`` calls each is taken for each."""
    spec, params = model.spec_, model.params_
    h0 = np.zeros(spec.sample_state_shape(), dtype=spec.np_dtype)
    prime = np.array([prime_index], dtype=np.int32)

    def best(call):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for seed in range(calls):
                call(seed)
            times.append((time.perf_counter() - start) / calls)
        return min(times)

    ours = best(lambda seed: model.sample(1, seed=seed))
    kernel = best(lambda seed: kernels.sample(spec, params, h0, _rng_state(seed), prime, 1))
    return ours - kernel


# ----------------------------------------------------------------------
# The report


SIDE_NAMES = ("ours", "kernel", "numpy", "write-up", "torch")


def make_sides(model, state, config, temperature):
    """{name: (stepper or None, draw)} for every side available."""
    prime_index = int(model.vocab_.encode(PRIME)[0])
    L, dtype = config.num_layers, config.dtype
    sides = {
        "ours": ours_side(model, temperature),
        "kernel": kernel_side(model, prime_index, temperature),
        "numpy": numpy_side(state, L, dtype, prime_index, temperature),
        "write-up": writeup_side(state, L, dtype, prime_index, temperature),
    }
    if torch is not None:
        sides["torch"] = torch_side(state, L, dtype, prime_index, temperature)
    return sides


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=lambda text: parse_configs(text, CONFIGS), default=CONFIGS,
                        help="comma-separated: " + ", ".join(c.key for c in CONFIGS)
                        + " (or 1-3); default all")
    parser.add_argument("--chars", type=int, default=1000,
                        help="characters per sampling call (default 1000)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="wall time per side and run, after a warm-up of a tenth of it "
                        "(default 3)")
    parser.add_argument("--slices", type=int, default=3,
                        help="the timed part is cut into this many slices and the fastest "
                        "counts (default 3)")
    parser.add_argument("--threads", type=parse_threads, default=[1, 2],
                        help="thread counts to run with, comma-separated (default 1,2)")
    parser.add_argument("--num-samples", type=lambda text: [int(k) for k in text.split(",") if k],
                        default=[1, 8, 32],
                        help="streams per call for the rows of several samples at once, "
                        "comma-separated (default 1,8,32; an empty list skips them)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature, > 0 (default 1.0)")
    parser.add_argument("--train-iterations", type=int, default=None,
                        help="training iterations before sampling, for every architecture "
                        "(default: " + ", ".join(f"{L}x{H} {t.iterations}"
                                                 for (L, H), t in TRAINING.items())
                        + "); 0 for random N(0, 0.1^2) weights")
    parser.add_argument("--text", type=Path, default=TEXT_PATH,
                        help="the corpus: vocabulary, training, and the check's text")
    args = parser.parse_args(argv)
    if args.slices < 1 or not args.seconds > 0 or args.chars < 1:
        parser.error("--slices and --chars must be at least 1 and --seconds positive")
    if any(k < 1 for k in args.num_samples):
        parser.error("--num-samples takes positive integers")
    if not args.temperature > 0:
        parser.error("--temperature must be positive (0 is argmax, not a draw)")
    if args.train_iterations is not None and args.train_iterations < 0:
        parser.error("--train-iterations must be >= 0")

    load_at_start = os.getloadavg()[0]
    text = args.text.read_text(encoding="utf-8")
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs)")
    print(blas_description())
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
          f"PyTorch {torch.__version__ if torch else 'not installed'}")
    print(f"text: {args.text.name}, {len(text):,} characters, vocabulary {len(set(text))}; "
          f"{args.chars} characters per call after the prime {PRIME!r}, temperature "
          f"{args.temperature:g}; {args.seconds:g} s per side and run, fastest of "
          f"{args.slices} slices")

    states = {}
    rows, checks, batch_rows, batch_checks = [], [], [], []
    torch_threads = torch.get_num_threads() if torch is not None else None
    for config in args.configs:
        architecture = (config.num_layers, config.hidden_size)
        if architecture not in states:
            training = TRAINING[architecture]
            if args.train_iterations is not None:
                training = Training(args.train_iterations, training.optimizer,
                                    training.learning_rate)
            with threadpool_limits(limits=max(args.threads)):
                states[architecture] = trained_state(text, *architecture, training, seed=0)
            print(f"weights {config.num_layers}x{config.hidden_size}: "
                  f"{states[architecture][1]}")
        state = states[architecture][0]
        model = model_with(text, config, state)
        sides = make_sides(model, state, config, args.temperature)
        for threads in args.threads:
            # Every BLAS and OpenMP pool in the process, then torch's own pool.
            with threadpool_limits(limits=threads):
                if torch is not None:
                    torch.set_num_threads(threads)
                rates = {}
                for name, (_, draw) in sides.items():
                    seeds = itertools.count()
                    slice_rates = timed_slices(lambda: len(draw(args.chars, next(seeds))),
                                               args.seconds, args.slices)
                    rates[name] = max(slice_rates)
                    print(f"{config.key:>8}  {threads} thread(s)  {name:>8}: "
                          f"{rates[name]:11,.0f} chars/s  "
                          f"(slowest slice {min(slice_rates):11,.0f})", flush=True)
                batch_rates = {}
                for k in args.num_samples:
                    seeds = itertools.count()
                    slice_rates = timed_slices(
                        lambda: sum(map(len, model.sample(args.chars, num_samples=k,
                                                          seed=next(seeds),
                                                          temperature=args.temperature))),
                        args.seconds, args.slices)
                    batch_rates[k] = max(slice_rates)
                    print(f"{config.key:>8}  {threads} thread(s)  k = {k:>3}: "
                          f"{batch_rates[k]:11,.0f} chars/s  "
                          f"(slowest slice {min(slice_rates):11,.0f})", flush=True)
                batch_rows.append((config, threads, batch_rates))
                if threads == args.threads[0]:
                    if args.num_samples:
                        batch_checks.append((config, batched_nats(model, args.temperature)))
                    overhead = call_overhead(model, int(model.vocab_.encode(PRIME)[0]))
                    samples = {name: draw(CHECK_SAMPLE, 10**6)
                               for name, (_, draw) in sides.items()}
                    checks.append((config, model, sides, samples, overhead))
            rows.append((config, threads, rates))
    if torch is not None:
        torch.set_num_threads(torch_threads)

    print("\nchars/s (ours = CharRNN.sample; kernel = kernels.sample; numpy = the lean loop; "
          "write-up = min-char-rnn's loop):\n")
    print("| config | threads | ours | kernel | numpy | write-up | torch "
          "| ours/numpy | ours/write-up | ours/torch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for config, threads, rate in rows:
        ours = rate["ours"]
        print(f"| {config.title} | {threads} | "
              + " | ".join(format_rate(rate.get(name)) for name in SIDE_NAMES)
              + f" | {format_ratio(ours, rate['numpy'])} | {format_ratio(ours, rate['write-up'])}"
              f" | {format_ratio(ours, rate.get('torch'))} |")

    if args.num_samples:
        ks = args.num_samples
        print(f"\nSeveral samples at once, chars/s (CharRNN.sample({args.chars}, num_samples=k): "
              f"k streams of {args.chars} characters per call, counted together):\n")
        print("| config | threads | " + " | ".join(f"k = {k}" for k in ks)
              + (f" | k = {max(ks)} / k = {min(ks)} |" if len(ks) > 1 else " |"))
        print("|---|---:|" + "---:|" * (len(ks) + (len(ks) > 1)))
        for config, threads, rate in batch_rows:
            print(f"| {config.title} | {threads} | "
                  + " | ".join(format_rate(rate[k]) for k in ks)
                  + (f" | {format_ratio(rate[max(ks)], rate[min(ks)])} |" if len(ks) > 1
                     else " |"))

    print("\nCharRNN.sample's cost per call over kernels.sample (seeding, checks, prime, "
          "decoding), timed with n=1, best of 5 x 2000 calls, {} thread(s):".format(
              args.threads[0]))
    for config, _, _, _, overhead in checks:
        print(f"  {config.key}: {overhead * 1e6:.1f} us per call")

    print(f"\nload average (1 min) at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    print(f"checks: max |log p - model.score_samples| over the corpus's first {CHECK_CHARACTERS} "
          "characters, fed through each side's step;")
    print(f"        sample nats/char = a {CHECK_SAMPLE:,}-character sample of each side scored "
          "by the model, +- its standard error (the sides should agree within noise)")
    for config, model, sides, samples, _ in checks:
        model_codes = model.vocab_.encode(text[:CHECK_CHARACTERS])
        expected = model.score_samples(text[:CHECK_CHARACTERS])
        parts = []
        for name, (stepper, _) in sides.items():
            if stepper is None:
                continue
            got = step_log_probs(stepper, model_codes)
            parts.append(f"{name} {np.abs(got - expected).max():.1e}")
        print(f"  {config.key}: log p differences: " + ", ".join(parts))
        print(f"  {config.key}: sample nats/char: " + ", ".join(
            "{} {:.3f} +- {:.3f}".format(name, *sample_nats(model, sample))
            for name, sample in samples.items()))
    for config, ((batched, batched_se), (single, single_se)) in batch_checks:
        z = (batched - single) / np.hypot(batched_se, single_se)
        print(f"  {config.key}: {CHECK_STREAMS} x {CHECK_STREAM_CHARS:,} characters, nats/char: "
              f"drawn together (num_samples={CHECK_STREAMS}) {batched:.4f} +- {batched_se:.4f}, "
              f"in {CHECK_STREAMS} single calls {single:.4f} +- {single_se:.4f} "
              f"(difference {z:+.1f} standard errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
