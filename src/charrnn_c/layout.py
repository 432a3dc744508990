"""Where each weight lives inside the one flat parameter buffer.

Names, shapes and equations follow PyTorch's ``nn.RNN`` (plus an output
layer), so a model converts to and from PyTorch by copying arrays:

    layer 0:   weight_ih_l0 (H, V)   weight_hh_l0 (H, H)   bias_ih_l0 (H,)   bias_hh_l0 (H,)
    layer l:   weight_ih_l{l} (H, H) weight_hh_l{l} (H, H) bias_ih_l{l} (H,) bias_hh_l{l} (H,)
    output:    weight_ho (V, H)      bias_o (V,)

Arrays are stored row-major, one after another, in exactly this order. The C
core (``csrc/layout.h``) carves the same views; gradients and optimizer state
share the layout, so clipping and the update are one loop over one buffer.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParamView:
    name: str
    shape: tuple
    offset: int

    @property
    def size(self):
        return int(np.prod(self.shape))


def param_views(vocab_size, hidden_size, num_layers):
    """The named (name, shape, offset) views of the flat buffer, in order."""
    V, H = vocab_size, hidden_size
    shapes = []
    for layer in range(num_layers):
        input_size = V if layer == 0 else H
        shapes += [
            (f"weight_ih_l{layer}", (H, input_size)),
            (f"weight_hh_l{layer}", (H, H)),
            (f"bias_ih_l{layer}", (H,)),
            (f"bias_hh_l{layer}", (H,)),
        ]
    shapes += [("weight_ho", (V, H)), ("bias_o", (V,))]

    views, offset = [], 0
    for name, shape in shapes:
        views.append(ParamView(name, shape, offset))
        offset += views[-1].size
    return views


def num_params(vocab_size, hidden_size, num_layers):
    last = param_views(vocab_size, hidden_size, num_layers)[-1]
    return last.offset + last.size


def vocab_size_from(num_parameters, hidden_size, num_layers):
    """Invert num_params for V; None when no vocabulary size fits."""
    H, L = hidden_size, num_layers
    # n = V*H + (H*H + 2H) + (L-1)*(2H*H + 2H) + V*H + V
    rest = num_parameters - (H * H + 2 * H) - (L - 1) * (2 * H * H + 2 * H)
    V, remainder = divmod(rest, 2 * H + 1)
    if remainder or V < 1:
        return None
    return V


def unflatten(flat, vocab_size, hidden_size, num_layers):
    """A dict of named views (no copies) into a flat buffer."""
    return {
        view.name: flat[view.offset:view.offset + view.size].reshape(view.shape)
        for view in param_views(vocab_size, hidden_size, num_layers)
    }


def init_params(vocab_size, hidden_size, num_layers, seed=0, std=0.01,
                dtype=np.float64):
    """Weights drawn from N(0, std^2) and zero biases, the write-up's init."""
    rng = np.random.default_rng(seed)
    flat = np.zeros(num_params(vocab_size, hidden_size, num_layers), dtype=dtype)
    for view in param_views(vocab_size, hidden_size, num_layers):
        if view.name.startswith("weight"):
            block = rng.standard_normal(view.shape) * std
            flat[view.offset:view.offset + view.size] = block.ravel()
    return flat
