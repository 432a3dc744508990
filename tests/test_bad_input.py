"""Bad input to the kernel entry points: a named exception, never a crash."""

import copy
import re

import numpy as np
import pytest

from charrnn_c import kernels
from charrnn_c.optimizers import Adagrad, Adam
from charrnn_c.spec import ModelSpec
from conftest import random_problem

V, H, L, T, B = 5, 4, 2, 3, 2
MEM = "the adagrad buffer 'mem'"      # how the optimizer's state buffer is named


@pytest.fixture
def good():
    spec, params, mem, inputs, targets, h0 = random_problem(V, H, L, T, B)
    optimizer = Adagrad(spec, 0.1)
    optimizer.buffers["mem"][:] = mem
    return dict(spec=spec, optimizer=optimizer, params=params, grads=np.zeros_like(params),
                inputs=inputs, targets=targets, h0=h0, clip=5.0)


def call(args, **changes):
    if "mem" in changes:
        args["optimizer"].buffers["mem"] = changes.pop("mem")
    return kernels.train_step(**{**args, **changes})


def buffer(args, name):
    return args["optimizer"].buffers["mem"] if name == "mem" else args[name]


def label(name):
    return MEM if name == "mem" else name


def test_the_good_arguments_work(good):
    loss, h_last = call(good)
    assert np.isfinite(loss) and h_last.shape == (L, B, H)
    assert good["optimizer"].steps == 1


@pytest.mark.parametrize("name", ["params", "grads", "mem", "h0"])
def test_a_list_instead_of_an_array_is_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{label(name)} must be a NumPy array, not list"):
        call(good, **{name: buffer(good, name).tolist()})


@pytest.mark.parametrize("name", ["params", "grads", "mem", "h0"])
def test_an_integer_buffer_is_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{label(name)} is int64, the model is float64"):
        call(good, **{name: buffer(good, name).astype(np.int64)})


@pytest.mark.parametrize("name", ["params", "grads", "mem", "h0"])
def test_a_buffer_of_another_float_dtype_than_the_spec_is_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{label(name)} is float32, the model is float64"):
        call(good, **{name: buffer(good, name).astype(np.float32)})


@pytest.mark.parametrize("name", ["params", "grads", "mem"])
def test_a_non_contiguous_buffer_is_a_value_error(good, name):
    strided = np.zeros(2 * buffer(good, name).size)[::2]
    with pytest.raises(ValueError, match=f"{label(name)} must be C-contiguous"):
        call(good, **{name: strided})


def test_a_non_contiguous_h0_is_a_value_error(good):
    h0 = np.asfortranarray(good["h0"])
    with pytest.raises(ValueError, match="h0 must be C-contiguous"):
        call(good, h0=h0)


@pytest.mark.parametrize("name", ["params", "grads", "mem"])
def test_a_read_only_buffer_that_is_written_is_a_value_error(good, name):
    buffer(good, name).flags.writeable = False
    with pytest.raises(ValueError, match=f"{label(name)} is read-only"):
        call(good)


def test_read_only_inputs_are_fine_where_nothing_is_written(good):
    for name in ("params", "h0", "inputs", "targets"):
        good[name].flags.writeable = False
    loss, _ = kernels.sequence_loss(good["spec"], good["params"], good["inputs"],
                                    good["targets"], good["h0"])
    assert np.isfinite(loss)
    call({**good, "params": good["params"].copy()})


@pytest.mark.parametrize("name", ["params", "grads", "mem"])
def test_a_buffer_of_the_wrong_length_is_a_value_error(good, name):
    n = good["spec"].num_params
    with pytest.raises(ValueError, match=rf"{label(name)} has shape \({n - 1},\)"):
        call(good, **{name: buffer(good, name)[:-1].copy()})


def test_params_of_another_spec_are_a_value_error_naming_both_sizes(good):
    # What the old API diagnosed as "fits no vocabulary size": the spec now
    # says the size, and the message gives both.
    short = good["params"][:-1].copy()
    n = good["spec"].num_params
    with pytest.raises(ValueError, match=rf"params has shape \({n - 1},\), the model needs "
                                         rf"\({n},\)"):
        call(good, params=short, grads=np.zeros_like(short), mem=np.zeros_like(short))


def test_a_spec_that_is_not_a_model_spec_is_a_type_error(good):
    with pytest.raises(TypeError, match="spec must be a ModelSpec, not tuple"):
        call(good, spec=good["spec"].core)


def test_an_optimizer_that_is_not_an_optimizer_is_a_type_error(good):
    with pytest.raises(TypeError, match="optimizer must be an Optimizer, not str"):
        call(good, optimizer="adagrad")


def test_an_optimizer_made_for_another_spec_is_a_value_error(good):
    other = Adam(ModelSpec(V + 1, H, L), 0.1)
    with pytest.raises(ValueError, match="the adam buffer 'm' has shape"):
        call(good, optimizer=other)


def test_h0_of_the_wrong_rank_is_a_value_error(good):
    with pytest.raises(ValueError, match=r"h0 has shape \(4,\), the model needs \(2, 2, 4\)"):
        call(good, h0=good["h0"][0, 0].copy())


def test_h0_batch_that_differs_from_inputs_is_a_value_error(good):
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 1, 4\), the model needs "
                                         r"\(2, 2, 4\)"):
        call(good, h0=good["h0"][:, :1].copy())


def test_an_lstm_state_without_c_is_a_value_error():
    spec, params, _, inputs, targets, h0 = random_problem(V, H, L, T, B, cell="lstm")
    assert h0.shape == (2, L, B, H)
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 2, 4\), the model needs "
                                         r"\(2, 2, 2, 4\)"):
        kernels.sequence_loss(spec, params, inputs, targets, h0[0].copy())


def test_inputs_and_targets_of_different_shapes_are_a_value_error(good):
    with pytest.raises(ValueError, match="differ in shape"):
        call(good, targets=good["targets"][:-1])


@pytest.mark.parametrize("name", ["inputs", "targets"])
@pytest.mark.parametrize("bad", [-1, V, 2**40])
def test_an_index_outside_the_vocabulary_is_a_value_error(good, name, bad):
    indices = good[name].copy()
    indices[1, 1] = bad
    with pytest.raises(ValueError, match=f"{name} holds index {bad}, outside the vocabulary"):
        call(good, **{name: indices})


@pytest.mark.parametrize("name", ["inputs", "targets"])
def test_float_indices_are_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{name} must hold integer character indices"):
        call(good, **{name: good[name].astype(float)})


@pytest.mark.parametrize("name", ["inputs", "targets"])
def test_empty_or_one_dimensional_indices_are_a_value_error(good, name):
    with pytest.raises(ValueError, match=f"{name} must be a non-empty"):
        call(good, **{name: good[name][:0]})
    with pytest.raises(ValueError, match=f"{name} must be a non-empty"):
        call(good, **{name: good[name][:, 0]})


@pytest.mark.parametrize("clip", [0.0, -1.0, float("nan"), "5", True, 2**2000])
def test_a_clip_that_is_not_positive_is_a_value_error(good, clip):
    with pytest.raises(ValueError, match=f"clip must be a positive number, got {clip!r}"):
        call(good, clip=clip)


@pytest.mark.parametrize("clip_norm", [0.0, -1.0, float("nan"), float("inf"), "1", True, 2**2000])
def test_a_clip_norm_that_is_not_a_positive_number_is_a_value_error(good, clip_norm):
    with pytest.raises(ValueError, match=r"clip_norm must be a positive number or None, "
                                         rf"got {clip_norm!r}"):
        call(good, clip_norm=clip_norm)


@pytest.mark.parametrize("dropout", [1.0, -0.1, float("nan"), "0.5"])
def test_a_dropout_outside_0_1_is_a_value_error(good, dropout):
    with pytest.raises(ValueError, match=rf"dropout must be a number in \[0, 1\), "
                                         rf"got {dropout!r}"):
        call(good, dropout=dropout, rng=np.random.default_rng(0))


@pytest.mark.parametrize("steps", [-1, 2**62, 1.0, True])
def test_an_optimizer_step_count_that_training_cannot_reach_is_refused(good, steps):
    # Adam at step 0 would divide by 1 - beta1^0 and write NaN everywhere.
    good["optimizer"].steps = steps
    with pytest.raises(ValueError, match=f"the adagrad optimizer's steps must be a count >= 0, "
                                         rf"got {steps!r}"):
        call(good)


def test_dropout_without_a_generator_is_a_type_error(good):
    with pytest.raises(TypeError, match="dropout > 0 needs rng, a numpy.random.Generator"):
        call(good, dropout=0.5, rng=0)


@pytest.mark.parametrize("changes", [dict(clip=0.0), dict(clip_norm=-1.0),
                                     dict(dropout=1.0), dict(targets=None)])
def test_nothing_is_written_when_the_arguments_are_refused(good, changes):
    before = [good[k].copy() for k in ("params", "grads")] + [buffer(good, "mem").copy()]
    indices = good["inputs"].copy()
    indices[0, 0] = V
    with pytest.raises(ValueError):
        call(good, inputs=indices)
    with pytest.raises((TypeError, ValueError)):
        call(good, **changes)
    for name, old in zip(("params", "grads", "mem"), before):
        np.testing.assert_array_equal(buffer(good, name), old, err_msg=name)
    assert good["optimizer"].steps == 0


def test_non_contiguous_integer_inputs_are_accepted_as_a_copy(good):
    # Indices are read, never written, so any layout and integer dtype works.
    fortran = np.asfortranarray(good["inputs"].astype(np.uint8))
    expected, _ = call({**good, "params": good["params"].copy(),
                        "optimizer": copy.deepcopy(good["optimizer"])})
    loss, _ = call(good, inputs=fortran)
    assert loss == expected


# kernels.optimizer_step, given a gradient

def test_optimizer_step_checks_its_buffers_and_settings(good):
    optimizer, params = good["optimizer"], good["params"]
    grads = np.ones_like(params)
    with pytest.raises(ValueError, match="params must be a flat 1-D NumPy array"):
        kernels.optimizer_step(optimizer, params.reshape(1, -1), grads)
    with pytest.raises(TypeError, match="params must be float32 or float64, not int64"):
        kernels.optimizer_step(optimizer, params.astype(np.int64), grads.astype(np.int64))
    with pytest.raises(TypeError, match="grads is float32, the model is float64"):
        kernels.optimizer_step(optimizer, params, grads.astype(np.float32))
    with pytest.raises(ValueError, match=r"the adagrad buffer 'mem' has shape \(\d+,\), "
                                         r"the model needs \(\d+,\)"):
        kernels.optimizer_step(optimizer, params[:-1].copy(), grads[:-1].copy())
    with pytest.raises(ValueError, match="clip_norm must be a positive number or None"):
        kernels.optimizer_step(optimizer, params, grads, clip_norm=0)
    with pytest.raises(TypeError, match="optimizer must be an Optimizer, not NoneType"):
        kernels.optimizer_step(None, params, grads)
    assert optimizer.steps == 0


# Buffers that share memory (issue 14: NaN or zeros, silently)

@pytest.mark.parametrize("alias, first, second", [
    ("grads is params", "params", "grads"), ("mem is grads", "grads", MEM),
    ("mem is params", "params", MEM), ("h0 in params", "params", "h0"),
    ("grads overlaps mem", "grads", MEM)])
def test_a_written_buffer_that_shares_memory_with_another_is_refused(good, alias, first,
                                                                    second):
    params, n = good["params"], good["params"].size
    shared = np.zeros(2 * n)
    changes = {
        "grads is params": dict(grads=params),
        "mem is grads": dict(mem=good["grads"]),
        "mem is params": dict(mem=params),
        "h0 in params": dict(h0=params[:L * B * H].reshape(L, B, H)),
        "grads overlaps mem": dict(mem=shared[:n], grads=shared[3:3 + n]),   # by 3 values
    }[alias]
    before = params.copy()
    with pytest.raises(ValueError, match=f"{re.escape(first)} and {re.escape(second)} share "
                                         "memory: a buffer this call writes must not overlap"):
        call(good, **changes)
    np.testing.assert_array_equal(params, before)
    assert good["optimizer"].steps == 0


def test_inputs_and_targets_may_be_views_of_one_text(good):
    # Both are only read: overlapping is the usual way to cut a text.
    text = np.arange(T * B + B).reshape(-1, B) % V
    loss, _ = call(good, inputs=text[:-1], targets=text[1:])
    assert np.isfinite(loss)


def test_optimizer_step_and_loss_and_grads_refuse_aliases_too(good):
    params, grads, optimizer = good["params"], good["grads"], good["optimizer"]
    optimizer.buffers["mem"] = grads
    with pytest.raises(ValueError, match=f"grads and {MEM} share memory"):
        kernels.optimizer_step(optimizer, params, grads)
    with pytest.raises(ValueError, match="grads and params share memory"):
        kernels.loss_and_grads(good["spec"], params, params, good["inputs"], good["targets"],
                               good["h0"])
    adam = Adam(good["spec"], 0.1)
    adam.buffers["v"] = adam.buffers["m"]
    with pytest.raises(ValueError, match="the adam buffer 'm' and the adam buffer 'v' share"):
        kernels.optimizer_step(adam, params, np.ones_like(params))
    assert optimizer.steps == adam.steps == 0


def test_optimizer_step_refuses_read_only_grads_as_its_docs_say(good):
    # optimizer_step writes grads (it ends holding the gradient as applied).
    assert "``grads`` ends holding the gradient as applied" in kernels.optimizer_step.__doc__
    grads = np.ones_like(good["params"])
    grads.flags.writeable = False
    with pytest.raises(ValueError, match="grads is read-only, but it is updated in place"):
        kernels.optimizer_step(good["optimizer"], good["params"], grads)


# More characters than the C core counts (issue 14: 2**32 + 5 drew 5)

@pytest.mark.parametrize("n", [2**31, 2**32 + 5])
def test_sampling_more_than_a_c_int_of_characters_is_refused(good, n):
    spec, params = good["spec"], good["params"]
    h = np.zeros(spec.sample_state_shape())
    rng_state = np.array([1, 2, 3, 4], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"n must be at most 2\*\*31 - 1 = 2,147,483,647"):
        kernels.sample(spec, params, h, rng_state, [0], n)


def test_a_top_k_beyond_a_c_int_keeps_every_character(good):
    spec, params = good["spec"], good["params"]
    h = np.zeros(spec.sample_state_shape())
    draws = [kernels.sample(spec, params, h, np.array([1, 2, 3, 4], dtype=np.uint64), [0], 50,
                            top_k=top_k)[0] for top_k in (None, 2**40)]
    np.testing.assert_array_equal(draws[0], draws[1])


def test_sampling_into_an_rng_state_that_is_part_of_the_weights_is_refused(good):
    spec, params = good["spec"], good["params"]
    rng_state = params.view(np.uint64)[:4]         # writable, and the weights' first values
    before = params.copy()
    with pytest.raises(ValueError, match="rng and params share memory"):
        kernels.sample(spec, params, np.zeros(spec.sample_state_shape()), rng_state, [0], 3)
    np.testing.assert_array_equal(params, before)
