"""The reference's BPTT against central finite differences, in float64.

This proves the specification itself, not just the kernel's agreement with it.
"""

import numpy as np
import pytest

from charrnn_c import reference
from conftest import random_problem


def check_against_finite_differences(cell, num_layers, batch_size, seq_length, dropout=0.0):
    V, H = 5, 4
    spec, params, _, inputs, targets, h0 = random_problem(
        V, H, num_layers, seq_length, batch_size, std=0.5, cell=cell)

    def loss_and_grads(p):
        # A fresh Generator with the same seed: the same dropout masks each call.
        grads = np.zeros_like(p)
        loss, _ = reference.loss_and_grads(spec, p, grads, inputs, targets, h0, dropout,
                                           np.random.default_rng(3))
        return loss, grads

    _, grads = loss_and_grads(params)
    # eps = 1e-5: truncation error ~eps^2 and rounding ~1e-16 * loss / eps,
    # both near 1e-10, so entries below ~1e-3 are compared in absolute terms.
    eps = 1e-5
    numeric = np.empty_like(params)
    for i in range(params.size):
        bumped = params.copy()
        bumped[i] += eps
        up, _ = loss_and_grads(bumped)
        bumped[i] -= 2 * eps
        down, _ = loss_and_grads(bumped)
        numeric[i] = (up - down) / (2 * eps)

    error = np.abs(grads - numeric) / np.maximum(np.abs(grads) + np.abs(numeric), 1e-3)
    views = spec.param_views
    names = [v.name for v in views for _ in range(v.size)]
    i = int(error.argmax())
    assert error[i] < 1e-6, f"{names[i]}[{i}]: analytic {grads[i]}, numeric {numeric[i]}"
    # Every named view gets a non-zero gradient (nothing is silently left out).
    for view in views:
        assert np.abs(grads[view.offset:view.offset + view.size]).max() > 0, view.name


@pytest.mark.parametrize("num_layers, batch_size, seq_length", [(1, 1, 4), (2, 3, 5), (3, 2, 3)])
def test_reference_gradient_matches_finite_differences(num_layers, batch_size, seq_length):
    check_against_finite_differences("rnn", num_layers, batch_size, seq_length)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("num_layers, batch_size, seq_length", [(1, 1, 4), (2, 3, 5)])
def test_gated_cells_match_finite_differences(cell, num_layers, batch_size, seq_length):
    check_against_finite_differences(cell, num_layers, batch_size, seq_length)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_dropout_gradient_matches_finite_differences(cell):
    check_against_finite_differences(cell, 3, 2, 4, dropout=0.3)
