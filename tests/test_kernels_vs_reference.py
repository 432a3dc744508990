"""Every C kernel against the NumPy reference, in both dtypes."""

import itertools

import numpy as np
import pytest

from charrnn_c import kernels, reference
from conftest import random_problem

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}
HIDDEN = 16

SHAPES = list(itertools.product([1, 2, 3], [1, 4], [1, 25], [3, 84]))


def assert_close(actual, expected, rtol, what):
    """Max abs error relative to the largest magnitude of the expected array."""
    scale = max(np.abs(expected).max(), 1e-300)
    error = np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / scale
    assert error <= rtol, f"{what}: relative error {error:.3g} > {rtol:g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers, batch_size, seq_length, vocab_size", SHAPES)
def test_train_step_matches_reference(dtype, num_layers, batch_size, seq_length, vocab_size):
    params, mem, inputs, targets, h0 = random_problem(
        vocab_size, HIDDEN, num_layers, seq_length, batch_size, seed=seq_length + vocab_size)
    lr, clip = 0.1, 5.0

    ref = [a.copy() for a in (params, np.zeros_like(params), mem)]
    ref_loss, ref_h = reference.train_step(*ref, inputs, targets, h0, lr, clip)

    ours = [a.astype(dtype) for a in (params, np.zeros_like(params), mem)]
    loss, h_last = kernels.train_step(*ours, inputs, targets, h0.astype(dtype), lr, clip)

    rtol = TOLERANCE[dtype]
    assert_close(loss, ref_loss, rtol, "loss")
    assert_close(h_last, ref_h, rtol, "h_last")
    for name, actual, expected in zip(["params", "grads", "mem"], ours, ref):
        assert_close(actual, expected, rtol, name)
    assert h_last.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers, batch_size", [(1, 1), (3, 4)])
def test_unclipped_gradients_match_reference(dtype, num_layers, batch_size):
    # Large weights make large gradients: with clipping out of the way, every
    # gradient entry is compared, not just the clamped ones.
    params, _, inputs, targets, h0 = random_problem(
        84, HIDDEN, num_layers, 25, batch_size, std=0.5)
    ref_grads = np.zeros_like(params)
    ref_loss, _ = reference.loss_and_grads(params, ref_grads, inputs, targets, h0)

    grads = np.full(params.size, 0.25, dtype=dtype)     # accumulates onto what is there
    loss, _ = kernels.loss_and_grads(params.astype(dtype), grads, inputs, targets,
                                     h0.astype(dtype))
    assert_close(loss, ref_loss, TOLERANCE[dtype], "loss")
    assert_close(grads - 0.25, ref_grads, TOLERANCE[dtype], "grads")
    assert np.abs(ref_grads).max() > 5, "the case should produce gradients beyond the clip"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sequence_loss_matches_reference(dtype):
    params, _, inputs, targets, h0 = random_problem(84, HIDDEN, 2, 25, 4)
    ref_loss, ref_h = reference.sequence_loss(params, inputs, targets, h0)
    loss, h_last = kernels.sequence_loss(params.astype(dtype), inputs, targets,
                                         h0.astype(dtype))
    assert_close(loss, ref_loss, TOLERANCE[dtype], "loss")
    assert_close(h_last, ref_h, TOLERANCE[dtype], "h_last")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_target_log_probs_match_the_references_softmax(dtype):
    params, _, inputs, targets, h0 = random_problem(84, HIDDEN, 2, 25, 4)
    logits, _ = reference.forward(params, inputs, h0)
    T, B = inputs.shape
    expected = np.log(reference.softmax(logits))[np.arange(T)[:, None], np.arange(B), targets]
    log_probs, h_last = kernels.target_log_probs(params.astype(dtype), inputs, targets,
                                                 h0.astype(dtype))
    assert log_probs.shape == (T, B) and log_probs.dtype == np.float64
    assert_close(log_probs, expected, TOLERANCE[dtype], "log_probs")
    loss, _ = kernels.sequence_loss(params.astype(dtype), inputs, targets, h0.astype(dtype))
    assert_close(-log_probs.sum() / B, loss, 1e-12, "loss from log_probs")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_and_adagrad_match_reference(dtype):
    rng = np.random.default_rng(3)
    grads = rng.normal(0, 10, 1000)
    params, mem = rng.normal(0, 1, 1000), rng.uniform(0, 1, 1000)

    ours = [a.astype(dtype) for a in (params, grads, mem)]
    kernels.clip_gradients(ours[1], 5.0)
    kernels.adagrad_update(*ours, 0.1)

    reference.clip_gradients(grads, 5.0)
    reference.adagrad_update(params, grads, mem, 0.1)
    assert np.abs(grads).max() == 5.0
    for name, actual, expected in zip(["params", "grads", "mem"], ours, [params, grads, mem]):
        assert_close(actual, expected, TOLERANCE[dtype], name)


def test_hidden_state_carries_between_calls():
    # Two calls of T steps, carrying h_last, equal one call of 2T steps in the
    # forward pass (the loss adds up and the final state is the same).
    params, _, inputs, targets, h0 = random_problem(10, HIDDEN, 2, 20, 3)
    whole_loss, whole_h = kernels.sequence_loss(params, inputs, targets, h0)
    first_loss, h_mid = kernels.sequence_loss(params, inputs[:10], targets[:10], h0)
    second_loss, h_end = kernels.sequence_loss(params, inputs[10:], targets[10:], h_mid)
    np.testing.assert_allclose(first_loss + second_loss, whole_loss, rtol=1e-12)
    np.testing.assert_allclose(h_end, whole_h, rtol=1e-12)
