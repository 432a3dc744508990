"""Subnormals flushed inside our calls (csrc/fpmode.h), and the caller's
floating-point mode left as it was by every entry point."""


import numpy as np
import pytest

from charrnn_c import CharRNN, _core, kernels
from charrnn_c.optimizers import Adam
from charrnn_c.spec import ModelSpec

SUPPORTED = _core.flush_subnormals()


@pytest.fixture
def flushing():
    """Set the flush switch for one test, and put it back."""
    before = _core.flush_subnormals()
    yield _core.set_flush_subnormals
    _core.set_flush_subnormals(before)


def subnormal_problem():
    """An LSTM whose N(0, (1e-20)^2) float32 weights make products of about
    1e-40: below float32's smallest normal, 1.2e-38."""
    spec = ModelSpec(11, 16, 2, "lstm", "float32")
    params = spec.init_params(seed=0, std=1e-20)
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 11, (8, 3))
    targets = rng.integers(0, 11, (8, 3))
    h0 = np.zeros(spec.state_shape(3), dtype=np.float32)
    return spec, params, inputs, targets, h0


def test_a_step_whose_values_go_subnormal_is_the_same_flushed_or_not(flushing):
    spec, params0, inputs, targets, h0 = subnormal_problem()
    results = {}
    for flush in (False, True):
        flushing(flush)
        params, grads = params0.copy(), np.zeros_like(params0)
        optimizer = Adam(spec, 1e-3)
        loss, h = kernels.train_step(spec, optimizer, params, grads, inputs, targets, h0)
        results[flush] = loss, h, params, grads
    (loss0, h0_, p0, g0), (loss1, h1, p1, g1) = results[False], results[True]
    assert loss1 == pytest.approx(loss0, rel=1e-6)
    np.testing.assert_allclose(h1, h0_, atol=1e-37)
    np.testing.assert_allclose(p1, p0, rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(g1, g0, rtol=1e-5, atol=1e-30)
    # The IEEE run really met subnormals: its gradient holds some.
    tiny = np.abs(g0[(g0 != 0)])
    assert (tiny < np.finfo(np.float32).tiny).any()
    if SUPPORTED:      # and flushing turned them into zeros
        assert not (np.abs(g1[g1 != 0]) < np.finfo(np.float32).tiny).any()


def every_entry_point():
    spec, params, inputs, targets, h0 = subnormal_problem()
    optimizer = Adam(spec)
    grads = np.zeros_like(params)
    rng_state = np.random.SeedSequence(0).generate_state(4, np.uint64)
    return {
        "sequence_loss": lambda: kernels.sequence_loss(spec, params, inputs, targets, h0),
        "target_log_probs": lambda: kernels.target_log_probs(spec, params, inputs, targets, h0),
        "loss_and_grads": lambda: kernels.loss_and_grads(spec, params, grads, inputs, targets,
                                                         h0),
        "optimizer_step": lambda: kernels.optimizer_step(optimizer, params, grads),
        "train_step": lambda: kernels.train_step(spec, optimizer, params, grads, inputs,
                                                 targets, h0),
        "sample": lambda: kernels.sample(spec, params, np.zeros(spec.sample_state_shape(),
                                                                dtype=np.float32),
                                         rng_state, [1], 20),
    }


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("name", sorted(every_entry_point()))
def test_every_entry_point_leaves_the_callers_mode_as_it_was(flushing, flush, name):
    flushing(flush)
    call = every_entry_point()[name]
    before = _core.fp_mode()
    call()
    assert _core.fp_mode() == before


def test_fit_and_sample_leave_the_callers_mode_as_it_was(shakespeare):
    before = _core.fp_mode()
    model = CharRNN(hidden_size=16, seed=0).fit(shakespeare[:5_000], iterations=5,
                                                progress=False)
    model.sample(50, seed=0)
    model.evaluate(shakespeare[5_000:6_000])
    assert _core.fp_mode() == before


def test_flushing_is_on_by_default_where_the_processor_can():
    import platform
    if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        assert SUPPORTED


@pytest.mark.parametrize("dtype, name, value", [
    ("float64", "clip_norm", 5e-324), ("float32", "clip_norm", 1e-39),
    ("float64", "clip", 1e-310), ("float32", "learning_rate", 1e-40)])
def test_a_value_flush_to_zero_would_change_is_refused_by_name(dtype, name, value):
    # clip_norm=5e-324 trained bit-identical to clip_norm=None: under
    # denormals-are-zero `max_norm > 0` is false (issue 22).
    model = CharRNN(hidden_size=4, num_layers=1, dtype=dtype, seed=0, batch_size=2,
                    **{name: value})
    with pytest.raises(ValueError, match=rf"^{name} must be 0 or at least .*smallest normal "
                                         rf"{dtype}"):
        model.fit("abcdefgh" * 50, iterations=1, progress=False)


def test_the_smallest_normal_clip_norm_still_clips():
    text = "abcdefgh" * 50
    tiny = float(np.finfo(np.float64).tiny)
    clipped = CharRNN(hidden_size=4, num_layers=1, dtype="float64", seed=0, clip_norm=tiny,
                      batch_size=2, val_fraction=0).fit(text, iterations=2, progress=False)
    free = CharRNN(hidden_size=4, num_layers=1, dtype="float64", seed=0, clip_norm=None,
                   batch_size=2, val_fraction=0).fit(text, iterations=2, progress=False)
    assert not np.array_equal(clipped.params_, free.params_)


def test_the_kernel_entry_refuses_a_subnormal_clip_norm_too():
    spec = ModelSpec(5, 4, 1, "rnn", "float64")
    params = spec.init_params(seed=0)
    optimizer = Adam(spec, 0.01)
    inputs = np.zeros((3, 1), dtype=np.int32)
    with pytest.raises(ValueError, match="^clip_norm must be 0 or at least"):
        kernels.train_step(spec, optimizer, params, np.zeros_like(params), inputs, inputs,
                           np.zeros(spec.state_shape(1)), 5.0, clip_norm=5e-324)
