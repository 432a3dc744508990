"""examples/train_many.py: models trained in parallel threads with joblib
give the weights each gives trained alone, and the best is picked by
validation loss."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("joblib")

EXAMPLE = Path(__file__).parents[1] / "examples" / "train_many.py"


def load_example():
    spec = importlib.util.spec_from_file_location("train_many", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def without_clock(history):
    return [{key: value for key, value in record.items() if key != "seconds"}
            for record in history]


def test_four_models_in_four_threads_equal_the_four_trained_one_after_another(shakespeare):
    example = load_example()
    text = shakespeare[:50_000]
    seeds = [0, 1, 2, 3]
    together = example.train_many(text, seeds, jobs=4, iterations=60, eval_every=20)
    alone = [example.train_one(text, seed, iterations=60, eval_every=20) for seed in seeds]
    for parallel, serial in zip(together, alone, strict=True):
        assert parallel.n_iter_ == serial.n_iter_ == 60
        np.testing.assert_array_equal(parallel.params_, serial.params_)
        assert without_clock(parallel.history_) == without_clock(serial.history_)
    # The seeds give different models, and the best is the lowest validation loss.
    assert len({float(model.params_[0]) for model in together}) == 4
    best = min(together, key=example.lowest_validation_loss)
    assert example.lowest_validation_loss(best) == min(
        min(r["val_loss"] for r in model.history_) for model in alone)
