"""The NumPy reference: the specification every C kernel is tested against.

This is the min-char-rnn ``lossFun`` and Adagrad loop, grown to a stack of
layers and a batch of parallel streams, written to be read. With
``num_layers=1`` and ``batch_size=1`` it computes exactly what the write-up
computes; its names map to ours like this:

    write-up        here (PyTorch nn.RNN names)
    --------        ---------------------------
    Wxh             weight_ih_l0                (H, V)
    Whh             weight_hh_l0                (H, H)
    bh              bias_ih_l0 + bias_hh_l0     (H,)
    Why             weight_ho                   (V, H)
    by              bias_o                      (V,)
    hprev           h0[0, 0]                    (H,)
    xs[t]           one-hot of inputs[t, b]     (the gather W_ih[:, x] is that matmul)
    mWxh, ...       mem, laid out like params
    loss            the loss summed over time, averaged over the B streams

Everything is computed in the dtype of ``params``; the tests run it in
float64, where it is the specification.

Shapes: ``inputs`` and ``targets`` are (T, B) character indices, time-major
(PyTorch's default); ``h0`` and the returned ``h_last`` are (L, B, H);
``params``, ``grads`` and the optimizer's buffers are flat buffers laid out
as ``spec`` (a ModelSpec) says.

Against ``kernels`` (the C core's checked entry points): ``loss_and_grads``,
``sequence_loss``, ``optimizer_step`` and ``train_step`` take the same
arguments as the kernels of those names, and the tests hold one to the other.
The rest differ, so that the reference stays short to read:

- ``sample`` and ``sample_batch`` draw with NumPy Generators (``rng``, and
  one per stream in ``rngs``), not the C's xoshiro256** states, so the two
  give the same characters only at temperature 0 (argmax); at other
  temperatures the tests compare distributions. They take no ``top_k``,
  ``top_p`` or ``stop``: the tests build those distributions from ``step``'s
  logits instead.
- There is no ``target_log_probs``: it is log softmax of ``forward``'s
  logits at the targets, which its test computes.
- The parts the C keeps inside (``forward``, ``step``, each cell's step and
  its backward, each optimizer's update) are functions here of their own.

The optimizer step's two fixed constants, Adagrad's eps and the norm clip's,
are the C's (``ADAGRAD_EPS``, ``NORM_EPS``, from csrc/optim.h through
``_core``): a reference restating them could silently disagree.

The GRU and the LSTM (``cell="gru"``, ``"lstm"``) are PyTorch's nn.GRU and
nn.LSTM, gate order and both bias vectors included; their equations are in
``gru_step`` and ``lstm_step``. The LSTM's carried state is (2, L, B, H):
[0] = h, [1] = c. Dropout between layers (training only) multiplies each
layer's output, on its way to the layer above, by a mask from ``dropout_mask``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._core import ADAGRAD_EPS, NORM_EPS
from .masks import dropout_mask

if TYPE_CHECKING:
    from .optimizers import Optimizer
    from .spec import ModelSpec

# A step's saved activations, by name; a layer's record (see forward).
Cache = dict[str, np.ndarray]
Layer = dict[str, Any]
# A cell's step and step backward. Their c (and dc) is an array for the LSTM
# and None for the other cells, which only the cell's name tells apart: Any
# here, where CELLS looks them up by that name.
Step = Callable[[np.ndarray, np.ndarray, Any, np.ndarray, np.ndarray],
                tuple[np.ndarray, np.ndarray | None, Cache]]
StepBackward = Callable[[np.ndarray, Any, Cache, np.ndarray],
                        tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------
# The cells, one time step each. ``x_side`` is W_ih x + b_ih, computed by the
# layer for every step; a step returns (h', c', cache) and its backward turns
# d loss / d h' (and / d c') into the gradients of the pre-activations on the
# input side (dx_side) and on the hidden side (dh_side, that of W_hh h + b_hh),
# and d loss / d h (and / d c).

def rnn_step(x_side: np.ndarray, h: np.ndarray, c: np.ndarray | None, W_hh: np.ndarray,
             b_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, Cache]:
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh)"""
    h_new = np.tanh(x_side + h @ W_hh.T + b_hh)
    return h_new, None, {"h": h, "h_new": h_new}


def rnn_step_backward(dh_new: np.ndarray, dc_new: np.ndarray | None, cache: Cache,
                      W_hh: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    dpre = (1 - cache["h_new"] ** 2) * dh_new
    return dpre, dpre, dpre @ W_hh, None


def gru_step(x_side: np.ndarray, h: np.ndarray, c: np.ndarray | None, W_hh: np.ndarray,
             b_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, Cache]:
    """nn.GRU, gates in the order r, z, n:

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h
    """
    x_r, x_z, x_n = np.split(x_side, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ W_hh.T + b_hh, 3, axis=-1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    h_new = (1 - z) * n + z * h
    return h_new, None, {"h": h, "r": r, "z": z, "n": n, "h_n": h_n}


def gru_step_backward(dh_new: np.ndarray, dc_new: np.ndarray | None, cache: Cache,
                      W_hh: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    h, r, z, n, h_n = (cache[k] for k in ("h", "r", "z", "n", "h_n"))
    dn = dh_new * (1 - z) * (1 - n ** 2)              # through tanh: d(n's pre-activation)
    dz = dh_new * (h - n) * z * (1 - z)
    dr = dn * h_n * r * (1 - r)
    dx_side = np.concatenate([dr, dz, dn], axis=-1)
    dh_side = np.concatenate([dr, dz, dn * r], axis=-1)  # r scales W_hn h + b_hn
    dh = dh_new * z + dh_side @ W_hh
    return dx_side, dh_side, dh, None


def lstm_step(x_side: np.ndarray, h: np.ndarray, c: np.ndarray, W_hh: np.ndarray,
              b_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray, Cache]:
    """nn.LSTM, gates in the order i, f, g, o:

    i, f, o = sigmoid(W_i* x + b_i* + W_h* h + b_h*);  g = tanh(W_ig x + b_ig + W_hg h + b_hg)
    c' = f * c + i * g
    h' = o * tanh(c')
    """
    i, f, g, o = np.split(x_side + h @ W_hh.T + b_hh, 4, axis=-1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c_new = f * c + i * g
    tanh_c = np.tanh(c_new)
    h_new = o * tanh_c
    return h_new, c_new, {"h": h, "c": c, "i": i, "f": f, "g": g, "o": o, "tanh_c": tanh_c}


def lstm_step_backward(dh_new: np.ndarray, dc_new: np.ndarray, cache: Cache,
                       W_hh: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    c, i, f, g, o, tanh_c = (cache[k] for k in ("c", "i", "f", "g", "o", "tanh_c"))
    dc = dc_new + dh_new * o * (1 - tanh_c ** 2)
    dpre = np.concatenate([dc * g * i * (1 - i),       # d(i's pre-activation)
                           dc * c * f * (1 - f),       # f
                           dc * i * (1 - g ** 2),      # g
                           dh_new * tanh_c * o * (1 - o)], axis=-1)
    return dpre, dpre, dpre @ W_hh, dc * f


CELLS: dict[str, tuple[Step, StepBackward]] = {
    "rnn": (rnn_step, rnn_step_backward),
    "gru": (gru_step, gru_step_backward),
    "lstm": (lstm_step, lstm_step_backward),
}


def split_state(state: np.ndarray, cell: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(h, c) of a carried state; c is None but for the LSTM."""
    return (state[0], state[1]) if cell == "lstm" else (state, None)


def join_state(h: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    """The carried state of (h, c), as split_state takes it apart."""
    return h if c is None else np.stack([h, c])


def _masks(dropout: float, rng: np.random.Generator | None, num_layers: int,
           inputs: np.ndarray, hidden_size: int, dtype: np.dtype) -> np.ndarray | None:
    if dropout == 0 or num_layers == 1:
        return None
    if rng is None:
        raise TypeError("dropout > 0 needs rng, a numpy.random.Generator, to draw its masks")
    T, B = inputs.shape
    return dropout_mask(rng, dropout, (num_layers - 1, T, B, hidden_size), dtype)


# ---------------------------------------------------------------------------
# The stack

def forward(spec: ModelSpec, params: np.ndarray, inputs: np.ndarray, h0: np.ndarray,
            masks: np.ndarray | None = None) -> tuple[np.ndarray, list[Layer]]:
    """Run the stack over T steps.

    Returns the logits (T, B, V) of the top layer and, per layer, a record:
    "h" (T + 1, B, H) with h[0] the carried h, "c" likewise for the LSTM,
    "input" (T, B, I) what the layer read (after dropout), and "steps", each
    step's cache. masks, when given, is (L - 1, T, B, H).
    """
    cell, H, L = spec.cell, spec.hidden_size, spec.num_layers
    step = CELLS[cell][0]
    p = spec.unflatten(params)
    h0, c0 = split_state(h0, cell)
    T, B = inputs.shape

    layers: list[Layer] = []
    for layer in range(L):
        W_ih, W_hh = p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"]
        b_ih, b_hh = p[f"bias_ih_l{layer}"], p[f"bias_hh_l{layer}"]
        if layer == 0:
            x_side = W_ih[:, inputs].transpose(1, 2, 0) + b_ih   # W_ih @ one_hot(x)
            layer_input = None
        else:
            layer_input = layers[-1]["h"][1:]
            if masks is not None:
                layer_input = layer_input * masks[layer - 1]
            x_side = layer_input @ W_ih.T + b_ih
        h = np.empty((T + 1, B, H), dtype=params.dtype)
        h[0] = h0[layer]
        c = None
        if c0 is not None:                                  # the LSTM's
            c = np.empty((T + 1, B, H), dtype=params.dtype)
            c[0] = c0[layer]
        steps = []
        for t in range(T):
            h[t + 1], c_new, cache = step(x_side[t], h[t], None if c is None else c[t],
                                          W_hh, b_hh)
            if c is not None:
                c[t + 1] = c_new
            steps.append(cache)
        layers.append({"h": h, "c": c, "input": layer_input, "steps": steps})

    logits = layers[-1]["h"][1:] @ p["weight_ho"].T + p["bias_o"]
    return logits, layers


def final_state(layers: list[Layer], cell: str) -> np.ndarray:
    """The carried state after the last step: (L, B, H), or (2, L, B, H)."""
    h = np.stack([layer["h"][-1] for layer in layers])
    c = np.stack([layer["c"][-1] for layer in layers]) if cell == "lstm" else None
    return join_state(h, c)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis, max-subtracted so exp cannot overflow."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def loss_and_grads(spec: ModelSpec, params: np.ndarray, grads: np.ndarray,
                   inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray,
                   dropout: float = 0.0, rng: np.random.Generator | None = None,
                   mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Cross-entropy summed over time and averaged over streams; BPTT.

    Gradients are added (+=) into ``grads``, as in the C core; zero it first
    for a fresh gradient. ``mask`` (L - 1, T, B, H), instead of dropout and
    rng, is a dropout mask already drawn. Returns (loss, h_last).
    """
    cell, H, L = spec.cell, spec.hidden_size, spec.num_layers
    step_backward = CELLS[cell][1]
    p = spec.unflatten(params)
    g = spec.unflatten(grads)
    T, B = inputs.shape
    masks = mask if mask is not None else _masks(dropout, rng, L, inputs, H, params.dtype)

    logits, layers = forward(spec, params, inputs, h0, masks)
    probs = softmax(logits)
    time_index, stream_index = np.indices((T, B))
    loss = -np.log(probs[time_index, stream_index, targets]).sum() / B

    # d loss / d logits = (probs - one_hot(target)) / B
    dlogits = probs.copy()
    dlogits[time_index, stream_index, targets] -= 1
    dlogits /= B

    top = layers[-1]["h"][1:]                          # (T, B, H)
    g["weight_ho"] += np.einsum("tbv,tbh->vh", dlogits, top)
    g["bias_o"] += dlogits.sum(axis=(0, 1))
    dh_from_above = dlogits @ p["weight_ho"]           # (T, B, H)

    for layer in reversed(range(L)):
        W_ih, W_hh = p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"]
        record = layers[layer]
        # Nothing flows back from beyond T, into h or c.
        dh_next = np.zeros((B, H), dtype=params.dtype)
        dc_next = np.zeros((B, H), dtype=params.dtype) if cell == "lstm" else None
        dh_below = np.empty((T, B, H), dtype=params.dtype)
        for t in reversed(range(T)):
            cache = record["steps"][t]
            dx_side, dh_side, dh_next, dc_next = step_backward(
                dh_from_above[t] + dh_next, dc_next, cache, W_hh)
            g[f"weight_hh_l{layer}"] += dh_side.T @ cache["h"]
            g[f"bias_hh_l{layer}"] += dh_side.sum(axis=0)
            g[f"bias_ih_l{layer}"] += dx_side.sum(axis=0)
            if layer == 0:
                np.add.at(g["weight_ih_l0"].T, inputs[t], dx_side)
            else:
                g[f"weight_ih_l{layer}"] += dx_side.T @ record["input"][t]
                dh_below[t] = dx_side @ W_ih
        if layer > 0:
            dh_from_above = dh_below if masks is None else dh_below * masks[layer - 1]

    return loss, final_state(layers, cell)


def clip_gradients(grads: np.ndarray, clip: float) -> None:
    """Elementwise clip to [-clip, clip], in place (the write-up's np.clip)."""
    np.clip(grads, -clip, clip, out=grads)


def clip_gradient_norm(grads: np.ndarray, max_norm: float) -> None:
    """Scale to at most ``max_norm`` in L2 norm, in place, as
    torch.nn.utils.clip_grad_norm_ does (its eps is NORM_EPS, the C step's); a
    norm that is not finite scales nothing."""
    norm = np.sqrt(np.sum(grads.astype(np.float64) ** 2))
    if np.isfinite(norm) and norm > max_norm:
        grads *= grads.dtype.type(max_norm / (norm + NORM_EPS))


def adagrad_update(params: np.ndarray, grads: np.ndarray, mem: np.ndarray,
                   learning_rate: float) -> None:
    """mem += g*g; p -= lr * g / sqrt(mem + ADAGRAD_EPS), in place (the C step's eps)."""
    mem += grads * grads
    params -= learning_rate * grads / np.sqrt(mem + ADAGRAD_EPS)


def adam_update(params: np.ndarray, grads: np.ndarray, m: np.ndarray, v: np.ndarray,
                learning_rate: float, beta1: float, beta2: float, eps: float,
                step: int) -> None:
    """torch.optim.Adam's step t (from 1), without weight decay, in place."""
    m += (1 - beta1) * (grads - m)
    v *= beta2
    v += (1 - beta2) * grads * grads
    step_size = learning_rate / (1 - beta1 ** step)
    params -= step_size * (m / (np.sqrt(v) / np.sqrt(1 - beta2 ** step) + eps))


def rmsprop_update(params: np.ndarray, grads: np.ndarray, v: np.ndarray,
                   learning_rate: float, alpha: float, eps: float) -> None:
    """torch.optim.RMSprop's step (not centered, no momentum), in place."""
    v *= alpha
    v += (1 - alpha) * grads * grads
    params -= learning_rate * (grads / (np.sqrt(v) + eps))


def optimizer_step(optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
                   clip: float = 5.0, clip_norm: float | None = None) -> None:
    """Scale to ``clip_norm`` (None: never), clip to [-clip, clip], then the
    optimizer's update (by its name, with its hyperparameters and buffers),
    all in place; ``optimizer.steps`` counts one more."""
    if clip_norm is not None:
        clip_gradient_norm(grads, clip_norm)
    clip_gradients(grads, clip)
    b, rate, t = optimizer.buffers, optimizer.current_learning_rate, optimizer.steps + 1
    if optimizer.name == "adagrad":
        adagrad_update(params, grads, b["mem"], rate)
    elif optimizer.name == "adam":
        adam_update(params, grads, b["m"], b["v"], rate, optimizer.beta1, optimizer.beta2,
                    optimizer.eps, t)
    elif optimizer.name == "rmsprop":
        rmsprop_update(params, grads, b["v"], rate, optimizer.alpha, optimizer.eps)
    else:
        raise ValueError(f"no reference for the optimizer {optimizer.name!r}")
    optimizer.steps = t


def train_step(spec: ModelSpec, optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
               inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, clip: float = 5.0,
               clip_norm: float | None = None, dropout: float = 0.0,
               rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
    """One step of the write-up's loop: fresh gradients, clip, update.

    ``params``, ``grads`` and the optimizer's buffers are updated in place;
    ``grads`` ends holding the gradient as applied. Returns (loss, h_last).
    A loss that is not finite (NaN, inf) updates nothing: ``params`` and the
    optimizer stay as they were and ``grads`` holds the raw gradient, for the
    caller to judge.
    """
    grads[:] = 0
    loss, h_last = loss_and_grads(spec, params, grads, inputs, targets, h0, dropout, rng)
    if not np.isfinite(loss):
        return loss, h_last
    optimizer_step(optimizer, params, grads, clip, clip_norm)
    return loss, h_last


def sequence_loss(spec: ModelSpec, params: np.ndarray, inputs: np.ndarray,
                  targets: np.ndarray, h0: np.ndarray) -> tuple[float, np.ndarray]:
    """Forward only: (loss, h_last), for evaluation."""
    logits, layers = forward(spec, params, inputs, h0)
    T, B = inputs.shape
    time_index, stream_index = np.indices((T, B))
    loss = -np.log(softmax(logits)[time_index, stream_index, targets]).sum() / B
    return loss, final_state(layers, spec.cell)


def step(spec: ModelSpec, params: np.ndarray, x: int,
         h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One character through the stack, batch 1: returns (logits (V,), h (L, H)),
    or for the LSTM h (2, L, H)."""
    logits, layers = forward(spec, params, np.array([[x]]), h[..., None, :])
    return logits[0, 0], final_state(layers, spec.cell)[..., 0, :]


def sample(spec: ModelSpec, params: np.ndarray, h: np.ndarray,
           prime: Sequence[int] | np.ndarray, n: int, temperature: float,
           rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """The write-up's sampling loop: feed prime, then draw n characters.

    Each draw is from softmax(logits / temperature) with ``rng`` (a NumPy
    Generator); temperature 0 takes the argmax. Returns (indices, h).
    """
    for x in prime:
        logits, h = step(spec, params, x, h)
    out: list[int] = []
    while len(out) < n:
        if temperature == 0:
            x = int(np.argmax(logits))
        elif rng is None:
            raise TypeError("temperature > 0 needs rng, a numpy.random.Generator, to draw with")
        else:
            x = int(rng.choice(logits.size, p=softmax(logits / temperature)))
        out.append(x)
        if len(out) < n:
            logits, h = step(spec, params, x, h)
    return np.array(out, dtype=np.int32), h


def sample_batch(spec: ModelSpec, params: np.ndarray, h: np.ndarray,
                 prime: Sequence[int] | np.ndarray, n: int, temperature: float,
                 rngs: Sequence[np.random.Generator | None]
                 ) -> tuple[list[np.ndarray], np.ndarray]:
    """K samples, one per generator in ``rngs`` (None at temperature 0): the
    single sampler above, run for each stream from the same h and prime.

    Returns (samples, h_last), h_last of spec.state_shape(K): stream k's
    state before its last character is fed."""
    samples, states = [], []
    for rng in rngs:
        out, h_k = sample(spec, params, h, prime, n, temperature, rng)
        samples.append(out)
        states.append(h_k)
    return samples, np.stack(states, axis=-2)
