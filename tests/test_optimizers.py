"""The optimizer step (kernels.optimizer_step) against the reference and
against PyTorch, and the one path every optimizer trains by."""

import numpy as np
import pytest

import charrnn_c.kernels
from charrnn_c import CharRNN, _core, kernels, reference
from charrnn_c.optimizers import KINDS, OPTIMIZERS, Adagrad, Adam, Optimizer, RMSprop
from charrnn_c.spec import ModelSpec

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-4}


def spec_of(dtype=np.float64):
    """A one-layer spec of 717 parameters: the step only sees the flat buffers."""
    return ModelSpec(13, 16, 1, "rnn", np.dtype(dtype).name)


def problem(spec, seed=0, steps=5, scale=1.0):
    """Start parameters and ``steps`` gradients, in float64."""
    rng = np.random.default_rng(seed)
    n = spec.num_params
    return rng.normal(0, 1, n), [scale * rng.normal(0, 1, n) for _ in range(steps)]


def assert_close(actual, expected, rtol):
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error <= rtol, f"relative error {error:.3g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["adagrad", "adam", "rmsprop"])
@pytest.mark.parametrize("clip_norm", [None, 20.0])
def test_the_step_matches_the_reference_over_five_steps(dtype, name, clip_norm):
    spec = spec_of(dtype)
    params, gradients = problem(spec, seed=1, scale=2.0)
    ref_optimizer = OPTIMIZERS[name](spec_of(np.float64), 1e-2)
    ours_optimizer = OPTIMIZERS[name](spec, 1e-2)
    ref, ours = params.copy(), params.astype(dtype)
    for g in gradients:
        ref_grads, our_grads = g.copy(), g.astype(dtype)
        reference.optimizer_step(ref_optimizer, ref, ref_grads, clip=3.0, clip_norm=clip_norm)
        kernels.optimizer_step(ours_optimizer, ours, our_grads, clip=3.0, clip_norm=clip_norm)
        # grads ends holding the gradient as applied: scaled, then clipped.
        assert_close(our_grads, ref_grads, TOLERANCE[dtype])
        assert np.abs(our_grads).max() <= 3.0
    assert ours_optimizer.steps == ref_optimizer.steps == 5
    assert_close(ours, ref, TOLERANCE[dtype])
    for buffer in ref_optimizer.buffer_names:
        assert_close(ours_optimizer.buffers[buffer], ref_optimizer.buffers[buffer],
                     TOLERANCE[dtype])


def test_adams_first_step_moves_every_parameter_by_lr():
    spec = spec_of()
    params, (g, *_) = problem(spec)
    moved = params.copy()
    kernels.optimizer_step(Adam(spec, 1e-2), moved, g.copy(), clip=np.inf)
    # m_hat / sqrt(v_hat) = g / |g| at step 1, whatever the gradient's size.
    big = np.abs(g) > 0.01                 # where eps (1e-8) is below 1e-6 of |g|
    np.testing.assert_allclose((params - moved)[big], 1e-2 * np.sign(g[big]), rtol=1e-6)


def test_per_instance_hyperparameters_are_the_ones_used():
    spec = spec_of()
    params, (g, *_) = problem(spec, seed=3)
    changed = RMSprop(spec, 1e-3)
    changed.alpha, changed.eps = 0.5, 1e-3
    assert (RMSprop.alpha, RMSprop.eps) == (0.95, 1e-8)     # the class keeps its defaults
    ours = params.copy()
    kernels.optimizer_step(changed, ours, g.copy(), clip=np.inf)
    # v = (1 - alpha) g^2 at step 1: p -= lr * g / (sqrt(0.5) |g| + 1e-3)
    expected = params - 1e-3 * g / (np.sqrt(0.5) * np.abs(g) + 1e-3)
    assert_close(ours, expected, 1e-12)
    np.testing.assert_array_equal(changed.buffers["v"], 0.5 * g * g)


def test_the_c_header_owns_the_step_constants_and_the_optimizer_numbers():
    # Adagrad's eps inside the square root is the write-up's; the norm
    # clip's is torch.nn.utils.clip_grad_norm_'s (csrc/optim.h, via _core).
    assert (_core.ADAGRAD_EPS, _core.NORM_EPS) == (1e-8, 1e-6)
    assert KINDS == {"adagrad": _core.OPTIM_ADAGRAD, "adam": _core.OPTIM_ADAM,
                     "rmsprop": _core.OPTIM_RMSPROP}
    assert set(KINDS) == set(OPTIMIZERS) and len(set(KINDS.values())) == len(KINDS)


def test_a_fresh_optimizer_has_zero_state_and_counts_steps():
    spec = spec_of(np.float32)
    for cls, buffers in ((Adagrad, ["mem"]), (Adam, ["m", "v"]), (RMSprop, ["v"])):
        optimizer = cls(spec)
        assert list(optimizer.buffers) == buffers
        assert optimizer.learning_rate == cls.default_learning_rate
        for buffer in optimizer.buffers.values():
            assert buffer.shape == (spec.num_params,) and buffer.dtype == np.float32
            assert not buffer.any()
        assert optimizer.steps == 0
        params, grads = np.zeros(spec.num_params, np.float32), np.ones(spec.num_params,
                                                                       np.float32)
        kernels.optimizer_step(optimizer, params, grads)
        kernels.optimizer_step(optimizer, params, grads)
        assert optimizer.steps == 2


@pytest.mark.parametrize("name", ["adagrad", "adam", "rmsprop"])
@pytest.mark.parametrize("clip_norm", [None, 30.0])
def test_optimizers_match_pytorch(name, clip_norm):
    """Several steps of torch.nn.utils.clip_grad_norm_ (where clip_norm is
    set), then the elementwise clamp to [-clip, clip], then torch.optim's step."""
    torch = pytest.importorskip("torch")
    spec = spec_of()
    clip = 2.0
    # Gradients of norm about 80: clip_norm scales them by about 0.37, and
    # the clamp still bites on the largest ones.
    params, gradients = problem(spec, seed=2, scale=3.0)
    weight = torch.nn.Parameter(torch.tensor(params.copy(), dtype=torch.float64))
    if name == "adam":
        ours = Adam(spec, 1e-2)
        ours.beta1, ours.beta2, ours.eps = 0.8, 0.99, 1e-6
        theirs = torch.optim.Adam([weight], lr=1e-2, betas=(0.8, 0.99), eps=1e-6,
                                  foreach=False)
    elif name == "rmsprop":
        ours = RMSprop(spec, 1e-3)
        theirs = torch.optim.RMSprop([weight], lr=1e-3, alpha=0.95, eps=1e-8, foreach=False)
    else:
        # The write-up divides by sqrt(mem + 1e-8); PyTorch's Adagrad divides
        # by sqrt(state_sum) + eps: with eps 0 and the sum starting at 1e-8
        # they are the same formula.
        ours = Adagrad(spec, 1e-1)
        theirs = torch.optim.Adagrad([weight], lr=1e-1, eps=0.0,
                                     initial_accumulator_value=1e-8, foreach=False)
    mine = params.copy()
    clamped = 0
    for g in gradients:
        weight.grad = torch.tensor(g.copy())
        if clip_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_([weight], clip_norm, foreach=False)
            assert norm.item() > clip_norm            # the scaling did happen
        clamped += int((weight.grad.abs() > clip).sum())
        weight.grad.clamp_(-clip, clip)
        theirs.step()
        grads = g.copy()
        kernels.optimizer_step(ours, mine, grads, clip=clip, clip_norm=clip_norm)
        assert_close(grads, weight.grad.numpy(), 1e-12)
    assert clamped > 10                               # and so did the clamp
    assert ours.steps == len(gradients)
    assert_close(mine, weight.detach().numpy(), 1e-12)


def test_clip_norm_scales_the_gradient_to_that_norm_exactly():
    spec = spec_of()
    _, (g, *_) = problem(spec, seed=4)
    norm = np.linalg.norm(g)
    grads = g.copy()
    kernels.optimizer_step(Adagrad(spec), np.zeros_like(g), grads, clip=np.inf, clip_norm=2.5)
    # torch.nn.utils.clip_grad_norm_'s factor: max_norm / (norm + 1e-6)
    np.testing.assert_allclose(grads, g * (2.5 / (norm + 1e-6)), rtol=1e-13)
    assert np.linalg.norm(grads) == pytest.approx(2.5, rel=1e-6)
    small = g.copy()
    kernels.optimizer_step(Adagrad(spec), np.zeros_like(g), small, clip=np.inf,
                           clip_norm=2 * norm)
    np.testing.assert_array_equal(small, g)           # under the norm: untouched


@pytest.mark.parametrize("name", ["adagrad", "adam", "rmsprop"])
def test_optimizers_hold_state_and_hyperparameters_but_no_step(name):
    optimizer = OPTIMIZERS[name](spec_of())
    assert isinstance(optimizer, Optimizer)
    for method in ("step", "train_step", "update"):
        assert not hasattr(optimizer, method), method


@pytest.mark.parametrize("name", ["adagrad", "adam", "rmsprop"])
def test_fit_trains_every_optimizer_by_one_kernels_train_step_per_iteration(monkeypatch,
                                                                            name):
    calls = []
    real_train_step = charrnn_c.kernels.train_step

    def counting(spec, optimizer, *args, **kwargs):
        calls.append((spec, optimizer))
        return real_train_step(spec, optimizer, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("training must take the fused step only")

    monkeypatch.setattr(charrnn_c.kernels, "train_step", counting)
    monkeypatch.setattr(charrnn_c.kernels, "optimizer_step", forbidden)
    monkeypatch.setattr(charrnn_c.kernels, "loss_and_grads", forbidden)
    monkeypatch.setattr(reference, "optimizer_step", forbidden)
    model = CharRNN(hidden_size=8, optimizer=name, seq_length=5, val_fraction=0, seed=0)
    model.fit("abcdefghij" * 20, iterations=7, eval_every=100, progress=False)
    assert len(calls) == 7 == model.n_iter_
    assert all(spec is model.spec_ and optimizer is model.optimizer_
               for spec, optimizer in calls)
    assert type(model.optimizer_) is OPTIMIZERS[name]
    assert model.optimizer_.steps == 7
