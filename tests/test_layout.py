"""The flat parameter layout: PyTorch names, sizes, and its inverse."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from charrnn_c import layout


def test_names_follow_pytorch_nn_rnn():
    names = [v.name for v in layout.param_views(84, 100, 2)]
    assert names == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ho", "bias_o",
    ]


def test_views_tile_the_buffer_without_gaps():
    views = layout.param_views(84, 100, 3)
    offsets = [v.offset for v in views]
    assert offsets[0] == 0
    assert all(a.offset + a.size == b.offset for a, b in zip(views, views[1:]))
    assert layout.num_params(84, 100, 3) == views[-1].offset + views[-1].size
    # The write-up's 1 x 100 model on 84 characters: Wxh, Whh, Why, bh (two), by.
    assert layout.num_params(84, 100, 1) == 100 * 84 + 100 * 100 + 84 * 100 + 2 * 100 + 84


def test_unflatten_gives_views_not_copies():
    flat = np.zeros(layout.num_params(3, 4, 2))
    named = layout.unflatten(flat, 3, 4, 2)
    named["weight_hh_l1"][2, 1] = 7.0
    offset = next(v.offset for v in layout.param_views(3, 4, 2) if v.name == "weight_hh_l1")
    assert flat[offset + 2 * 4 + 1] == 7.0


@given(st.integers(1, 300), st.integers(1, 64), st.integers(1, 4))
def test_vocab_size_is_recovered_from_the_parameter_count(vocab_size, hidden_size, num_layers):
    n = layout.num_params(vocab_size, hidden_size, num_layers)
    assert layout.vocab_size_from(n, hidden_size, num_layers) == vocab_size
    assert layout.vocab_size_from(n + 1, hidden_size, num_layers) is None


def test_init_is_the_writeups():
    flat = layout.init_params(84, 100, 1, seed=0, std=0.01)
    named = layout.unflatten(flat, 84, 100, 1)
    assert abs(named["weight_hh_l0"].std() - 0.01) < 0.001
    assert not named["bias_ih_l0"].any() and not named["bias_o"].any()


def test_gated_cells_stack_their_gates_in_pytorchs_shapes():
    for cell, gates in (("gru", 3), ("lstm", 4)):
        views = {v.name: v.shape for v in layout.param_views(84, 100, 2, cell)}
        assert views == {
            "weight_ih_l0": (gates * 100, 84), "weight_hh_l0": (gates * 100, 100),
            "bias_ih_l0": (gates * 100,), "bias_hh_l0": (gates * 100,),
            "weight_ih_l1": (gates * 100, 100), "weight_hh_l1": (gates * 100, 100),
            "bias_ih_l1": (gates * 100,), "bias_hh_l1": (gates * 100,),
            "weight_ho": (84, 100), "bias_o": (84,),
        }
    assert layout.state_shape("lstm", 2, 3, 4) == (2, 2, 3, 4)
    assert layout.state_shape("gru", 2, 3, 4) == (2, 3, 4)


@given(st.integers(1, 300), st.integers(1, 64), st.integers(1, 4),
       st.sampled_from(["rnn", "gru", "lstm"]))
def test_vocab_size_is_recovered_for_every_cell(vocab_size, hidden_size, num_layers, cell):
    n = layout.num_params(vocab_size, hidden_size, num_layers, cell)
    assert layout.vocab_size_from(n, hidden_size, num_layers, cell) == vocab_size
    assert layout.vocab_size_from(n + 1, hidden_size, num_layers, cell) is None


def test_an_unknown_cell_is_named():
    with pytest.raises(ValueError, match="cell must be one of"):
        layout.num_params(5, 4, 1, cell="transformer")
