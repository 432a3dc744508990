"""The reference's BPTT against central finite differences, in float64.

This proves the specification itself, not just the kernel's agreement with it.
"""

import numpy as np
import pytest

from charrnn_c import layout, reference
from conftest import random_problem


@pytest.mark.parametrize("num_layers, batch_size, seq_length", [(1, 1, 4), (2, 3, 5), (3, 2, 3)])
def test_reference_gradient_matches_finite_differences(num_layers, batch_size, seq_length):
    V, H = 5, 4
    params, _, inputs, targets, h0 = random_problem(
        V, H, num_layers, seq_length, batch_size, std=0.5)
    grads = np.zeros_like(params)
    reference.loss_and_grads(params, grads, inputs, targets, h0)

    eps = 1e-6
    numeric = np.empty_like(params)
    for i in range(params.size):
        bumped = params.copy()
        bumped[i] += eps
        up, _ = reference.sequence_loss(bumped, inputs, targets, h0)
        bumped[i] -= 2 * eps
        down, _ = reference.sequence_loss(bumped, inputs, targets, h0)
        numeric[i] = (up - down) / (2 * eps)

    error = np.abs(grads - numeric) / np.maximum(np.abs(grads) + np.abs(numeric), 1e-8)
    worst = layout.param_views(V, H, num_layers)
    names = [v.name for v in worst for _ in range(v.size)]
    i = int(error.argmax())
    assert error[i] < 1e-6, f"{names[i]}[{i}]: analytic {grads[i]}, numeric {numeric[i]}"
    # Every named view gets a non-zero gradient (nothing is silently left out).
    for view in worst:
        assert np.abs(grads[view.offset:view.offset + view.size]).max() > 0, view.name
