"""Adam and RMSprop kernels against the reference, and against PyTorch."""

import numpy as np
import pytest

from charrnn_c import kernels, reference

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-4}


def problem(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, n), [rng.normal(0, 1, n) for _ in range(5)]


def assert_close(actual, expected, rtol):
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error <= rtol, f"relative error {error:.3g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_matches_reference_over_five_steps(dtype):
    params, gradients = problem()
    ref = [params.copy(), np.zeros_like(params), np.zeros_like(params)]
    ours = [a.astype(dtype) for a in ref]
    for step, g in enumerate(gradients, start=1):
        reference.adam_update(ref[0], g, ref[1], ref[2], 1e-2, 0.9, 0.999, 1e-8, step)
        kernels.adam_update(ours[0], g.astype(dtype), ours[1], ours[2], 1e-2, 0.9, 0.999,
                            1e-8, step)
    for actual, expected in zip(ours, ref):
        assert_close(actual, expected, TOLERANCE[dtype])


def test_adams_first_step_moves_every_parameter_by_lr():
    params, (g, *_) = problem()
    moved = params.copy()
    kernels.adam_update(moved, g, np.zeros_like(g), np.zeros_like(g), 1e-2, step=1)
    # m_hat / sqrt(v_hat) = g / |g| at step 1, whatever the gradient's size.
    big = np.abs(g) > 0.01                 # where eps (1e-8) is below 1e-6 of |g|
    np.testing.assert_allclose((params - moved)[big], 1e-2 * np.sign(g[big]), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rmsprop_matches_reference_over_five_steps(dtype):
    params, gradients = problem(seed=1)
    ref = [params.copy(), np.zeros_like(params)]
    ours = [a.astype(dtype) for a in ref]
    for g in gradients:
        reference.rmsprop_update(ref[0], g, ref[1], 1e-3, 0.95, 1e-8)
        kernels.rmsprop_update(ours[0], g.astype(dtype), ours[1], 1e-3, 0.95, 1e-8)
    for actual, expected in zip(ours, ref):
        assert_close(actual, expected, TOLERANCE[dtype])


def test_adam_refuses_step_zero():
    params, (g, *_) = problem(10)
    with pytest.raises(ValueError, match="step counts from 1"):
        kernels.adam_update(params, g, np.zeros(10), np.zeros(10), 1e-3, step=0)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
def test_optimizers_match_pytorch(name):
    torch = pytest.importorskip("torch")
    params, gradients = problem(500, seed=2)
    # Gradients of at least 0.5, where Adagrad's two eps placements agree.
    gradients = [g + 0.5 * np.sign(g) for g in gradients]
    weight = torch.nn.Parameter(torch.tensor(params.copy(), dtype=torch.float64))
    if name == "adam":
        optimizer = torch.optim.Adam([weight], lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                                     foreach=False)
        state = [np.zeros_like(params), np.zeros_like(params)]
    elif name == "rmsprop":
        optimizer = torch.optim.RMSprop([weight], lr=1e-3, alpha=0.95, eps=1e-8,
                                        foreach=False)
        state = [np.zeros_like(params)]
    else:
        # PyTorch's Adagrad divides by sqrt(mem) + eps, the write-up by
        # sqrt(mem + 1e-8): with eps 0 and no zero gradients they agree.
        optimizer = torch.optim.Adagrad([weight], lr=1e-1, eps=0.0, foreach=False)
        state = [np.zeros_like(params)]
    ours = params.copy()
    for step, g in enumerate(gradients, start=1):
        weight.grad = torch.tensor(g)
        optimizer.step()
        if name == "adam":
            kernels.adam_update(ours, g, *state, 1e-2, 0.9, 0.999, 1e-8, step)
        elif name == "rmsprop":
            kernels.rmsprop_update(ours, g, *state, 1e-3, 0.95, 1e-8)
        else:
            kernels.adagrad_update(ours, g, *state, 1e-1)
    rtol = 1e-7 if name == "adagrad" else 1e-12
    assert_close(ours, weight.detach().numpy(), rtol)
