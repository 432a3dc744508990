"""Where each weight lives inside the one flat parameter buffer.

Names, shapes, gate order and equations follow PyTorch's ``nn.RNN``,
``nn.GRU`` and ``nn.LSTM`` (plus an output layer), so a model converts to and
from PyTorch by copying arrays. A cell has G gate blocks stacked in its
weights: G = 1 for "rnn", 3 for "gru" (r, z, n), 4 for "lstm" (i, f, g, o):

    layer 0:   weight_ih_l0 (G*H, V)   weight_hh_l0 (G*H, H)   bias_ih_l0 (G*H,)   bias_hh_l0 (G*H,)
    layer l:   weight_ih_l{l} (G*H, H) weight_hh_l{l} (G*H, H) bias_ih_l{l} (G*H,) bias_hh_l{l} (G*H,)
    output:    weight_ho (V, H)        bias_o (V,)

Arrays are stored row-major, one after another, in exactly this order. The C
core (``csrc/layout.h``) carves the same views; gradients and optimizer state
share the layout, so clipping and the update are one loop over one buffer.
"""

from dataclasses import dataclass

import numpy as np

# Gate blocks per cell, and the cells' numbers in the C core (csrc/layout.h).
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
CELL_IDS = {"rnn": 0, "gru": 1, "lstm": 2}


def gates(cell):
    """G for ``cell``; ValueError naming the cells for anything else."""
    try:
        return GATES[cell]
    except (KeyError, TypeError):
        raise ValueError(f"cell must be one of {tuple(GATES)}, got {cell!r}") from None


def state_shape(cell, num_layers, batch_size, hidden_size):
    """The carried state: (L, B, H) h, or for the LSTM (2, L, B, H) with [0] = h, [1] = c."""
    gates(cell)
    shape = (num_layers, batch_size, hidden_size)
    return (2,) + shape if cell == "lstm" else shape


@dataclass(frozen=True)
class ParamView:
    name: str
    shape: tuple
    offset: int

    @property
    def size(self):
        return int(np.prod(self.shape))


def param_views(vocab_size, hidden_size, num_layers, cell="rnn"):
    """The named (name, shape, offset) views of the flat buffer, in order."""
    V, H, G = vocab_size, hidden_size, gates(cell)
    shapes = []
    for layer in range(num_layers):
        input_size = V if layer == 0 else H
        shapes += [
            (f"weight_ih_l{layer}", (G * H, input_size)),
            (f"weight_hh_l{layer}", (G * H, H)),
            (f"bias_ih_l{layer}", (G * H,)),
            (f"bias_hh_l{layer}", (G * H,)),
        ]
    shapes += [("weight_ho", (V, H)), ("bias_o", (V,))]

    views, offset = [], 0
    for name, shape in shapes:
        views.append(ParamView(name, shape, offset))
        offset += views[-1].size
    return views


def num_params(vocab_size, hidden_size, num_layers, cell="rnn"):
    last = param_views(vocab_size, hidden_size, num_layers, cell)[-1]
    return last.offset + last.size


def vocab_size_from(num_parameters, hidden_size, num_layers, cell="rnn"):
    """Invert num_params for V; None when no vocabulary size fits."""
    H, L, GH = hidden_size, num_layers, gates(cell) * hidden_size
    # n = V*GH + (GH*H + 2GH) + (L-1)*(2GH*H + 2GH) + V*H + V
    rest = num_parameters - (GH * H + 2 * GH) - (L - 1) * (2 * GH * H + 2 * GH)
    V, remainder = divmod(rest, GH + H + 1)
    if remainder or V < 1:
        return None
    return V


def unflatten(flat, vocab_size, hidden_size, num_layers, cell="rnn"):
    """A dict of named views (no copies) into a flat buffer."""
    return {
        view.name: flat[view.offset:view.offset + view.size].reshape(view.shape)
        for view in param_views(vocab_size, hidden_size, num_layers, cell)
    }


def init_params(vocab_size, hidden_size, num_layers, seed=0, std=0.01,
                dtype=np.float64, cell="rnn", forget_bias=1.0):
    """Weights drawn from N(0, std^2) and zero biases, the write-up's init.

    For the LSTM the forget gate's bias starts at ``forget_bias`` (1 by
    default, so the cell starts out remembering): it goes in bias_ih's f
    block, and bias_hh's stays 0, so the effective forget bias
    b_if + b_hf is ``forget_bias``. Other cells ignore it."""
    rng = np.random.default_rng(seed)
    H = hidden_size
    flat = np.zeros(num_params(vocab_size, H, num_layers, cell), dtype=dtype)
    for view in param_views(vocab_size, H, num_layers, cell):
        if view.name.startswith("weight"):
            block = rng.standard_normal(view.shape) * std
            flat[view.offset:view.offset + view.size] = block.ravel()
        elif cell == "lstm" and view.name.startswith("bias_ih"):
            flat[view.offset + H:view.offset + 2 * H] = forget_bias
    return flat
