"""Faults: non-finite losses, exploding gradients, a full disk, and threads."""

import math
import pickle
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from charrnn_c import CharRNN, kernels, reference
from charrnn_c.optimizers import OPTIMIZERS, Adagrad
from charrnn_c.spec import ModelSpec
from conftest import random_problem, small


RESTORED = r"restored to iteration (\d+)"


def keep_snapshots(model, snapshots):
    """A callback keeping each record's weights, optimizer state and history length."""
    def keep(record):
        snapshots[record["iteration"]] = (
            model.params_.copy(),
            {name: buffer.copy() for name, buffer in model.optimizer_.buffers.items()},
            model.optimizer_.steps, len(model.history_))
    return keep


@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "rmsprop"])
def test_weights_gone_to_nan_stop_training_and_the_last_good_record_comes_back(optimizer):
    # A learning rate this absurd turns float32 weights to inf and NaN in one
    # step while that step's loss is still finite (issue 14): the old loop
    # kept those weights and called them "as after iteration 1".
    snapshots = {}
    model = small(hidden_size=8, optimizer=optimizer, learning_rate=1e38, val_fraction=0,
                  seed=0)
    with pytest.raises(FloatingPointError, match=RESTORED) as caught:
        model.fit("abcdefghij" * 100, iterations=1000, eval_every=1,
                  callbacks=[keep_snapshots(model, snapshots)], progress=False)
    message = str(caught.value)
    restored = int(re.search(RESTORED, message).group(1))
    # Adam and RMSprop overflow the weights, Adagrad (steps <= lr) the next loss.
    assert "NaN or infinite" in message or "training loss became nan" in message
    default = {"adagrad": 0.1, "adam": 0.002, "rmsprop": 0.002}[optimizer]
    assert f"lower learning_rate (this run's is 1e+38; {optimizer}'s default is {default:g})" \
        in message
    assert model.n_iter_ == restored == 0            # no record after step 1 was finite
    assert model.stop_reason_ == "diverged" and model.history_ == []
    assert np.isfinite(model.params_).all()
    np.testing.assert_array_equal(
        model.params_, small(hidden_size=8, seed=0).fit("abcdefghij" * 100, iterations=0,
                                                        progress=False).params_)
    for buffer in model.optimizer_.buffers.values():
        assert not buffer.any()                      # as at iteration 0
    assert model.optimizer_.steps == 0


@pytest.mark.parametrize("dtype, learning_rate", [("float64", 1e38), ("float64", 1e6),
                                                  ("float32", 1e6)])
def test_a_finite_loss_exploding_far_above_log_v_stops_training(dtype, learning_rate):
    # Issue 14: at 1e6 nothing was raised and training ended at 7.7e5
    # nats/char; in float64 even 1e38 trained on. Here the weights stay finite
    # and so does the loss, which explodes: caught on the smoothed loss.
    snapshots = {}
    text = "the quick brown fox jumps over the lazy dog. " * 40
    model = small(hidden_size=16, optimizer="adam", learning_rate=learning_rate,
                  dtype=dtype, seed=0, val_fraction=0)
    with pytest.raises(FloatingPointError, match="smoothed training loss reached") as caught:
        model.fit(text, iterations=500, eval_every=1, callbacks=[keep_snapshots(model, snapshots)],
                  progress=False)
    log_v = math.log(len(model.vocab_))
    assert f"above log V + 10 = {log_v + 10:.2f}" in str(caught.value)
    restored = int(re.search(RESTORED, str(caught.value)).group(1))
    assert model.n_iter_ == restored
    if restored:                                     # a record it passed
        params, buffers, steps, history = snapshots[restored]
        np.testing.assert_array_equal(model.params_, params)
        assert model.optimizer_.steps == steps and len(model.history_) == history
    # What comes back is a model no worse than an untrained one, not 7.7e5 nats.
    assert model.evaluate(text[:500])["nats_per_char"] < log_v + 1


def test_a_run_that_diverged_resumes_exactly_as_if_it_never_had(tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 60

    def sabotage(record):
        if record["iteration"] == 20:                # after the state at 20 is kept
            model.optimizer_.learning_rate = 1e6

    whole = small(hidden_size=16, optimizer="adam", seed=0).fit(
        text, iterations=40, eval_every=10, progress=False)
    model = small(hidden_size=16, optimizer="adam", seed=0)
    with pytest.raises(FloatingPointError, match="restored to iteration 20"):
        model.fit(text, iterations=40, eval_every=10, callbacks=[sabotage], progress=False)
    assert [r["iteration"] for r in model.history_] == [10, 20]
    model.optimizer_.learning_rate = whole.optimizer_.learning_rate
    model.save(tmp_path / "restored.safetensors")
    resumed = CharRNN.load(tmp_path / "restored.safetensors")
    resumed.fit(text, iterations=20, eval_every=10, resume=True, progress=False)
    np.testing.assert_array_equal(resumed.params_, whole.params_)
    np.testing.assert_array_equal(resumed.hidden_, whole.hidden_)
    assert [r["train_loss"] for r in resumed.history_] == [r["train_loss"]
                                                          for r in whole.history_]


def poison_column_of_z(model, at):
    """A callback that sets the input weights of "Z" to NaN at record ``at``."""
    def poison(record):
        if record["iteration"] == at:
            column = model.vocab_.encode("Z")[0]
            model.spec_.unflatten(model.params_)["weight_ih_l0"][:, column] = np.nan
    return poison


# "Z" comes once, first: a NaN in its input column changes no later loss.
TEXT_WITH_ONE_Z = "Z" + "abcdefgh" * 300


def test_a_weight_gone_nan_where_no_loss_looks_is_caught_at_the_next_record():
    model = small(hidden_size=8, seed=0, val_fraction=0)
    with pytest.raises(FloatingPointError, match="NaN or infinite by iteration 20") as caught:
        model.fit(TEXT_WITH_ONE_Z, iterations=100, eval_every=10,
                  callbacks=[poison_column_of_z(model, 10)], progress=False)
    # The state of record 10 was kept before the callback ran, and step 11's
    # loss vouched for it.
    assert "restored to iteration 10" in str(caught.value)
    assert np.isfinite(model.params_).all() and model.n_iter_ == 10
    assert [r["iteration"] for r in model.history_] == [10]


def test_weights_that_are_not_finite_are_never_saved(tmp_path):
    path = tmp_path / "model.safetensors"
    model = small(hidden_size=8, seed=0, val_fraction=0)
    with pytest.raises(FloatingPointError, match="NaN or infinite by iteration 10"):
        model.fit(TEXT_WITH_ONE_Z, iterations=100, eval_every=10, checkpoint=path,
                  checkpoint_every=5, callbacks=[poison_column_of_z(model, 10)],
                  progress=False)
    saved = CharRNN.load(path)                       # the save at 10 was refused
    assert saved.n_iter_ == 5 and np.isfinite(saved.params_).all()
    # Record 10 was not yet vouched for by a loss: the start comes back.
    assert model.n_iter_ == 0 and np.isfinite(model.params_).all()


def test_a_model_that_starts_with_nan_weights_is_refused_before_a_step():
    model = small(hidden_size=4, seed=0).fit("abcd" * 100, iterations=2, progress=False)
    model.params_[0] = np.nan
    with pytest.raises(FloatingPointError, match="NaN or infinity at iteration 2, before"):
        model.fit("abcd" * 100, iterations=2, resume=True, progress=False)
    assert model.n_iter_ == 2


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
model = CharRNN(hidden_size=256, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
                seed=0).fit("abcdefgh" * 200, iterations=1, progress=False)
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))   # the disk is "full" at 50 KB
try:
    model.save(sys.argv[1])
except OSError as error:
    print("OSError", error.errno)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_during_save_raises_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.safetensors"
    small(hidden_size=4, seed=0).fit("abcdefgh" * 200, iterations=1, progress=False).save(path)
    old = path.read_bytes()
    result = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("OSError"), result.stdout + result.stderr
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]   # no temp left
    assert CharRNN.load(path).hidden_size == 4


CLI_FULL_DISK = """
import resource, signal, sys
from charrnn_c import cli
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # EFBIG instead of a signal
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))   # the disk is "full" at 50 KB
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_during_a_cli_save_names_the_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    result = subprocess.run([sys.executable, "-c", CLI_FULL_DISK, "train", "--checkpoint",
                             str(path), "--iterations", "1", "--hidden-size", "256",
                             "--num-layers", "1", "--no-progress"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    # "File too large" alone, as ENOSPC's "No space left on device" was (issue 22).
    assert f"charrnn: error: {path}: File too large (saving the checkpoint" in result.stderr
    assert list(tmp_path.iterdir()) == []


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
    model = small(hidden_size=16, seed=0).fit("abcdefgh" * 300, iterations=5, progress=False)
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


def trainer_waiting_in_a_callback(model, text):
    """A thread fitting ``model`` (resume=True) that waits in its first
    callback; returns (thread, started, release)."""
    started, release = threading.Event(), threading.Event()

    def hold(record):
        started.set()
        release.wait(30)
        return False

    thread = threading.Thread(target=lambda: model.fit(
        text, iterations=100, eval_every=1, callbacks=[hold], resume=True, progress=False))
    thread.start()
    assert started.wait(30)
    return thread, release


def test_set_params_while_another_thread_trains_is_refused():
    text = "abcdefgh" * 300
    model = small(hidden_size=16, seed=0).fit(text, iterations=5, progress=False)
    thread, release = trainer_waiting_in_a_callback(model, text)
    try:
        # fit reads clip and clip_norm at every step: a change mid-run goes unchecked.
        with pytest.raises(RuntimeError, match="being trained in another thread"):
            model.set_params(clip_norm=-1.0)
        with pytest.raises(RuntimeError, match="being trained in another thread"):
            model.load_state_dict(model.state_dict())
    finally:
        release.set()
        thread.join()
    assert model.clip_norm is None
    assert model.set_params(clip_norm=1.0).clip_norm == 1.0         # free again


def test_fit_while_a_generate_iterator_is_open_in_another_thread_is_refused():
    # Issue 14: fit(resume=True) while another thread samples went ahead, and
    # the text changed mid-way. The iterator holds the model until it ends.
    text = "abcdefgh" * 300
    model = small(hidden_size=16, seed=0).fit(text, iterations=5, progress=False)
    alone = "".join(model.generate(seed=3, max_chars=40))
    opened, resume = threading.Event(), threading.Event()
    streamed = []

    def stream():
        iterator = model.generate(seed=3, max_chars=40)
        streamed.extend(next(iterator) for _ in range(20))
        opened.set()
        resume.wait(30)
        streamed.extend(iterator)

    reader = threading.Thread(target=stream)
    reader.start()
    try:
        assert opened.wait(30)
        with pytest.raises(RuntimeError, match=r"in use \(1 sample, generate.*close\(\)"):
            model.fit(text, iterations=50, resume=True, progress=False)
    finally:
        resume.set()
        reader.join()
    assert "".join(streamed) == alone and model.n_iter_ == 5
    model.fit(text, iterations=5, resume=True, progress=False)       # the iterator ended
    assert model.n_iter_ == 10


def test_an_open_generate_iterator_in_the_same_thread_holds_the_model_until_closed():
    text = "abcdefgh" * 300
    model = small(hidden_size=16, seed=0).fit(text, iterations=5, progress=False)
    iterator = model.generate(seed=0)
    next(iterator)
    with pytest.raises(RuntimeError, match="in use"):
        model.fit(text, iterations=1, resume=True, progress=False)
    iterator.close()
    model.fit(text, iterations=1, resume=True, progress=False)
    assert model.n_iter_ == 6


def test_reads_while_another_thread_trains_are_refused_and_leave_no_reader_behind():
    text = "abcdefgh" * 300
    model = small(hidden_size=16, seed=0).fit(text, iterations=5, progress=False)
    thread, release = trainer_waiting_in_a_callback(model, text)
    try:
        for read in (lambda: model.sample(5), lambda: next(model.generate()),
                     lambda: model.score(text[:50]), lambda: model.evaluate(text[:50]),
                     model.state_dict, lambda: pickle.dumps(model)):
            with pytest.raises(RuntimeError, match="being trained in another thread"):
                read()
    finally:
        release.set()
        thread.join()
    # Each refused read unregistered itself: fit starts.
    model.fit(text, iterations=1, resume=True, progress=False)
    assert model.n_iter_ == 7
