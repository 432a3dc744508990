"""The C core's BPTT against central finite differences of its own forward
pass, in float64, with products sent to BLAS whole and cut into blocks.

The reference's gradient check (test_reference_gradcheck.py) proves the
specification; this one proves the kernels on their own, along both product
paths (conftest.product_path), so a machine whose BLAS takes only one of them
in production still checks the other.
"""

import numpy as np
import pytest

from charrnn_c import _core, kernels
from conftest import random_problem


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers, batch_size, seq_length", [(1, 3, 4), (2, 4, 3)])
def test_kernel_gradient_matches_finite_differences(product_path, cell, num_layers,
                                                    batch_size, seq_length):
    # H = 8 and B = 3 or 4: under the blocks path both the forward's and the
    # backward's recurrent products are cut (asserted below).
    V, H = 5, 8
    spec, params, _, inputs, targets, h0 = random_problem(
        V, H, num_layers, seq_length, batch_size, std=0.5, cell=cell)
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    forward_cut = _core.small_gemm_plan(True, batch_size, gates * H, H)
    backward_cut = _core.small_gemm_plan(False, batch_size, H, gates * H)
    assert (forward_cut is not None, backward_cut is not None) == (
        (product_path == "blocks",) * 2), (forward_cut, backward_cut)

    grads = np.zeros_like(params)
    kernels.loss_and_grads(spec, params, grads, inputs, targets, h0)
    eps = 1e-5                    # truncation and rounding both near 1e-10
    numeric = np.empty_like(params)
    for i in range(params.size):
        bumped = params.copy()
        bumped[i] += eps
        up, _ = kernels.sequence_loss(spec, bumped, inputs, targets, h0)
        bumped[i] -= 2 * eps
        down, _ = kernels.sequence_loss(spec, bumped, inputs, targets, h0)
        numeric[i] = (up - down) / (2 * eps)

    error = np.abs(grads - numeric) / np.maximum(np.abs(grads) + np.abs(numeric), 1e-3)
    i = int(error.argmax())
    assert error[i] < 1e-6, f"param {i}: analytic {grads[i]}, numeric {numeric[i]}"
