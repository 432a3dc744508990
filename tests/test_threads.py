"""The thread policy (threads.py) and the step split across threads by streams
(split_step.py): the same numbers as one thread, the same bits run to run."""

import copy
import threading

import numpy as np
import pytest

from charrnn_c import CharRNN, _core, kernels
from charrnn_c.optimizers import OPTIMIZERS
from charrnn_c.split_step import SplitStep
from charrnn_c.threads import (MIN_SHARE_FLOPS, available_cores, blas_on_one_thread,
                               resolve_threads, shares)
from conftest import random_problem


@pytest.mark.parametrize("batch_size, threads", [(1, 1), (5, 2), (6, 3), (32, 2), (7, 7)])
def test_shares_tile_the_streams_evenly(batch_size, threads):
    cut = shares(batch_size, threads)
    sizes = [s.stop - s.start for s in cut]
    assert len(cut) == threads and cut[0].start == 0 and cut[-1].stop == batch_size
    assert all(a.stop == b.start for a, b in zip(cut, cut[1:]))
    assert max(sizes) - min(sizes) <= 1


def test_small_steps_stay_on_one_thread_and_big_ones_use_the_cores():
    writeup = 6 * 25 * (100 * 100 + 100 * 84)           # 1 x 100, per stream
    assert writeup < MIN_SHARE_FLOPS
    assert resolve_threads(None, 1, writeup) == 1
    assert resolve_threads(8, 1, 1e12) == 1               # never more than the streams
    assert resolve_threads(None, 32, 2e8) == min(available_cores(), 32)
    assert resolve_threads(3, 32, 2e8) == 3
    assert resolve_threads(4, 32, MIN_SHARE_FLOPS / 16) == 2   # each share pays for itself


@pytest.mark.usefixtures("product_path")
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("optimizer", ["adagrad", "adam", "rmsprop"])
@pytest.mark.parametrize("threads", [2, 3])
def test_a_split_step_is_the_one_thread_step_to_rounding(cell, optimizer, threads):
    # 5 streams: shares of unequal size (3 + 2, or 2 + 2 + 1); dropout cut like the streams.
    p = random_problem(7, 5, 2, 6, 5, cell=cell)
    one = OPTIMIZERS[optimizer](p.spec, 0.01)
    split_optimizer = copy.deepcopy(one)
    params, split_params = p.params.copy(), p.params.copy()
    grads, split_grads = np.zeros_like(params), np.zeros_like(params)
    split = SplitStep(p.spec, 5, threads)
    try:
        for i in range(3):
            loss, h = kernels.train_step(p.spec, one, params, grads, p.inputs, p.targets, p.h0,
                                         5.0, 1.0, 0.3, np.random.default_rng(i))
            split_loss, split_h = split(split_optimizer, split_params, split_grads, p.inputs,
                                        p.targets, p.h0, 5.0, 1.0, 0.3,
                                        np.random.default_rng(i))
            assert split_loss == pytest.approx(loss, rel=1e-13)
            np.testing.assert_allclose(split_h, h, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(split_grads, grads, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(split_params, params, rtol=1e-10, atol=1e-14)
    finally:
        split.close()
    assert split_optimizer.steps == one.steps == 3


@pytest.mark.usefixtures("product_path")
def test_fit_on_two_threads_is_one_thread_to_rounding_and_itself_to_the_bit(shakespeare):
    text = shakespeare[:30_000]

    def fit(n_threads):
        model = CharRNN(hidden_size=64, num_layers=2, batch_size=8, seq_length=20,
                        optimizer="adam", dtype="float64", dropout=0.2, seed=1,
                        n_threads=n_threads)
        return model.fit(text, iterations=12, progress=False)

    # This size is worth a second thread (resolve_threads), so n_threads=2 takes it.
    one, two, again = fit(1), fit(2), fit(2)
    assert (one.threads_, two.threads_) == (1, 2)
    np.testing.assert_allclose(two.params_, one.params_, rtol=1e-9, atol=1e-12)
    assert two.history_[-1]["train_loss"] == pytest.approx(one.history_[-1]["train_loss"],
                                                           rel=1e-12)
    assert two.params_.tobytes() == again.params_.tobytes()
    assert two.hidden_.tobytes() == again.hidden_.tobytes()


def test_openblas_runs_one_thread_inside_our_calls_and_the_users_setting_comes_back(
        shakespeare):
    if _core.blas_threads() is None:
        pytest.skip("the BLAS behind SciPy is not OpenBLAS")
    seen = []
    before = _core.blas_threads()
    try:
        _core.set_blas_threads(2)
        CharRNN(hidden_size=16, seed=0).fit(
            shakespeare[:5_000], iterations=3, eval_every=1, progress=False,
            callbacks=[lambda record: seen.append(_core.blas_threads())])
        after = _core.blas_threads()
    finally:
        _core.set_blas_threads(before)
    assert seen == [1, 1, 1] and after == 2


def test_the_blas_limit_is_reentrant_across_threads():
    if _core.blas_threads() is None:
        pytest.skip("the BLAS behind SciPy is not OpenBLAS")
    before = _core.blas_threads()
    _core.set_blas_threads(2)
    inside = threading.Barrier(2)
    seen = []

    def hold():
        with blas_on_one_thread:
            inside.wait()
            seen.append(_core.blas_threads())
            inside.wait()

    try:
        workers = [threading.Thread(target=hold) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        after = _core.blas_threads()
    finally:
        _core.set_blas_threads(before)
    assert seen == [1, 1] and after == 2


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, "2", True])
def test_a_bad_thread_count_is_named(n_threads):
    with pytest.raises(ValueError, match=f"n_threads must be a positive integer, "
                                         f"got {n_threads!r}"):
        CharRNN(n_threads=n_threads).fit("abc" * 100, iterations=1, progress=False)


@pytest.mark.parametrize("threads", [1, 4])
def test_a_split_needs_two_threads_and_no_more_than_the_streams(threads):
    p = random_problem(7, 5, 1, 6, 3)
    with pytest.raises(ValueError, match=f"a step of 3 streams splits over 2 to 3 threads, "
                                         f"not {threads}"):
        SplitStep(p.spec, 3, threads)
