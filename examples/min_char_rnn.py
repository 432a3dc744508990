"""The min-char-rnn training loop, on the C core.

The write-up's loop, line for line: slide a window of seq_length characters
over the text, carry the hidden state from one window to the next, take one
Adagrad step per window, and print a sample now and then. Only the step
itself runs in C (charrnn_c.kernels.train_step); sampling here uses the NumPy
reference's forward pass, one character at a time.

    python examples/min_char_rnn.py [FILE] [--iterations N] [--hidden 100]

Without FILE it trains on the Shakespeare corpus the package ships.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from charrnn_c import datasets, kernels, reference
from charrnn_c.optimizers import Adagrad
from charrnn_c.spec import ModelSpec


def sample(spec, params, h, seed_index, n, rng):
    """n characters drawn one at a time from the model's softmax."""
    x, out = seed_index, []
    for _ in range(n):
        logits, layers = reference.forward(spec, params, np.array([[x]]), h)
        h = reference.final_state(layers, spec.cell)
        p = reference.softmax(logits[0, 0])
        x = rng.choice(p.size, p=p)
        out.append(x)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path,
                        help="a text file (default: the built-in Shakespeare corpus)")
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--seq-length", type=int, default=25)
    parser.add_argument("--learning-rate", type=float, default=1e-1)
    parser.add_argument("--sample-every", type=int, default=10_000)
    args = parser.parse_args()

    text = args.file.read_text(encoding="utf-8") if args.file else datasets.shakespeare()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text], dtype=np.int32)
    V, H, L, T = len(chars), args.hidden, args.layers, args.seq_length
    spec = ModelSpec(V, H, L)
    print(f"{len(data):,} characters, {V} unique; {L} x {H} RNN, "
          f"{spec.num_params:,} parameters")

    params = spec.init_params(seed=0, std=0.01)
    grads = np.zeros_like(params)
    optimizer = Adagrad(spec, args.learning_rate)   # its "mem" is the write-up's mWxh, ...
    rng = np.random.default_rng(0)
    smooth_loss = np.log(V) * T          # the write-up's loss at iteration 0
    p, start = 0, time.perf_counter()
    for n in range(args.iterations + 1):
        if n == 0 or p + T + 1 >= len(data):
            p, hprev = 0, np.zeros(spec.state_shape(1))
        inputs = data[p:p + T].reshape(T, 1)
        targets = data[p + 1:p + T + 1].reshape(T, 1)
        if n % args.sample_every == 0:
            text_out = "".join(chars[i] for i in sample(spec, params, hprev, inputs[0, 0],
                                                        200, rng))
            print(f"----\n{text_out}\n----")
        loss, hprev = kernels.train_step(spec, optimizer, params, grads, inputs, targets,
                                         hprev, clip=5.0)
        smooth_loss = smooth_loss * 0.999 + loss * 0.001
        if n % args.sample_every == 0:
            elapsed = time.perf_counter() - start
            print(f"iter {n}, loss {smooth_loss:.2f} per {T} chars "
                  f"({smooth_loss / T:.3f} nats/char), {elapsed:.1f} s")
        p += T


if __name__ == "__main__":
    main()
