"""Bad input to the kernel entry points: a named exception, never a crash."""

import numpy as np
import pytest

from charrnn_c import kernels
from conftest import random_problem

V, H, L, T, B = 5, 4, 2, 3, 2


@pytest.fixture
def good():
    params, mem, inputs, targets, h0 = random_problem(V, H, L, T, B)
    return dict(params=params, grads=np.zeros_like(params), mem=mem,
                inputs=inputs, targets=targets, h0=h0, learning_rate=0.1, clip=5.0)


def call(args, **changes):
    return kernels.train_step(**{**args, **changes})


def test_the_good_arguments_work(good):
    loss, h_last = call(good)
    assert np.isfinite(loss) and h_last.shape == (L, B, H)


@pytest.mark.parametrize("name", ["params", "grads", "mem", "h0"])
def test_a_list_instead_of_an_array_is_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{name} must be a NumPy array"):
        call(good, **{name: good[name].tolist()})


@pytest.mark.parametrize("name", ["params", "grads", "mem", "h0"])
def test_an_integer_buffer_is_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{name} must be float32 or float64"):
        call(good, **{name: good[name].astype(np.int64)})


@pytest.mark.parametrize("name", ["grads", "mem", "h0"])
def test_mixed_float_dtypes_are_a_type_error(good, name):
    with pytest.raises(TypeError, match=f"{name} is float32 but params is float64"):
        call(good, **{name: good[name].astype(np.float32)})


@pytest.mark.parametrize("name", ["params", "grads", "mem"])
def test_a_non_contiguous_buffer_is_a_value_error(good, name):
    strided = np.zeros(2 * good[name].size)[::2]
    with pytest.raises(ValueError, match=f"{name} must be C-contiguous"):
        call(good, **{name: strided})


def test_a_non_contiguous_h0_is_a_value_error(good):
    h0 = np.asfortranarray(good["h0"])
    with pytest.raises(ValueError, match="h0 must be C-contiguous"):
        call(good, h0=h0)


@pytest.mark.parametrize("name", ["params", "grads", "mem"])
def test_a_read_only_buffer_that_is_written_is_a_value_error(good, name):
    good[name].flags.writeable = False
    with pytest.raises(ValueError, match=f"{name} is read-only"):
        call(good)


def test_read_only_inputs_are_fine_where_nothing_is_written(good):
    for name in ("params", "h0", "inputs", "targets"):
        good[name].flags.writeable = False
    loss, _ = kernels.sequence_loss(good["params"], good["inputs"], good["targets"], good["h0"])
    assert np.isfinite(loss)
    call({**good, "params": good["params"].copy()})


@pytest.mark.parametrize("name", ["grads", "mem"])
def test_a_buffer_of_the_wrong_length_is_a_value_error(good, name):
    with pytest.raises(ValueError, match=f"{name} has shape"):
        call(good, **{name: good[name][:-1].copy()})


def test_params_that_fit_no_vocabulary_are_a_value_error(good):
    short = good["params"][:-1].copy()
    with pytest.raises(ValueError, match="fits no vocabulary size"):
        call(good, params=short, grads=np.zeros_like(short), mem=np.zeros_like(short))


def test_h0_of_the_wrong_rank_is_a_value_error(good):
    with pytest.raises(ValueError, match="h0 must have shape"):
        call(good, h0=good["h0"][0].copy())


def test_h0_batch_that_differs_from_inputs_is_a_value_error(good):
    with pytest.raises(ValueError, match="inputs have 2 streams but h0 has batch size 1"):
        call(good, h0=good["h0"][:, :1].copy())


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


@pytest.mark.parametrize("clip", [0.0, -1.0, float("nan")])
def test_a_clip_that_is_not_positive_is_a_value_error(good, clip):
    with pytest.raises(ValueError, match="clip must be a positive number"):
        call(good, clip=clip)


def test_nothing_is_written_when_the_arguments_are_refused(good):
    before = [good[k].copy() for k in ("params", "grads", "mem")]
    indices = good["inputs"].copy()
    indices[0, 0] = V
    with pytest.raises(ValueError):
        call(good, inputs=indices)
    for name, old in zip(("params", "grads", "mem"), before):
        np.testing.assert_array_equal(good[name], old, err_msg=name)


def test_non_contiguous_integer_inputs_are_accepted_as_a_copy(good):
    # Indices are read, never written, so any layout and integer dtype works.
    fortran = np.asfortranarray(good["inputs"].astype(np.uint8))
    expected = call({**good, "params": good["params"].copy(), "mem": good["mem"].copy()})
    loss, _ = call(good, inputs=fortran)
    assert loss == expected[0]
