"""ModelSpec: the flat parameter layout's PyTorch names and sizes, the state
shapes, and the checks made when a spec is built."""

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from charrnn_c.checks import InvalidParameterError
from charrnn_c.spec import ModelSpec


def test_names_follow_pytorch_nn_rnn():
    names = [v.name for v in ModelSpec(84, 100, 2).param_views]
    assert names == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ho", "bias_o",
    ]


def test_views_tile_the_buffer_without_gaps():
    spec = ModelSpec(84, 100, 3)
    views = spec.param_views
    assert views[0].offset == 0
    assert all(a.offset + a.size == b.offset for a, b in zip(views, views[1:]))
    assert spec.num_params == views[-1].offset + views[-1].size
    # The write-up's 1 x 100 model on 84 characters: Wxh, Whh, Why, bh (two), by.
    assert ModelSpec(84, 100, 1).num_params == 100 * 84 + 100 * 100 + 84 * 100 + 2 * 100 + 84


@given(st.integers(1, 300), st.integers(1, 64), st.integers(1, 4),
       st.sampled_from(["rnn", "gru", "lstm"]))
def test_num_params_is_the_sum_of_pytorchs_shapes(vocab_size, hidden_size, num_layers, cell):
    spec = ModelSpec(vocab_size, hidden_size, num_layers, cell)
    V, H, L, GH = vocab_size, hidden_size, num_layers, spec.gates * hidden_size
    # Layer 0 reads V inputs, the layers above H; each has two G*H biases; then Why, by.
    expected = (V * GH + GH * H + 2 * GH) + (L - 1) * (2 * GH * H + 2 * GH) + V * H + V
    assert spec.num_params == expected
    views = spec.param_views
    assert all(a.offset + a.size == b.offset for a, b in zip(views, views[1:]))
    assert sum(v.size for v in views) == expected


def test_unflatten_gives_views_not_copies():
    spec = ModelSpec(3, 4, 2)
    flat = np.zeros(spec.num_params)
    named = spec.unflatten(flat)
    named["weight_hh_l1"][2, 1] = 7.0
    offset = next(v.offset for v in spec.param_views if v.name == "weight_hh_l1")
    assert flat[offset + 2 * 4 + 1] == 7.0
    assert all(np.shares_memory(view, flat) for view in named.values())
    assert {name: view.shape for name, view in named.items()} == {
        v.name: v.shape for v in spec.param_views}


@pytest.mark.parametrize("shape", [(90,), (92,), (1, 91)])
def test_unflatten_refuses_a_buffer_of_another_shape(shape):
    spec = ModelSpec(3, 4, 2)
    assert spec.num_params == 91
    message = f"the flat buffer has shape {shape}, this model needs (91,)"
    with pytest.raises(ValueError, match=re.escape(message)):
        spec.unflatten(np.zeros(shape))


def test_init_is_the_writeups():
    spec = ModelSpec(84, 100, 1)
    flat = spec.init_params(seed=0, std=0.01)
    assert flat.shape == (spec.num_params,) and flat.dtype == np.float64
    named = spec.unflatten(flat)
    assert abs(named["weight_hh_l0"].std() - 0.01) < 0.001
    assert not named["bias_ih_l0"].any() and not named["bias_o"].any()


def test_init_follows_the_seed_and_the_dtype():
    spec = ModelSpec(10, 8, 2, dtype="float32")
    flat = spec.init_params(seed=1)
    assert flat.dtype == np.float32
    np.testing.assert_array_equal(flat, spec.init_params(seed=1))
    assert (flat != spec.init_params(seed=2)).any()
    # The same draws as float64, rounded once.
    np.testing.assert_array_equal(flat, ModelSpec(10, 8, 2).init_params(seed=1).astype(np.float32))


def test_gated_cells_stack_their_gates_in_pytorchs_shapes():
    for cell, gates in (("rnn", 1), ("gru", 3), ("lstm", 4)):
        spec = ModelSpec(84, 100, 2, cell)
        assert spec.gates == gates
        assert {v.name: v.shape for v in spec.param_views} == {
            "weight_ih_l0": (gates * 100, 84), "weight_hh_l0": (gates * 100, 100),
            "bias_ih_l0": (gates * 100,), "bias_hh_l0": (gates * 100,),
            "weight_ih_l1": (gates * 100, 100), "weight_hh_l1": (gates * 100, 100),
            "bias_ih_l1": (gates * 100,), "bias_hh_l1": (gates * 100,),
            "weight_ho": (84, 100), "bias_o": (84,),
        }


def test_state_shapes_carry_c_only_for_the_lstm():
    # (L, B, H) h, or (2, L, B, H) with [0] = h, [1] = c; sampling drops B.
    assert ModelSpec(5, 4, 2, "lstm").state_shape(3) == (2, 2, 3, 4)
    assert ModelSpec(5, 4, 2, "gru").state_shape(3) == (2, 3, 4)
    assert ModelSpec(5, 4, 2, "rnn").state_shape(1) == (2, 1, 4)
    assert ModelSpec(5, 4, 2, "lstm").sample_state_shape() == (2, 2, 4)
    assert ModelSpec(5, 4, 3, "gru").sample_state_shape() == (3, 4)


@pytest.mark.parametrize("cell, dtype, core", [
    ("rnn", "float32", (0, 0, 84, 100, 2)),
    ("gru", "float64", (1, 1, 84, 100, 2)),
    ("lstm", "float32", (2, 0, 84, 100, 2)),
])
def test_core_is_what_csrc_spec_h_reads(cell, dtype, core):
    # (cell, dtype, V, H, L): CELL_RNN/GRU/LSTM = 0/1/2 (layout.h), DTYPE_F32/F64 = 0/1.
    assert ModelSpec(84, 100, 2, cell, dtype).core == core


@pytest.mark.parametrize("spelling", ["float32", "f4", np.float32, np.dtype("float32")])
def test_dtype_takes_any_numpy_spelling_and_keeps_the_name(spelling):
    spec = ModelSpec(5, 4, 1, dtype=spelling)
    assert spec.dtype == "float32" and spec.np_dtype == np.float32
    assert spec == ModelSpec(5, 4, 1, dtype="float32")
    assert hash(spec) == hash(ModelSpec(5, 4, 1, dtype="float32"))


def test_sizes_become_plain_ints():
    spec = ModelSpec(np.int64(5), np.int32(4), np.uint8(2))
    assert (spec.vocab_size, spec.hidden_size, spec.num_layers) == (5, 4, 2)
    assert all(type(n) is int for n in (spec.vocab_size, spec.hidden_size, spec.num_layers))


@pytest.mark.parametrize("arguments, message", [
    ((0, 4, 1), "vocab_size must be a positive integer, got 0"),
    ((5, -4, 1), "hidden_size must be a positive integer, got -4"),
    ((5, 4.0, 1), "hidden_size must be a positive integer, got 4.0"),
    ((5, 4, True), "num_layers must be a positive integer, got True"),
    ((5, 4, "2"), "num_layers must be a positive integer, got '2'"),
    ((5, 4, 1, "transformer"), "cell must be one of ('rnn', 'gru', 'lstm'), got 'transformer'"),
    ((5, 4, 1, "LSTM"), "cell must be one of ('rnn', 'gru', 'lstm'), got 'LSTM' (did you mean 'lstm'?)"),
    ((5, 4, 1, "rnn", "float16"), "dtype must be one of ('float32', 'float64'), got 'float16'"),
    ((5, 4, 1, "rnn", "int64"), "dtype must be one of ('float32', 'float64'), got 'int64'"),
    ((5, 4, 1, "rnn", "double-ish"),
     "dtype must be one of ('float32', 'float64'), got 'double-ish'"),
])
def test_bad_hyperparameters_are_named(arguments, message):
    with pytest.raises(InvalidParameterError) as caught:
        ModelSpec(*arguments)
    assert str(caught.value) == message
    # Callers may catch either.
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TypeError)


def test_a_spec_is_frozen():
    spec = ModelSpec(5, 4, 2, "gru")
    for name, value in (("hidden_size", 8), ("cell", "lstm"), ("dtype", "float32")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, name, value)
    assert (spec.hidden_size, spec.cell, spec.dtype) == (4, "gru", "float64")
    # A changed model is a new spec, checked and derived afresh.
    wider = dataclasses.replace(spec, hidden_size=8)
    assert wider.num_params > spec.num_params and wider.core == (1, 1, 5, 8, 2)
    with pytest.raises(InvalidParameterError, match="cell must be one of"):
        dataclasses.replace(spec, cell="transformer")
