"""The GRU and LSTM kernels (and the RNN's, through the same stack) against
the NumPy reference, in both dtypes; dropout between layers; sampling."""

import itertools

import numpy as np
import pytest

from charrnn_c import kernels, reference
from charrnn_c.masks import dropout_mask
from charrnn_c.spec import ModelSpec
from conftest import random_problem
from test_kernels_vs_reference import (TOLERANCE, adagrad_with_mem, assert_close,
                                       assert_optimizers_close, in_dtype, optimizer_in)

# Every test twice: products whole, and cut into small-matrix blocks (conftest).
pytestmark = pytest.mark.usefixtures("product_path")

CELLS = ["rnn", "gru", "lstm"]
HIDDEN, VOCAB = 8, 13
SHAPES = list(itertools.product([1, 2], [1, 3], [1, 7]))    # layers, batch, seq


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers, batch_size, seq_length", SHAPES)
def test_train_step_matches_reference(cell, dtype, num_layers, batch_size, seq_length):
    problem = random_problem(VOCAB, HIDDEN, num_layers, seq_length, batch_size,
                             seed=seq_length + batch_size, std=0.3, cell=cell)
    ref_opt = adagrad_with_mem(problem, learning_rate=0.1)
    opt = optimizer_in(ref_opt, dtype)
    ref_params, ref_grads = problem.params.copy(), np.zeros_like(problem.params)
    ref_loss, ref_h = reference.train_step(problem.spec, ref_opt, ref_params, ref_grads,
                                           problem.inputs, problem.targets, problem.h0,
                                           clip=5.0)

    spec, params, h0 = in_dtype(problem, dtype)
    grads = np.zeros_like(params)
    loss, h_last = kernels.train_step(spec, opt, params, grads, problem.inputs,
                                      problem.targets, h0, clip=5.0)
    rtol = TOLERANCE[dtype]
    assert_close(loss, ref_loss, rtol, "loss")
    assert h_last.shape == h0.shape and h_last.dtype == dtype
    assert_close(h_last, ref_h, rtol, "h_last (and c_last)")
    assert_close(params, ref_params, rtol, "params")
    assert_close(grads, ref_grads, rtol, "grads")
    assert_optimizers_close(opt, ref_opt, rtol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers, batch_size, seq_length", SHAPES)
def test_every_gradient_matches_reference(cell, dtype, num_layers, batch_size, seq_length):
    # Unclipped, onto a non-zero buffer: every entry of every named view.
    problem = random_problem(VOCAB, HIDDEN, num_layers, seq_length, batch_size, seed=7,
                             std=0.6, cell=cell)
    ref_grads = np.zeros_like(problem.params)
    ref_loss, ref_h = reference.loss_and_grads(problem.spec, problem.params, ref_grads,
                                               problem.inputs, problem.targets, problem.h0)
    spec, params, h0 = in_dtype(problem, dtype)
    grads = np.full(params.size, 0.25, dtype=dtype)
    loss, h_last = kernels.loss_and_grads(spec, params, grads, problem.inputs,
                                          problem.targets, h0)
    rtol = TOLERANCE[dtype]
    assert_close(loss, ref_loss, rtol, "loss")
    assert_close(h_last, ref_h, rtol, "h_last")
    got = spec.unflatten(grads - 0.25)
    for name, want in problem.spec.unflatten(ref_grads).items():
        assert_close(got[name], want, rtol, name)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_only_entry_points_match_reference(cell, dtype):
    problem = random_problem(VOCAB, HIDDEN, 2, 9, 3, std=0.5, cell=cell)
    inputs, targets = problem.inputs, problem.targets
    ref_loss, ref_h = reference.sequence_loss(problem.spec, problem.params, inputs, targets,
                                              problem.h0)
    spec, params, h0 = in_dtype(problem, dtype)
    loss, h_last = kernels.sequence_loss(spec, params, inputs, targets, h0)
    assert_close(loss, ref_loss, TOLERANCE[dtype], "loss")
    assert_close(h_last, ref_h, TOLERANCE[dtype], "h_last")
    log_probs, h_scored = kernels.target_log_probs(spec, params, inputs, targets, h0)
    assert_close(-log_probs.sum() / 3, ref_loss, TOLERANCE[dtype], "loss from log_probs")
    np.testing.assert_array_equal(h_scored, h_last)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_state_carries_between_calls(cell):
    spec, params, _, inputs, targets, h0 = random_problem(VOCAB, HIDDEN, 2, 20, 3, cell=cell)
    whole_loss, whole_h = kernels.sequence_loss(spec, params, inputs, targets, h0)
    first, h_mid = kernels.sequence_loss(spec, params, inputs[:8], targets[:8], h0)
    second, h_end = kernels.sequence_loss(spec, params, inputs[8:], targets[8:], h_mid)
    np.testing.assert_allclose(first + second, whole_loss, rtol=1e-12)
    np.testing.assert_allclose(h_end, whole_h, rtol=1e-12, atol=1e-15)


def test_the_lstm_forget_bias_starts_at_one_in_bias_ih():
    spec = ModelSpec(5, 4, 2, cell="lstm")
    named = spec.unflatten(spec.init_params())
    for layer in range(2):
        b_ih, b_hh = named[f"bias_ih_l{layer}"], named[f"bias_hh_l{layer}"]
        np.testing.assert_array_equal(b_ih, [0] * 4 + [1] * 4 + [0] * 8)   # i, f, g, o
        assert not b_hh.any()
    no_bias = spec.init_params(forget_bias=0.0)
    assert not spec.unflatten(no_bias)["bias_ih_l1"].any()


# ---- dropout ----

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_matches_reference_with_the_same_rng(cell, dtype):
    problem = random_problem(VOCAB, HIDDEN, 3, 7, 3, std=0.5, cell=cell)
    inputs, targets = problem.inputs, problem.targets
    ref_opt = adagrad_with_mem(problem, learning_rate=0.1)
    opt = optimizer_in(ref_opt, dtype)
    ref_params, ref_grads = problem.params.copy(), np.zeros_like(problem.params)
    ref_loss, ref_h = reference.train_step(problem.spec, ref_opt, ref_params, ref_grads,
                                           inputs, targets, problem.h0, clip=5.0, dropout=0.4,
                                           rng=np.random.default_rng(11))
    spec, params, h0 = in_dtype(problem, dtype)
    grads = np.zeros_like(params)
    loss, h_last = kernels.train_step(spec, opt, params, grads, inputs, targets, h0, clip=5.0,
                                      dropout=0.4, rng=np.random.default_rng(11))
    rtol = TOLERANCE[dtype]
    assert_close(loss, ref_loss, rtol, "loss")
    assert_close(h_last, ref_h, rtol, "h_last")
    assert_close(params, ref_params, rtol, "params")
    assert_close(grads, ref_grads, rtol, "grads")
    assert_optimizers_close(opt, ref_opt, rtol)
    # The masks changed something: without dropout the loss differs.
    plain, _ = reference.sequence_loss(problem.spec, problem.params, inputs, targets,
                                       problem.h0)
    assert abs(plain - ref_loss) > 1e-3


def test_dropout_masks_are_scaled_bernoulli():
    mask = dropout_mask(np.random.default_rng(0), 0.25, (200, 500), np.float64)
    assert set(np.unique(mask)) == {0.0, 1 / 0.75}
    assert abs((mask == 0).mean() - 0.25) < 0.005
    assert abs(mask.mean() - 1) < 0.01          # the expected activation is unchanged


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_dropout_does_nothing_with_one_layer_or_rate_zero(cell):
    spec, params, _, inputs, targets, h0 = random_problem(VOCAB, HIDDEN, 1, 5, 2, cell=cell)
    plain = np.zeros_like(params)
    dropped = np.zeros_like(params)
    loss, _ = kernels.loss_and_grads(spec, params, plain, inputs, targets, h0)
    same, _ = kernels.loss_and_grads(spec, params, dropped, inputs, targets, h0, dropout=0.5,
                                     rng=np.random.default_rng(0))
    assert loss == same
    np.testing.assert_array_equal(plain, dropped)


@pytest.mark.parametrize("changes, error, message", [
    ({"dropout": 1.0}, ValueError, "dropout must be a number in"),
    ({"dropout": -0.1}, ValueError, "dropout must be a number in"),
    ({"dropout": 0.5}, TypeError, "needs rng"),
])
def test_bad_dropout_arguments_are_named(changes, error, message):
    spec, params, _, inputs, targets, h0 = random_problem(VOCAB, HIDDEN, 2, 3, 2)
    with pytest.raises(error, match=message):
        kernels.loss_and_grads(spec, params, np.zeros_like(params), inputs, targets, h0,
                               **changes)


def test_a_bad_cell_is_named():
    # The cell is the spec's now: an unknown one is refused where the spec is
    # made, and a bare cell name where a spec belongs is refused by the kernel.
    with pytest.raises(ValueError, match=r"cell must be one of \('rnn', 'gru', 'lstm'\), "
                                         r"got 'transformer'"):
        ModelSpec(VOCAB, HIDDEN, 2, cell="transformer")
    spec, params, _, inputs, targets, h0 = random_problem(VOCAB, HIDDEN, 2, 3, 2)
    with pytest.raises(TypeError, match="spec must be a ModelSpec, not str"):
        kernels.loss_and_grads("rnn", params, np.zeros_like(params), inputs, targets, h0)


def test_an_lstm_needs_h_and_c():
    spec, params, _, inputs, targets, h0 = random_problem(VOCAB, HIDDEN, 2, 3, 2, cell="lstm")
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 2, 8\), "
                                         r"the model needs \(2, 2, 2, 8\)"):
        kernels.sequence_loss(spec, params, inputs, targets, h0[0])
    # LSTM weights given to a GRU of the same sizes: a gate block too many per layer.
    gru = ModelSpec(VOCAB, HIDDEN, 2, cell="gru")
    with pytest.raises(ValueError, match=rf"params has shape \({spec.num_params},\), "
                                         rf"the model needs \({gru.num_params},\)"):
        kernels.sequence_loss(gru, params, inputs, targets, h0[0])


# ---- sampling ----

@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_greedy_sampling_is_the_references(cell, dtype):
    spec = ModelSpec(7, 16, 2, cell=cell)
    params = spec.init_params(seed=3, std=0.5)
    params[-7:] = np.linspace(-1, 1, 7)
    h = np.zeros(spec.sample_state_shape())                 # LSTM: h and c
    assert h.shape == ((2, 2, 16) if cell == "lstm" else (2, 16))
    ours_spec = ModelSpec(7, 16, 2, cell=cell, dtype=dtype)
    rng_state = np.random.SeedSequence(0).generate_state(4, np.uint64)
    ours, h_ours = kernels.sample(ours_spec, params.astype(dtype), h.astype(dtype), rng_state,
                                  [1, 2, 3], 40, temperature=0)
    ref, h_ref = reference.sample(spec, params, h, [1, 2, 3], 40, 0, None)
    np.testing.assert_array_equal(ours, ref)
    assert h_ours.shape == h.shape and h_ours.dtype == dtype
    np.testing.assert_allclose(h_ours, h_ref, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_sampling_continuation_equals_one_long_call(cell):
    spec = ModelSpec(7, 16, 2, cell=cell)
    params = spec.init_params(seed=3, std=0.5)
    h = np.zeros(spec.sample_state_shape())
    fresh = lambda: np.random.SeedSequence(5).generate_state(4, np.uint64)  # noqa: E731
    whole, _ = kernels.sample(spec, params, h, fresh(), [1], 100)
    rng = fresh()
    first, h_mid = kernels.sample(spec, params, h, rng, [1], 40)
    rest, _ = kernels.sample(spec, params, h_mid, rng, first[-1:], 60)
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)


def test_threads_keep_their_own_workspace():
    # Each thread reuses a workspace of its own, so concurrent calls of
    # different sizes cannot see each other's activations.
    from concurrent.futures import ThreadPoolExecutor

    cells = ["lstm", "gru", "rnn", "lstm"]
    problems = [random_problem(VOCAB, HIDDEN + 4 * i, 2, 30 + i, 1 + i, seed=i, cell=cell)
                for i, cell in enumerate(cells)]

    def run(i):
        spec, params, _, inputs, targets, h0 = problems[i]
        results = []
        for _ in range(5):
            grads = np.zeros_like(params)
            loss, h_last = kernels.loss_and_grads(spec, params, grads, inputs, targets, h0)
            results.append((loss, h_last, grads))
        return results

    alone = [run(i) for i in range(4)]
    kernels.release_workspace()
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, range(4)))
    for mine, theirs in zip(alone, together):
        for (loss, h_last, grads), (loss2, h_last2, grads2) in zip(mine, theirs):
            assert loss == loss2
            np.testing.assert_array_equal(h_last, h_last2)
            np.testing.assert_array_equal(grads, grads2)
