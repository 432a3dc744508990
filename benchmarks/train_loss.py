"""Does the reported training loss mean what it says? At the end of a default
run, history_'s train_loss (the mean over the last record's steps) beside the
final weights scored on the characters of those steps (each stream's window,
from a zero state), and the write-up's smooth_loss.

    python benchmarks/train_loss.py               # a 2-minute default run
    python benchmarks/train_loss.py --seconds 5   # seconds, for a smoke run
"""

import argparse

import numpy as np

from charrnn_c import CharRNN
from charrnn_c.streams import split_validation
from common import TEXT_PATH, blas_description, cpu_name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; {blas_description()}")
    text = TEXT_PATH.read_text(encoding="utf-8")
    model = CharRNN(seed=0).fit(text, max_time=args.seconds, progress=False)
    last, before = model.history_[-1], model.history_[-2] if len(model.history_) > 1 else None
    steps = last["iteration"] - (before["iteration"] if before else 0)
    train, _ = split_validation(model.vocab_.encode(text), model.val_fraction)
    state = model._state.streams
    window = steps * model.seq_length
    scores = [-model.score_samples(model.vocab_.decode(
        train[b * state["stream_length"] + max(0, state["position"] - window):
              b * state["stream_length"] + state["position"] + 1])).mean()
        for b in range(model.batch_size)]
    print(f"{model.n_iter_:,} iterations in {args.seconds:g} s (kept: {model.best_iteration_}); "
          f"last record: train_loss {last['train_loss']:.4f}, smooth_loss "
          f"{last['smooth_loss']:.4f}, val_loss {last['val_loss']:.4f}")
    print(f"the final weights on the characters of the last {steps} steps: "
          f"{np.mean(scores):.4f} nats/char (train_loss off by "
          f"{last['train_loss'] - np.mean(scores):+.4f}, smooth_loss by "
          f"{last['smooth_loss'] - np.mean(scores):+.4f})")


if __name__ == "__main__":
    main()
