"""The C core's low-level entry points, with their inputs checked.

The same functions, with the same signatures, as ``charrnn_c.reference``;
the tests hold one to the other. Buffers are updated in place:

    params, grads, mem   flat float32 or float64 buffers, laid out by ``layout``
    inputs, targets      (T, B) character indices, time-major; any integer dtype
    h0                   the state carried in, same dtype as params: (L, B, H)
                         for cell="rnn" and "gru"; (2, L, B, H) for "lstm",
                         [0] = h and [1] = c
    cell                 "rnn" (default), "gru" or "lstm" (see layout)
    dropout, rng         dropout between layers, in training: each layer's
                         output is multiplied, on its way up, by a mask of 0
                         and 1 / (1 - dropout), drawn from the NumPy Generator
                         ``rng`` by ``reference.dropout_mask``; the same rng
                         state gives the same masks, here and in the reference

Returned states are new arrays shaped like h0. The GIL is released for the
whole of each call, so several models can train in threads at once.

The activations kept for backward live in one workspace per thread, kept
from call to call (tens of megabytes at 2 x 512 and batch 32: allocating
them afresh each step costs page faults, about 6% of a step);
``release_workspace`` frees the calling thread's.
"""

import threading

import numpy as np

from . import _core, layout
from .reference import dropout_mask

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT32_MAX = np.iinfo(np.int32).max


def _check_buffer(name, array, dtype=None, shape=None, written=True):
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, not {type(array).__name__}")
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, not {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        raise TypeError(f"{name} is {array.dtype} but params is {dtype}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray makes a copy)")
    if written and not array.flags.writeable:
        raise ValueError(f"{name} is read-only, but it is updated in place")


def _check_indices(name, array, vocab_size):
    """(T, B) integer indices in [0, vocab_size), as a contiguous int32 array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, not {type(array).__name__}")
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer character indices, not {array.dtype}")
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty (T, B) array, got shape {array.shape}")
    if not np.can_cast(array.dtype, np.int32):
        # A wider integer could wrap around in the cast: check its range first.
        low, high = array.min(), array.max()
        if low < 0 or high >= vocab_size:
            _raise_out_of_range(name, low if low < 0 else high, vocab_size)
    array = np.ascontiguousarray(array, dtype=np.int32)
    bad = _core.first_out_of_range(array, vocab_size)
    if bad >= 0:
        _raise_out_of_range(name, array.flat[bad], vocab_size)
    return array


def _raise_out_of_range(name, index, vocab_size):
    raise ValueError(f"{name} holds index {index}, outside the vocabulary [0, {vocab_size})")


# Workspaces larger than this are allocated per call, not kept.
KEPT_WORKSPACE_BYTES = 1 << 28
_thread_local = threading.local()


def _workspace(cell_id, dtype, vocab_size, state, seq_length, num_layers, with_grads, masked):
    """This thread's workspace, grown to fit the call, as a flat ``dtype`` array;
    None (the C allocates its own) when it would be over KEPT_WORKSPACE_BYTES."""
    values = _core.workspace_size(cell_id, vocab_size, state.shape[2], num_layers, seq_length,
                                  state.shape[1], with_grads, masked)
    size = values * dtype.itemsize
    if size > KEPT_WORKSPACE_BYTES:
        return None
    buffer = getattr(_thread_local, "workspace", None)
    if buffer is None or buffer.size < size:
        buffer = _thread_local.workspace = np.empty(size, dtype=np.uint8)
    return buffer[:size].view(dtype)


def release_workspace():
    """Free the calling thread's kept workspace (the next call makes a new one)."""
    _thread_local.workspace = None


def _check_cell(cell):
    layout.gates(cell)
    return layout.CELL_IDS[cell]


def _sizes_error(params, hidden_size, num_layers, cell):
    return ValueError(
        f"params has {params.size} values, which fits no vocabulary size for "
        f"{num_layers} {cell} layer(s) of {hidden_size} hidden units")


def _check_model(params, inputs, targets, h0, cell, params_written=True):
    """Check the arguments every entry point shares.

    Returns (V, L, inputs, targets, state): state is h0 seen as (S * L, B, H)."""
    _check_cell(cell)
    _check_buffer("params", params, written=params_written)
    if params.ndim != 1:
        raise ValueError(f"params must be a flat 1-D buffer, got shape {params.shape}")
    _check_buffer("h0", h0, dtype=params.dtype, written=False)
    if cell == "lstm":
        if h0.ndim != 4 or h0.shape[0] != 2:
            raise ValueError("h0 must have shape (2, num_layers, batch_size, hidden_size) for "
                             f"the LSTM ([0] = h, [1] = c), got {h0.shape}")
    elif h0.ndim != 3:
        raise ValueError(f"h0 must have shape (num_layers, batch_size, hidden_size), got {h0.shape}")
    num_layers, batch_size, hidden_size = h0.shape[-3:]
    if min(h0.shape) < 1:
        raise ValueError(f"h0 has an empty dimension: {h0.shape}")
    vocab_size = layout.vocab_size_from(params.size, hidden_size, num_layers, cell)
    if vocab_size is None:
        raise _sizes_error(params, hidden_size, num_layers, cell)
    inputs = _check_indices("inputs", inputs, vocab_size)
    targets = _check_indices("targets", targets, vocab_size)
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} differ in shape")
    if inputs.shape[1] != batch_size:
        raise ValueError(
            f"inputs have {inputs.shape[1]} streams but h0 has batch size {batch_size}")
    seq_length = inputs.shape[0]
    widest = max(layout.gates(cell) * hidden_size, vocab_size)
    if seq_length * batch_size * widest > INT32_MAX:
        raise ValueError("seq_length * batch_size is too large for one call; split the sequence")
    return vocab_size, num_layers, inputs, targets, h0.reshape(-1, batch_size, hidden_size)


def _mask(dropout, rng, params, inputs, state, num_layers):
    """The flat dropout mask for one call, or None (no dropout, or one layer)."""
    if not (isinstance(dropout, (int, float, np.floating)) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if dropout == 0 or num_layers == 1:
        return None
    if not isinstance(rng, np.random.Generator):
        raise TypeError("dropout > 0 needs rng, a numpy.random.Generator, to draw its masks")
    T, B = inputs.shape
    return dropout_mask(rng, dropout, (num_layers - 1, T, B, state.shape[2]),
                        params.dtype).reshape(-1)


def sequence_loss(params, inputs, targets, h0, cell="rnn"):
    """Forward only: the loss summed over time and averaged over streams.

    Returns (loss, h_last)."""
    vocab_size, L, inputs, targets, state = _check_model(params, inputs, targets, h0, cell,
                                                         params_written=False)
    cell_id = _check_cell(cell)
    workspace = _workspace(cell_id, params.dtype, vocab_size, state, len(inputs), L, False, False)
    h_last = np.empty_like(h0)
    loss = _core.forward_backward(params, None, inputs, targets, state,
                                  h_last.reshape(state.shape), None, workspace, vocab_size, L,
                                  cell_id)
    return loss, h_last


def target_log_probs(params, inputs, targets, h0, cell="rnn"):
    """Forward only: log p(targets[t, b]) at every position, in float64.

    Returns (log_probs (T, B), h_last); -log_probs.sum() / B is the loss."""
    vocab_size, L, inputs, targets, state = _check_model(params, inputs, targets, h0, cell,
                                                         params_written=False)
    cell_id = _check_cell(cell)
    workspace = _workspace(cell_id, params.dtype, vocab_size, state, len(inputs), L, False, False)
    h_last = np.empty_like(h0)
    log_probs = np.empty(inputs.shape, dtype=np.float64)
    _core.target_log_probs(log_probs, params, inputs, targets, state,
                           h_last.reshape(state.shape), workspace, vocab_size, L, cell_id)
    return log_probs, h_last


def loss_and_grads(params, grads, inputs, targets, h0, cell="rnn", dropout=0.0, rng=None):
    """Loss and BPTT; the gradient is added (+=) into ``grads``.

    Returns (loss, h_last)."""
    vocab_size, L, inputs, targets, state = _check_model(params, inputs, targets, h0, cell,
                                                         params_written=False)
    _check_buffer("grads", grads, params.dtype, params.shape)
    mask = _mask(dropout, rng, params, inputs, state, L)
    cell_id = _check_cell(cell)
    workspace = _workspace(cell_id, params.dtype, vocab_size, state, len(inputs), L, True,
                           mask is not None)
    h_last = np.empty_like(h0)
    loss = _core.forward_backward(params, grads, inputs, targets, state,
                                  h_last.reshape(state.shape), mask, workspace, vocab_size, L,
                                  cell_id)
    return loss, h_last


def _check_clip(clip):
    if not clip > 0:
        raise ValueError(f"clip must be a positive number, got {clip!r}")


def clip_gradients(grads, clip):
    """Elementwise clip of ``grads`` to [-clip, clip], in place."""
    _check_buffer("grads", grads)
    _check_clip(clip)
    _core.clip_gradients(grads.reshape(-1), clip)


def adagrad_update(params, grads, mem, learning_rate):
    """mem += g*g; p -= lr * g / sqrt(mem + 1e-8), in place."""
    _check_buffer("params", params)
    _check_buffer("grads", grads, params.dtype, params.shape)
    _check_buffer("mem", mem, params.dtype, params.shape)
    _core.adagrad_update(params.reshape(-1), grads.reshape(-1), mem.reshape(-1),
                         learning_rate)


def train_step(params, grads, mem, inputs, targets, h0, learning_rate, clip=5.0,
               cell="rnn", dropout=0.0, rng=None):
    """One step of the write-up's loop, in one C call without the GIL.

    Zeroes ``grads``, runs forward and BPTT, clips the gradient to
    [-clip, clip] and takes an Adagrad step; ``grads`` ends holding the
    clipped gradient. Returns (loss, h_last), h_last to carry as the next h0.
    A loss that is not finite (NaN, inf) updates nothing: ``params`` and
    ``mem`` stay as they were, ``grads`` holds the unclipped gradient.
    """
    vocab_size, L, inputs, targets, state = _check_model(params, inputs, targets, h0, cell)
    _check_buffer("grads", grads, params.dtype, params.shape)
    _check_buffer("mem", mem, params.dtype, params.shape)
    _check_clip(clip)
    mask = _mask(dropout, rng, params, inputs, state, L)
    cell_id = _check_cell(cell)
    workspace = _workspace(cell_id, params.dtype, vocab_size, state, len(inputs), L, True,
                           mask is not None)
    h_last = np.empty_like(h0)
    loss = _core.train_step(params, grads, mem, inputs, targets, state,
                            h_last.reshape(state.shape), mask, workspace, vocab_size, L,
                            cell_id, learning_rate, clip)
    return loss, h_last


def adam_update(params, grads, m, v, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, step=1):
    """torch.optim.Adam's step ``step`` (from 1), without weight decay, in place."""
    _check_buffer("params", params)
    for name, array in (("grads", grads), ("m", m), ("v", v)):
        _check_buffer(name, array, params.dtype, params.shape, written=name != "grads")
    if int(step) < 1:
        raise ValueError(f"step counts from 1, got {step}")
    _core.adam_update(params.reshape(-1), grads.reshape(-1), m.reshape(-1), v.reshape(-1),
                      learning_rate, beta1, beta2, eps, int(step))


def rmsprop_update(params, grads, v, learning_rate, alpha=0.99, eps=1e-8):
    """torch.optim.RMSprop's step (not centered, no momentum), in place."""
    _check_buffer("params", params)
    _check_buffer("grads", grads, params.dtype, params.shape, written=False)
    _check_buffer("v", v, params.dtype, params.shape)
    _core.rmsprop_update(params.reshape(-1), grads.reshape(-1), v.reshape(-1),
                         learning_rate, alpha, eps)


def sample(params, h, rng_state, prime, n, temperature=1.0, top_k=None, top_p=None,
           stop=(), cell="rnn"):
    """Feed ``prime`` through the stack, then draw ``n`` characters, all in C.

    h is the carried state, batch 1: (L, H), or (2, L, H) for the LSTM
    ([0] = h, [1] = c); rng_state is a (4,) uint64
    xoshiro256** state, advanced in place. Draws are from
    softmax(logits / temperature) over the ``top_k`` most likely characters,
    then the smallest set of those holding ``top_p`` of their probability;
    temperature 0 is argmax. Stops early once the output ends with ``stop``.

    Returns (indices, h): h as it stands before the last drawn character is
    fed, so a continuation passes that character as its prime.
    """
    cell_id = _check_cell(cell)
    _check_buffer("params", params, written=False)
    _check_buffer("h", h, dtype=params.dtype, written=False)
    if cell == "lstm":
        if h.ndim != 3 or h.shape[0] != 2 or min(h.shape) < 1:
            raise ValueError("h must have shape (2, num_layers, hidden_size) for the LSTM, "
                             f"got {h.shape}")
    elif h.ndim != 2 or min(h.shape) < 1:
        raise ValueError(f"h must have shape (num_layers, hidden_size), got {h.shape}")
    num_layers, hidden_size = h.shape[-2:]
    vocab_size = layout.vocab_size_from(params.size, hidden_size, num_layers, cell)
    if vocab_size is None:
        raise _sizes_error(params, hidden_size, num_layers, cell)
    if not (isinstance(rng_state, np.ndarray) and rng_state.dtype == np.uint64
            and rng_state.shape == (4,) and rng_state.flags.c_contiguous
            and rng_state.flags.writeable):
        raise TypeError("rng_state must be a writable (4,) uint64 array")
    if not rng_state.any():
        raise ValueError("rng_state must not be all zeros (xoshiro256** would stay at zero)")
    prime = np.asarray(prime)
    if prime.size == 0:
        raise ValueError("prime must hold at least one character index")
    prime = _check_indices("prime", prime.reshape(-1, 1), vocab_size).ravel()
    stop = np.asarray(stop, dtype=np.int64).reshape(-1)
    if stop.size:
        stop = _check_indices("stop", stop.reshape(-1, 1), vocab_size).ravel()
    else:
        stop = np.zeros(0, dtype=np.int32)
    if not (temperature >= 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")

    h = h.copy()
    if n == 0:
        return np.zeros(0, dtype=np.int32), h
    out = np.empty(int(n), dtype=np.int32)
    count = _core.sample(out, params, h.reshape(-1, hidden_size), rng_state, prime, stop,
                         float(temperature), 0 if top_k is None else int(top_k),
                         1.0 if top_p is None else float(top_p), vocab_size, num_layers,
                         cell_id)
    return out[:count], h
