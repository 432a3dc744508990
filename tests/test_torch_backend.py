"""fit(backend="torch"): the C trainer's recipe in PyTorch, step for step.

In float64 on the CPU the torch backend's losses and weights equal the C
trainer's to 1e-9 relative after 20 steps, for every cell and optimizer,
with and without a schedule, dropout and norm clipping; a run continues
across the two backends either way round as if it had stayed on one; the
same test runs on a GPU where there is one. Skipped where torch is not
installed."""

import numpy as np
import pytest

from charrnn_c import CharRNN

torch = pytest.importorskip("torch")

STEPS = 20
TOLERANCE = 1e-9
SMALL = dict(hidden_size=10, num_layers=2, seq_length=7, batch_size=4, dtype="float64",
             seed=5, val_fraction=0.1, n_threads=1)


def relative_error(actual, expected):
    return np.abs(actual - expected).max() / np.abs(expected).max()


def fitted(text, backend, device=None, iterations=STEPS, **params):
    model = CharRNN(**{**SMALL, **params})
    model.fit(text, iterations=iterations, eval_every=5, progress=False, backend=backend,
              device=device)
    return model


def assert_same_training(ours, theirs, tolerance=TOLERANCE):
    assert theirs.n_iter_ == ours.n_iter_
    assert relative_error(theirs.params_, ours.params_) < tolerance
    for name, buffer in ours.optimizer_.buffers.items():
        assert relative_error(theirs.optimizer_.buffers[name], buffer) < tolerance, name
    assert theirs.optimizer_.steps == ours.optimizer_.steps
    assert relative_error(theirs.hidden_, ours.hidden_) < tolerance
    assert theirs._state.smooth_loss == pytest.approx(ours._state.smooth_loss, rel=tolerance)
    for mine, other in zip(ours.history_, theirs.history_, strict=True):
        assert other["iteration"] == mine["iteration"]
        assert other["val_loss"] == pytest.approx(mine["val_loss"], rel=tolerance)
        assert other["learning_rate"] == pytest.approx(mine["learning_rate"], rel=1e-12)


@pytest.mark.parametrize("optimizer", ["adagrad", "adam", "rmsprop"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_twenty_torch_steps_equal_the_c_trainers(shakespeare, cell, optimizer, schedule):
    text = shakespeare[:30_000]
    recipe = dict(cell=cell, optimizer=optimizer, lr_schedule=schedule,
                  warmup=0 if schedule == "constant" else 5)
    ours = fitted(text, "c", **recipe)
    theirs = fitted(text, "torch", **recipe)
    assert_same_training(ours, theirs)
    # Training moved the weights: the comparison is not of two untrained models.
    assert relative_error(ours.params_, CharRNN(**{**SMALL, **recipe}).fit(
        text, iterations=0, progress=False).params_) > 1e-3


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_dropout_and_every_clip_take_the_same_steps(shakespeare, cell):
    text = shakespeare[:30_000]
    # A rate and a norm clip that bite: both clips act at every step.
    recipe = dict(cell=cell, dropout=0.3, clip_norm=0.5, clip=0.01, optimizer="adam",
                  learning_rate=0.01)
    ours = fitted(text, "c", **recipe)
    assert_same_training(ours, fitted(text, "torch", **recipe))


@pytest.mark.parametrize("first, second", [("c", "torch"), ("torch", "c")])
def test_a_run_continues_across_backends_as_if_it_had_stayed(shakespeare, first, second,
                                                             tmp_path):
    text = shakespeare[:30_000]
    recipe = dict(cell="gru", lr_schedule="cosine", warmup=10)
    whole = CharRNN(**{**SMALL, **recipe}).fit(text, iterations=200, eval_every=25,
                                               progress=False)
    half = CharRNN(**{**SMALL, **recipe})
    half.fit(text, iterations=200, eval_every=25, progress=False, backend=first,
             callbacks=[lambda record: record["iteration"] < 100])
    assert half.n_iter_ == 100
    half.save(tmp_path / "half.safetensors")
    resumed = CharRNN.load(tmp_path / "half.safetensors")
    resumed.fit(text, iterations=100, eval_every=25, progress=False, backend=second,
                resume=True)
    assert resumed.n_iter_ == 200
    assert relative_error(resumed.params_, whole.params_) < 1e-9
    assert resumed.best_iteration_ == whole.best_iteration_
    assert [r["iteration"] for r in resumed.history_] == [r["iteration"]
                                                         for r in whole.history_]


def test_the_torch_backend_keeps_the_best_and_stops_on_patience(shakespeare):
    text = shakespeare[:30_000]
    recipe = dict(learning_rate=0.05, optimizer="adam")      # too high: it gets worse
    ours = CharRNN(**{**SMALL, **recipe}).fit(text, iterations=300, eval_every=10,
                                             patience=3, progress=False)
    theirs = CharRNN(**{**SMALL, **recipe}).fit(text, iterations=300, eval_every=10,
                                               patience=3, progress=False, backend="torch")
    assert theirs.stop_reason_ == ours.stop_reason_
    assert theirs.best_iteration_ == ours.best_iteration_
    assert relative_error(theirs.params_, ours.params_) < 1e-8


def test_a_device_without_the_torch_backend_is_refused(shakespeare):
    with pytest.raises(ValueError, match="backend='torch'"):
        CharRNN(**SMALL).fit(shakespeare[:5000], iterations=1, device="cuda")
    with pytest.raises(ValueError, match="backend"):
        CharRNN(**SMALL).fit(shakespeare[:5000], iterations=1, backend="jax")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_on_a_gpu_twenty_steps_equal_the_c_trainers(shakespeare, cell):
    text = shakespeare[:30_000]
    ours = fitted(text, "c", cell=cell, optimizer="adam")
    theirs = fitted(text, "torch", "cuda", cell=cell, optimizer="adam")
    # cuDNN sums in its own order: float64 still agrees far below any training effect.
    assert_same_training(ours, theirs, tolerance=1e-7)
