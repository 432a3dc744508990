"""ModelSpec: what a model is, and every shape, size and offset that follows.

One small immutable object, built once from the hyperparameters and passed
down to the kernels, the optimizers and the checkpoint code, so that no
layer works a fact out again from a buffer's size.

Where each weight lives inside the one flat parameter buffer follows
PyTorch's ``nn.RNN``, ``nn.GRU`` and ``nn.LSTM`` (plus an output layer), so a
model converts to and from PyTorch by copying arrays. A cell has G gate
blocks stacked in its weights: G = 1 for "rnn", 3 for "gru" (r, z, n), 4 for
"lstm" (i, f, g, o):

    layer 0:   weight_ih_l0 (G*H, V)   weight_hh_l0 (G*H, H)   bias_ih_l0 (G*H,)   bias_hh_l0 (G*H,)
    layer l:   weight_ih_l{l} (G*H, H) weight_hh_l{l} (G*H, H) bias_ih_l{l} (G*H,) bias_hh_l{l} (G*H,)
    output:    weight_ho (V, H)        bias_o (V,)

Arrays are stored row-major, one after another, in exactly this order. The C
core (``csrc/layout.h``) carves the same views; gradients and optimizer state
share the layout, so clipping and the update are one loop over one buffer.
The carried state is (L, B, H) h, or for the LSTM (2, L, B, H): [0] = h, [1] = c.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from functools import cached_property

import numpy as np

from . import _core, checks

# Gate blocks per cell, and the cells' and dtypes' numbers in the C core,
# whose headers own them (csrc/layout.h, csrc/spec.h).
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
CELLS = tuple(GATES)
CELL_IDS = {"rnn": _core.CELL_RNN, "gru": _core.CELL_GRU, "lstm": _core.CELL_LSTM}
DTYPES = ("float32", "float64")
DTYPE_IDS = {"float32": _core.DTYPE_F32, "float64": _core.DTYPE_F64}
# How the recurrent weights W_hh start (ModelSpec.init_params).
RECURRENT_INITS = ("normal", "orthogonal")


@dataclass(frozen=True)
class ParamView:
    """One named weight: its shape and where it starts in the flat buffer."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class ModelSpec:
    """A model's cell, dtype and sizes; checked on construction.

    vocab_size V, hidden_size H, num_layers L; cell "rnn", "gru" or "lstm";
    dtype "float32" or "float64" (any spelling NumPy understands).
    """

    vocab_size: int
    hidden_size: int
    num_layers: int
    cell: str = "rnn"
    dtype: str = "float64"
    # The C core's view of it: (cell, dtype, V, H, L), as csrc/spec.h.
    core: tuple[int, int, int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers"):
            checks.positive_int(name, getattr(self, name))
        checks.one_of("cell", self.cell, CELLS)
        try:
            dtype = np.dtype(self.dtype).name
        except TypeError:
            dtype = ""
        if dtype not in DTYPES:
            checks.one_of("dtype", self.dtype, DTYPES)
        # Frozen: plain ints and the canonical dtype name, set once here.
        for name in ("vocab_size", "hidden_size", "num_layers"):
            object.__setattr__(self, name, int(getattr(self, name)))
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "core", (CELL_IDS[self.cell], DTYPE_IDS[dtype],
                                          self.vocab_size, self.hidden_size, self.num_layers))

    @property
    def gates(self) -> int:
        """G: gate blocks stacked in each layer's weights."""
        return GATES[self.cell]

    # Cached: the kernels read these at every call, and a step of the
    # write-up's model costs about 150 us in all.
    @cached_property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def states(self) -> int:
        """S: states carried per layer and stream (h, and c for the LSTM)."""
        return 2 if self.cell == "lstm" else 1

    def state_shape(self, batch_size: int) -> tuple[int, ...]:
        """The carried state of ``batch_size`` streams: (L, B, H), or (2, L, B, H)."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        return (2,) + shape if self.cell == "lstm" else shape

    def sample_state_shape(self) -> tuple[int, ...]:
        """The state of one stream as sampling carries it: (L, H), or (2, L, H)."""
        shape = (self.num_layers, self.hidden_size)
        return (2,) + shape if self.cell == "lstm" else shape

    @cached_property
    def param_views(self) -> tuple[ParamView, ...]:
        """The named (name, shape, offset) views of the flat buffer, in order."""
        V, H, G = self.vocab_size, self.hidden_size, self.gates
        shapes: list[tuple[str, tuple[int, ...]]] = []
        for layer in range(self.num_layers):
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
        return tuple(views)

    @cached_property
    def num_params(self) -> int:
        last = self.param_views[-1]
        return last.offset + last.size

    def step_flops(self, seq_length: int) -> float:
        """Floating-point operations of one training step per stream, from its
        matrix products: forward 2 T (G H^2 (2L - 1) + H V) (the recurrence in
        every layer, the input side above the first, whose one-hot product is
        a gather, and the output), backward twice that."""
        G, H, L, V = self.gates, self.hidden_size, self.num_layers, self.vocab_size
        return 6.0 * seq_length * (G * H * H * (2 * L - 1) + H * V)

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """A dict of named views (no copies) into a flat buffer of num_params values."""
        if flat.shape != (self.num_params,):
            raise ValueError(f"the flat buffer has shape {flat.shape}, "
                             f"this model needs ({self.num_params},)")
        return {view.name: flat[view.offset:view.offset + view.size].reshape(view.shape)
                for view in self.param_views}

    def init_params(self, seed: int | None = 0, std: float = 0.01,
                    forget_bias: float = 1.0, recurrent_init: str = "normal") -> np.ndarray:
        """Weights drawn from N(0, std^2) and zero biases, the write-up's init.

        For the LSTM the forget gate's bias starts at ``forget_bias`` (1 by
        default, so the cell starts out remembering): it goes in bias_ih's f
        block, and bias_hh's stays 0, so the effective forget bias
        b_if + b_hf is ``forget_bias``. Other cells ignore it.

        recurrent_init="orthogonal" makes each (H, H) gate block of every
        weight_hh orthogonal (W W^T = I, the Q of a QR factorization of the
        normal draw, signs fixed so that Q is uniformly distributed), so that
        a deep or long tanh recurrence neither fades nor explodes at the
        start; every other value is as with "normal", the same seed drawing
        the same numbers."""
        checks.one_of("recurrent_init", recurrent_init, RECURRENT_INITS)
        rng = np.random.default_rng(seed)
        H = self.hidden_size
        flat = np.zeros(self.num_params, dtype=self.np_dtype)
        for view in self.param_views:
            if view.name.startswith("weight"):
                block = rng.standard_normal(view.shape) * std
                if recurrent_init == "orthogonal" and view.name.startswith("weight_hh"):
                    block = np.concatenate([_orthogonal(gate) for gate in np.split(
                        block, self.gates)])
                flat[view.offset:view.offset + view.size] = block.ravel()
            elif self.cell == "lstm" and view.name.startswith("bias_ih"):
                flat[view.offset + H:view.offset + 2 * H] = forget_bias
        return flat


def _orthogonal(square: np.ndarray) -> np.ndarray:
    """The orthogonal Q of square = QR, each column's sign that of R's diagonal
    (Mezzadri's fix, which makes Q uniform over orthogonal matrices when
    ``square`` is a Gaussian draw)."""
    q, r = np.linalg.qr(square)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs
