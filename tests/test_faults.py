"""Faults: non-finite losses, exploding gradients, a full disk, and threads."""

import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from charrnn_c import CharRNN, kernels, reference
from charrnn_c.optimizers import OPTIMIZERS, Adagrad
from charrnn_c.spec import ModelSpec
from conftest import random_problem


@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "rmsprop"])
def test_a_nan_loss_stops_training_naming_the_iteration_and_keeps_the_last_good_step(optimizer):
    snapshots = {}

    def keep(record):
        snapshots[record["iteration"]] = (model.params_.copy(), {
            name: buffer.copy() for name, buffer in model.optimizer_.buffers.items()})

    # A learning rate this absurd overflows float32 within a few steps.
    model = CharRNN(hidden_size=8, optimizer=optimizer, learning_rate=1e38, val_fraction=0,
                    seed=0)
    with pytest.raises(FloatingPointError, match=r"at iteration (\d+)") as caught:
        model.fit("abcdefghij" * 100, iterations=1000, eval_every=1, callbacks=[keep],
                  progress=False)
    failed_at = int(re.search(r"at iteration (\d+)", str(caught.value)).group(1))
    assert model.n_iter_ == failed_at - 1
    params, buffers = snapshots[failed_at - 1]
    np.testing.assert_array_equal(model.params_, params)
    for name, buffer in buffers.items():
        np.testing.assert_array_equal(model.optimizer_.buffers[name], buffer, err_msg=name)
    assert f"after iteration {failed_at - 1}" in str(caught.value)


@pytest.mark.parametrize("train_step", [kernels.train_step, reference.train_step],
                         ids=["kernel", "reference"])
@pytest.mark.parametrize("name", ["adagrad", "adam", "rmsprop"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_train_step_with_a_non_finite_loss_updates_nothing(train_step, name, bad):
    spec, params, mem, inputs, targets, h0 = random_problem(11, 6, 2, 5, 3, seed=1)
    spec.unflatten(params)["bias_o"][0] = bad     # in every logit row
    optimizer = OPTIMIZERS[name](spec, 0.1)
    for buffer in optimizer.buffers.values():
        buffer[:] = mem
    optimizer.steps = 4
    params_before = params.copy()
    grads = np.zeros_like(params)
    with np.errstate(invalid="ignore"):             # the reference's inf - inf
        loss, _ = train_step(spec, optimizer, params, grads, inputs, targets, h0, 5.0)
    assert not np.isfinite(loss)
    np.testing.assert_array_equal(params, params_before)
    for buffer_name, buffer in optimizer.buffers.items():
        np.testing.assert_array_equal(buffer, mem, err_msg=buffer_name)
    assert optimizer.steps == 4                     # the step is not counted


def test_exploding_gradients_are_bounded_by_clipping():
    # Weights of scale 3 saturate and amplify: the raw gradient is far beyond 5.
    spec, params, mem, inputs, targets, h0 = random_problem(84, 32, 2, 25, 4, std=3.0)
    raw = np.zeros_like(params)
    kernels.loss_and_grads(spec, params, raw, inputs, targets, h0)
    assert np.abs(raw).max() > 50

    optimizer = Adagrad(spec, 0.1)
    optimizer.buffers["mem"][:] = mem
    grads = np.zeros_like(params)
    before = params.copy()
    kernels.train_step(spec, optimizer, params, grads, inputs, targets, h0, 5.0)
    assert np.abs(grads).max() == 5.0
    np.testing.assert_array_equal(grads, np.clip(raw, -5, 5))
    # Adagrad's step is bounded by lr * |g| / sqrt(mem + g^2) <= lr.
    assert np.abs(params - before).max() <= 0.1 + 1e-12


def test_exploding_gradients_are_scaled_to_clip_norm_before_the_clip():
    spec, params, _, inputs, targets, h0 = random_problem(84, 32, 2, 25, 4, std=3.0)
    raw = np.zeros_like(params)
    kernels.loss_and_grads(spec, params, raw, inputs, targets, h0)
    norm = np.linalg.norm(raw)
    assert norm > 1000
    grads = np.zeros_like(params)
    kernels.train_step(spec, Adagrad(spec, 0.1), params, grads, inputs, targets, h0, 5.0,
                       clip_norm=1.0)
    # Scaled to norm 1 first, so the elementwise clip at 5 no longer bites.
    np.testing.assert_allclose(grads, raw * (1.0 / (norm + 1e-6)), rtol=1e-12)
    assert np.linalg.norm(grads) == pytest.approx(1.0, rel=1e-6)


FULL_DISK_SCRIPT = """
import resource, signal, sys
from charrnn_c import CharRNN
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # EFBIG instead of a signal
model = CharRNN(hidden_size=256, seed=0).fit("abcdefgh" * 200, iterations=1, progress=False)
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))   # the disk is "full" at 50 KB
try:
    model.save(sys.argv[1])
except OSError as error:
    print("OSError", error.errno)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_during_save_raises_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.safetensors"
    CharRNN(hidden_size=4, seed=0).fit("abcdefgh" * 200, iterations=1, progress=False).save(path)
    old = path.read_bytes()
    result = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("OSError"), result.stdout + result.stderr
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]   # no temp left
    assert CharRNN.load(path).hidden_size == 4


def run_steps(spec, params, inputs, targets, h0, steps):
    optimizer, grads = Adagrad(spec, 0.1), np.zeros_like(params)
    h = h0
    for _ in range(steps):
        _, h = kernels.train_step(spec, optimizer, params, grads, inputs, targets, h, 5.0)
    return params, h


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_models_trained_in_threads_match_the_same_runs_one_after_another(dtype):
    spec = ModelSpec(30, 64, 2, "rnn", np.dtype(dtype).name)
    problems = [random_problem(30, 64, 2, 25, 8, seed=seed) for seed in range(4)]
    alone = [run_steps(spec, p.params.astype(dtype), p.inputs, p.targets,
                       p.h0.astype(dtype), 40) for p in problems]
    together = [None] * 4

    def work(i):
        p = problems[i]
        together[i] = run_steps(spec, p.params.astype(dtype), p.inputs, p.targets,
                                p.h0.astype(dtype), 40)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (p1, h1), (p2, h2) in zip(alone, together):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(h1, h2)


def test_sampling_in_threads_matches_sampling_one_after_another():
    spec = ModelSpec(30, 64, 2)
    params = spec.init_params(std=0.3)
    rngs = [np.random.SeedSequence(i).generate_state(4, np.uint64) for i in range(4)]
    alone = [kernels.sample(spec, params, np.zeros((2, 64)), r.copy(), [1], 2000)[0]
             for r in rngs]
    together = [None] * 4

    def work(i):
        together[i] = kernels.sample(spec, params, np.zeros((2, 64)), rngs[i].copy(), [1],
                                     2000)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_one_model_used_from_two_threads_raises_a_clear_error():
    model = CharRNN(hidden_size=16, seed=0).fit("abcdefgh" * 300, iterations=5, progress=False)
    started, release = threading.Event(), threading.Event()

    def hold(record):
        # In the training thread the model may be used, by a callback.
        model.sample(5, seed=0)
        started.set()
        release.wait(30)
        return False

    trainer = threading.Thread(target=lambda: model.fit(
        "abcdefgh" * 300, iterations=100, eval_every=1, callbacks=[hold], progress=False))
    trainer.start()
    try:
        assert started.wait(30)
        with pytest.raises(RuntimeError, match="being trained in another thread"):
            model.sample(10)
        with pytest.raises(RuntimeError, match="already being trained in another thread"):
            model.fit("abcdefgh" * 300, iterations=1, progress=False)
    finally:
        release.set()
        trainer.join()
    assert model.n_iter_ == 1 and len(model.sample(10, seed=0)) == 10   # free again
