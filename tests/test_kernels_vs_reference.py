"""Every C kernel against the NumPy reference, in both dtypes."""

import copy
import dataclasses
import itertools

import numpy as np
import pytest

from charrnn_c import kernels, reference
from charrnn_c.optimizers import OPTIMIZERS, Adagrad
from charrnn_c.spec import ModelSpec
from conftest import random_problem

# Every test twice: products whole, and cut into small-matrix blocks (conftest).
pytestmark = pytest.mark.usefixtures("product_path")

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}
HIDDEN = 16

SHAPES = list(itertools.product([1, 2, 3], [1, 4], [1, 25], [3, 84]))


def assert_close(actual, expected, rtol, what):
    """Max abs error relative to the largest magnitude of the expected array."""
    scale = max(np.abs(expected).max(), 1e-300)
    error = np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / scale
    assert error <= rtol, f"{what}: relative error {error:.3g} > {rtol:g}"


def in_dtype(problem, dtype):
    """The problem's spec, params and h0 in ``dtype``: the kernels take only
    buffers of the spec's dtype."""
    spec = dataclasses.replace(problem.spec, dtype=np.dtype(dtype).name)
    return spec, problem.params.astype(dtype), problem.h0.astype(dtype)


def optimizer_in(optimizer, dtype):
    """A copy of ``optimizer`` (hyperparameters, step count, state) with its
    buffers in ``dtype``, for the kernel's side of a comparison."""
    ours = copy.deepcopy(optimizer)
    ours.buffers = {name: buffer.astype(dtype) for name, buffer in optimizer.buffers.items()}
    return ours


def adagrad_with_mem(problem, learning_rate=0.1):
    """The write-up's optimizer, its memory already part-filled (the problem's mem)."""
    optimizer = Adagrad(problem.spec, learning_rate)
    optimizer.buffers["mem"][:] = problem.mem
    return optimizer


def assert_optimizers_close(ours, ref, rtol):
    assert ours.steps == ref.steps
    for name, expected in ref.buffers.items():
        assert_close(ours.buffers[name], expected, rtol, f"{ref.name} {name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers, batch_size, seq_length, vocab_size", SHAPES)
def test_train_step_matches_reference(dtype, num_layers, batch_size, seq_length, vocab_size):
    problem = random_problem(vocab_size, HIDDEN, num_layers, seq_length, batch_size,
                             seed=seq_length + vocab_size)
    ref_opt = adagrad_with_mem(problem)
    opt = optimizer_in(ref_opt, dtype)

    ref_params, ref_grads = problem.params.copy(), np.zeros_like(problem.params)
    ref_loss, ref_h = reference.train_step(problem.spec, ref_opt, ref_params, ref_grads,
                                           problem.inputs, problem.targets, problem.h0, clip=5.0)

    spec, params, h0 = in_dtype(problem, dtype)
    grads = np.zeros_like(params)
    loss, h_last = kernels.train_step(spec, opt, params, grads, problem.inputs,
                                      problem.targets, h0, clip=5.0)

    rtol = TOLERANCE[dtype]
    assert_close(loss, ref_loss, rtol, "loss")
    assert_close(h_last, ref_h, rtol, "h_last")
    assert_close(params, ref_params, rtol, "params")
    assert_close(grads, ref_grads, rtol, "grads")
    assert_optimizers_close(opt, ref_opt, rtol)
    assert opt.steps == 1
    assert h_last.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers, batch_size", [(1, 1), (3, 4)])
def test_unclipped_gradients_match_reference(dtype, num_layers, batch_size):
    # Large weights make large gradients: with clipping out of the way, every
    # gradient entry is compared, not just the clamped ones.
    problem = random_problem(84, HIDDEN, num_layers, 25, batch_size, std=0.5)
    ref_grads = np.zeros_like(problem.params)
    ref_loss, _ = reference.loss_and_grads(problem.spec, problem.params, ref_grads,
                                           problem.inputs, problem.targets, problem.h0)

    spec, params, h0 = in_dtype(problem, dtype)
    grads = np.full(params.size, 0.25, dtype=dtype)     # accumulates onto what is there
    loss, _ = kernels.loss_and_grads(spec, params, grads, problem.inputs, problem.targets, h0)
    assert_close(loss, ref_loss, TOLERANCE[dtype], "loss")
    assert_close(grads - 0.25, ref_grads, TOLERANCE[dtype], "grads")
    assert np.abs(ref_grads).max() > 5, "the case should produce gradients beyond the clip"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sequence_loss_matches_reference(dtype):
    problem = random_problem(84, HIDDEN, 2, 25, 4)
    ref_loss, ref_h = reference.sequence_loss(problem.spec, problem.params, problem.inputs,
                                              problem.targets, problem.h0)
    spec, params, h0 = in_dtype(problem, dtype)
    loss, h_last = kernels.sequence_loss(spec, params, problem.inputs, problem.targets, h0)
    assert_close(loss, ref_loss, TOLERANCE[dtype], "loss")
    assert_close(h_last, ref_h, TOLERANCE[dtype], "h_last")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_target_log_probs_match_the_references_softmax(dtype):
    problem = random_problem(84, HIDDEN, 2, 25, 4)
    inputs, targets = problem.inputs, problem.targets
    logits, _ = reference.forward(problem.spec, problem.params, inputs, problem.h0)
    T, B = inputs.shape
    expected = np.log(reference.softmax(logits))[np.arange(T)[:, None], np.arange(B), targets]
    spec, params, h0 = in_dtype(problem, dtype)
    log_probs, h_last = kernels.target_log_probs(spec, params, inputs, targets, h0)
    assert log_probs.shape == (T, B) and log_probs.dtype == np.float64
    assert_close(log_probs, expected, TOLERANCE[dtype], "log_probs")
    loss, _ = kernels.sequence_loss(spec, params, inputs, targets, h0)
    assert_close(-log_probs.sum() / B, loss, 1e-12, "loss from log_probs")


def test_hidden_state_carries_between_calls():
    # Two calls of T steps, carrying h_last, equal one call of 2T steps in the
    # forward pass (the loss adds up and the final state is the same).
    spec, params, _, inputs, targets, h0 = random_problem(10, HIDDEN, 2, 20, 3)
    whole_loss, whole_h = kernels.sequence_loss(spec, params, inputs, targets, h0)
    first_loss, h_mid = kernels.sequence_loss(spec, params, inputs[:10], targets[:10], h0)
    second_loss, h_end = kernels.sequence_loss(spec, params, inputs[10:], targets[10:], h_mid)
    np.testing.assert_allclose(first_loss + second_loss, whole_loss, rtol=1e-12)
    np.testing.assert_allclose(h_end, whole_h, rtol=1e-12)


# ---- the optimizer step: norm scaling, clipping and every update ----

def step_tolerance(name, dtype):
    """float64 1e-12 and float32 1e-5, but Adam's float32 1e-4: its v is
    updated with 1 - beta2 from beta2 rounded to float32, and 1 - 0.999f is
    1.3e-5 away from 1e-3 (PyTorch's float32 Adam does the same)."""
    if dtype == np.float64:
        return 1e-12
    return 1e-4 if name == "adam" else 1e-5


# The optimizers size their buffers from a spec; this one's 948 values are
# treated as one flat vector.
FLAT_SPEC = ModelSpec(20, 16, 1)


def gradient_problem(seed=3):
    """Weights and three gradients of N(0, 10^2) entries: global norm about
    300, many entries beyond a clip of 5."""
    rng = np.random.default_rng(seed)
    n = FLAT_SPEC.num_params
    return rng.normal(0, 1, n), [rng.normal(0, 10, n) for _ in range(3)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip, clip_norm", [
    (5.0, None),      # elementwise clip only: the write-up's
    (1e3, 50.0),      # scaled to norm 50, no entry clipped
    (5.0, 100.0),     # scaled to norm 100, then the entries still beyond 5 clipped
    (1e3, 1e4),       # the norm (about 300) is below clip_norm: nothing scaled
], ids=["clip", "norm", "norm-then-clip", "norm-below"])
def test_optimizer_step_matches_reference(name, dtype, clip, clip_norm):
    params, gradients = gradient_problem()
    rtol = step_tolerance(name, dtype)
    ref_opt = OPTIMIZERS[name](FLAT_SPEC, learning_rate=1e-2)
    opt = optimizer_in(ref_opt, dtype)
    ref_params, ours = params.copy(), params.astype(dtype)
    for g in gradients:
        ref_grads, grads = g.copy(), g.astype(dtype)
        reference.optimizer_step(ref_opt, ref_params, ref_grads, clip=clip, clip_norm=clip_norm)
        kernels.optimizer_step(opt, ours, grads, clip=clip, clip_norm=clip_norm)
        # grads ends holding the gradient as applied: scaled, then clipped.
        assert_close(grads, ref_grads, rtol, "grads")

        norm = np.linalg.norm(g)
        if clip_norm is None or norm <= clip_norm:
            # Not scaled at all: exactly the clipped gradient, on both sides.
            np.testing.assert_array_equal(grads, np.clip(g.astype(dtype), -clip, clip))
            np.testing.assert_array_equal(ref_grads, np.clip(g, -clip, clip))
        else:
            # torch.nn.utils.clip_grad_norm_'s factor, max_norm / (norm + 1e-6).
            scaled = g * (clip_norm / (norm + 1e-6))
            np.testing.assert_allclose(ref_grads, np.clip(scaled, -clip, clip), rtol=1e-14)
        if clip == 5.0:
            assert np.abs(ref_grads).max() == 5.0, "some entries should have been clipped"
        elif clip_norm < norm:
            np.testing.assert_allclose(np.linalg.norm(ref_grads), clip_norm, rtol=1e-7)

    assert_close(ours, ref_params, rtol, "params")
    assert_optimizers_close(opt, ref_opt, rtol)
    assert opt.steps == ref_opt.steps == 3


@pytest.mark.parametrize("name, overrides", [
    ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
    ("rmsprop", {"alpha": 0.9, "eps": 1e-6}),
])
def test_hyperparameters_set_on_an_optimizer_reach_the_kernel(name, overrides):
    params, gradients = gradient_problem()
    default = OPTIMIZERS[name](FLAT_SPEC, learning_rate=1e-2)
    tuned = copy.deepcopy(default)
    for attribute, value in overrides.items():
        setattr(tuned, attribute, value)
    ref_tuned = copy.deepcopy(tuned)
    results = []
    for optimizer, step in ((default, kernels.optimizer_step), (tuned, kernels.optimizer_step),
                            (ref_tuned, reference.optimizer_step)):
        p = params.copy()
        for g in gradients:
            step(optimizer, p, g.copy())
        results.append(p)
    default_params, tuned_params, ref_params = results
    assert_close(tuned_params, ref_params, 1e-12, "params")
    # The class's defaults are untouched, and the instance's made a difference.
    assert OPTIMIZERS[name].eps == 1e-8
    assert np.abs(tuned_params - default_params).max() > 1e-3


# ---- whole training steps with every optimizer ----

@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_train_step_with_every_optimizer_matches_reference(cell, name, dtype, clip_norm):
    # Three steps, each on its own window, carrying the state, the optimizer
    # and the dropout rng from one to the next; two layers, so dropout applies.
    T, steps, dropout = 4, 3, 0.3
    problem = random_problem(13, 8, 2, steps * T, 3, seed=21, std=0.3, cell=cell)
    # Adagrad starts from the problem's part-filled memory: a fresh one's
    # first step, lr * g / sqrt(g^2 + 1e-8), turns the float32 rounding of
    # gradients near 1e-4 into steps of visibly different size.
    ref_opt = (adagrad_with_mem(problem) if name == "adagrad"
               else OPTIMIZERS[name](problem.spec))
    opt = optimizer_in(ref_opt, dtype)
    spec, params, h = in_dtype(problem, dtype)
    grads = np.zeros_like(params)
    ref_params, ref_grads = problem.params.copy(), np.zeros_like(problem.params)
    ref_h = problem.h0
    rng, ref_rng = np.random.default_rng(11), np.random.default_rng(11)
    rtol = step_tolerance(name, dtype)
    for step in range(steps):
        window = slice(step * T, (step + 1) * T)
        inputs, targets = problem.inputs[window], problem.targets[window]
        ref_loss, ref_h = reference.train_step(problem.spec, ref_opt, ref_params, ref_grads,
                                               inputs, targets, ref_h, clip_norm=clip_norm,
                                               dropout=dropout, rng=ref_rng)
        loss, h = kernels.train_step(spec, opt, params, grads, inputs, targets, h,
                                     clip_norm=clip_norm, dropout=dropout, rng=rng)
        assert_close(loss, ref_loss, rtol, f"loss at step {step}")
        assert_close(h, ref_h, rtol, f"h_last at step {step}")
        assert_close(grads, ref_grads, rtol, f"grads at step {step}")
        assert_close(params, ref_params, rtol, f"params at step {step}")
        assert_optimizers_close(opt, ref_opt, rtol)
        # A raw gradient norm above 1, so clip_norm=1 scales every step.
        applied = np.linalg.norm(ref_grads)
        if clip_norm is None:
            assert applied > 1.0
        else:
            np.testing.assert_allclose(applied, clip_norm, rtol=1e-5)
    assert opt.steps == ref_opt.steps == steps
    # Both drew the same masks from the same rng, and no more.
    assert rng.bit_generator.state == ref_rng.bit_generator.state
