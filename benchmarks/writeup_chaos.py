"""How far apart two runs of the write-up's training drift from a 1e-15 nudge.

The NumPy reference is run twice for 100 steps (1 x 100 RNN, seq_length 25,
lr 0.1, clip 5, first 20,000 characters of the corpus); the second run starts
with one entry of h0 moved by 1e-15. Their parameters drift apart by about
ten orders of magnitude: this is why tests/test_writeup_training.py compares
the kernel with the reference step by step along one trajectory, not after
100 free-running steps.

    python benchmarks/writeup_chaos.py
"""

from pathlib import Path

import numpy as np

from charrnn_c import kernels, reference
from charrnn_c.optimizers import Adagrad
from charrnn_c.spec import ModelSpec
from common import blas_description, cpu_name

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "shakespeare.txt"
HIDDEN, SEQ_LENGTH, STEPS = 100, 25, 100


def run(train_step, data, vocab_size, nudge=0.0):
    spec = ModelSpec(vocab_size, HIDDEN, 1)
    params = spec.init_params(seed=42, std=0.01)
    grads = np.zeros_like(params)
    optimizer = Adagrad(spec, learning_rate=0.1)
    hprev = np.zeros(spec.state_shape(1), dtype=spec.np_dtype)
    hprev[0, 0, 0] = nudge
    trajectory = []
    for step in range(STEPS):
        p = step * SEQ_LENGTH
        inputs = data[p:p + SEQ_LENGTH].reshape(-1, 1)
        targets = data[p + 1:p + SEQ_LENGTH + 1].reshape(-1, 1)
        _, hprev = train_step(spec, optimizer, params, grads, inputs, targets, hprev, clip=5.0)
        trajectory.append(params.copy())
    return trajectory


def main():
    text = CORPUS.read_text(encoding="ascii")[:20000]
    chars = sorted(set(text))
    data = np.array([chars.index(c) for c in text])

    print(f"CPU: {cpu_name()}; {blas_description()}")
    base = run(reference.train_step, data, len(chars))
    nudged = run(reference.train_step, data, len(chars), nudge=1e-15)
    ours = run(kernels.train_step, data, len(chars))
    print("step   max |reference - reference nudged by 1e-15|   max |reference - kernel|")
    for step in (0, 1, 2, 5, 10, 20, 40, 60, 99):
        print(f"{step + 1:4d}   {np.abs(base[step] - nudged[step]).max():14.3e}"
              f"                              {np.abs(base[step] - ours[step]).max():10.3e}")


if __name__ == "__main__":
    main()
