"""The training runs whose outcome tests assert, each a function of a seed
(and the dtype where the test chooses one) that returns the figure its test
bounds. The tests call them with one seed or a few; benchmarks/
learning_spread.py calls them over many seeds and several BLAS kernels, to
measure the spread that each bound is set from (the numbers quoted in the
tests come from there)."""

from collections import Counter

import numpy as np

from charrnn_c import datasets
from conftest import small

# fit's own split: the last 5% of the text is held out.
VAL_FRACTION = 0.05


def unigram_entropy(text: str) -> float:
    counts = np.array(list(Counter(text).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def held_out(text: str) -> str:
    return text[-int(VAL_FRACTION * len(text)):]


def writeup_small(seed: int, dtype: str = "float32", iterations: int = 1500, **changes):
    """The write-up's recipe at 1 x 64 (Adagrad 0.1 at batch 1, clip 5) on
    60,000 characters, with ``changes`` to it: the fitted model, and its
    validation loss below the unigram entropy of the held-out text
    (positive: learned more than letter frequencies)."""
    text = datasets.shakespeare()[:60_000]
    model = small(hidden_size=64, seed=seed, dtype=dtype, **changes).fit(
        text, iterations=iterations, eval_every=500, progress=False)
    return model, unigram_entropy(held_out(text)) - model.history_[-1]["val_loss"]


def two_tanh_layers(seed: int) -> float:
    """2 x 64 tanh RNN from the default init, Adam at batch 16, 400 steps:
    validation below the unigram entropy."""
    text = datasets.shakespeare()[:300_000]
    model = small(hidden_size=64, num_layers=2, batch_size=16, optimizer="adam",
                  seed=seed).fit(text, iterations=400, progress=False)
    return unigram_entropy(text) - model.history_[-1]["val_loss"]


def gated_cell(cell: str, seed: int):
    """A 1 x 48 GRU or LSTM, Adam 0.01 at batch 8 x 32, 300 steps on 60,000
    characters: the model, and validation below the unigram entropy."""
    text = datasets.shakespeare()[:60_000]
    model = small(hidden_size=48, cell=cell, batch_size=8, seq_length=32, optimizer="adam",
                  learning_rate=0.01, seed=seed).fit(text, iterations=300, eval_every=300,
                                                     progress=False)
    return model, unigram_entropy(held_out(text)) - model.history_[-1]["val_loss"]


def abc_greedy(seed: int) -> bool:
    """A 1 x 16 tanh RNN on "abc" * 400, 300 steps: whether its greedy
    continuation of "a" is "bcabc...", exactly."""
    model = small(hidden_size=16, seq_length=10, learning_rate=0.1, val_fraction=0,
                  seed=seed).fit("abc" * 400, iterations=300, progress=False)
    return model.sample(30, prime="a", temperature=0) == "bc" + "abc" * 9 + "a"
