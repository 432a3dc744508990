"""The C core's entry points, with their inputs checked against the model's spec.

The tests hold each to ``charrnn_c.reference``, whose docstring says where
its signatures differ (sampling, target_log_probs). Buffers are updated in
place:

    spec                 a ModelSpec: cell, dtype and sizes, which every
                         buffer below must match
    params, grads        flat buffers of spec.num_params values, laid out as
                         spec.param_views says, of spec.dtype
    optimizer            an Optimizer (optimizers.py): its hyperparameters and
                         its state buffers, laid out like params
    inputs, targets      (T, B) character indices, time-major; any integer dtype
    h0                   the state carried in: spec.state_shape(B), of spec.dtype
    dropout, rng         dropout between layers, in training: each layer's
                         output is multiplied, on its way up, by a mask of 0
                         and 1 / (1 - dropout), drawn from the NumPy Generator
                         ``rng`` by ``masks.dropout_mask``; the same rng
                         state gives the same masks, here and in the reference

Returned states are new arrays shaped like h0. A buffer a call writes must
not share memory with another buffer of the call (ValueError): the C reads
and writes them at the same time. The GIL is released for the whole of each
call, so several models can train in threads at once.

The activations kept for backward live in a workspace that this module owns:
one per thread, kept from call to call (tens of megabytes at 2 x 512 and
batch 32: allocating them afresh each step costs page faults, about 6% of a
step); ``release_workspace`` frees the calling thread's.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
import numpy as np

from . import _core, checks
from ._core import INT32_MAX
from .masks import dropout_mask
from .optimizers import OptimConfig, Optimizer
from .spec import DTYPE_IDS, ModelSpec
from .threads import blas_on_one_thread


def _check_spec(spec: ModelSpec) -> None:
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec, not {type(spec).__name__}")


def _check_buffer(name: str, array: np.ndarray, dtype: np.dtype, shape: tuple[int, ...],
                  written: bool = True) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, not {type(array).__name__}")
    if array.dtype != dtype:
        raise TypeError(f"{name} is {array.dtype}, the model is {dtype}")
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, the model needs {shape}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray makes a copy)")
    if written and not array.flags.writeable:
        raise ValueError(f"{name} is read-only, but it is updated in place")


def _check_disjoint(written: tuple[np.ndarray | None, ...], read: tuple[np.ndarray, ...],
                    names: tuple[str, ...], optimizer: Optimizer | None = None) -> None:
    """No buffer in ``written`` overlaps another of the call; ``names`` holds
    written's, then read's ("state_a", "state_b": the optimizer's buffers).
    One C call over the data pointers, about 0.15 us (np.may_share_memory
    costs 0.23 us a pair, and train_step has 18 pairs)."""
    pair = _core.first_overlap(written, read)
    if pair is not None:
        first, second = (_buffer_name(names[i], optimizer) for i in pair)
        raise ValueError(f"{first} and {second} share memory: a buffer this call writes "
                         "must not overlap another that it uses (pass a copy)")


def _buffer_name(name: str, optimizer: Optimizer | None) -> str:
    """How a buffer is named in messages: the optimizer's by their own names."""
    if optimizer is None or name not in ("state_a", "state_b"):
        return name
    return f"the {optimizer.name} buffer {optimizer.buffer_names[name == 'state_b']!r}"


def _check_params(spec: ModelSpec, params: np.ndarray, written: bool) -> None:
    _check_buffer("params", params, spec.np_dtype, (spec.num_params,), written)


def _check_indices(name: str, array: np.ndarray, vocab_size: int) -> np.ndarray:
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


def _raise_out_of_range(name: str, index: int, vocab_size: int) -> None:
    raise ValueError(f"{name} holds index {index}, outside the vocabulary [0, {vocab_size})")


def _check_sequences(spec: ModelSpec, inputs: np.ndarray, targets: np.ndarray,
                     h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """inputs and targets as int32 (T, B); h0 of spec.state_shape(B)."""
    inputs = _check_indices("inputs", inputs, spec.vocab_size)
    targets = _check_indices("targets", targets, spec.vocab_size)
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} differ in shape")
    T, B = inputs.shape
    _check_buffer("h0", h0, spec.np_dtype, spec.state_shape(B), written=False)
    widest = max(spec.gates * spec.hidden_size, spec.vocab_size)
    if T * B * widest > INT32_MAX:
        raise ValueError("seq_length * batch_size is too large for one call; split the sequence")
    return inputs, targets


# Workspaces larger than this are allocated per call, not kept.
KEPT_WORKSPACE_BYTES = 1 << 28
_thread_local = threading.local()


def _workspace(spec: ModelSpec, seq_length: int, batch_size: int, with_grads: bool,
               masked: bool) -> np.ndarray:
    """This thread's workspace, grown to fit the call, as a flat array of the
    spec's dtype; a fresh one, not kept, when over KEPT_WORKSPACE_BYTES."""
    key = (spec.core, seq_length, batch_size, with_grads, masked)
    last: tuple[object, np.ndarray] | None = getattr(_thread_local, "last", None)
    if last is not None and last[0] == key:       # training asks the same at every step
        return last[1]
    values = max(1, _core.workspace_size(spec.core, seq_length, batch_size, with_grads, masked))
    size = values * spec.np_dtype.itemsize
    if size > KEPT_WORKSPACE_BYTES:
        return np.empty(values, dtype=spec.np_dtype)
    buffer = getattr(_thread_local, "workspace", None)
    if buffer is None or buffer.size < size:
        buffer = _thread_local.workspace = np.empty(size, dtype=np.uint8)
    view = buffer[:size].view(spec.np_dtype)
    _thread_local.last = (key, view)
    return view


def release_workspace() -> None:
    """Free the calling thread's kept workspace (the next call makes a new one)."""
    _thread_local.workspace = _thread_local.last = None


def batch_mask(spec: ModelSpec, dropout: float, rng: np.random.Generator | None,
               inputs: np.ndarray) -> np.ndarray | None:
    """The dropout mask of one batch, (L - 1, T, B, H), or None (no dropout,
    or one layer); split_step cuts it into its shares."""
    if not (isinstance(dropout, (int, float, np.floating)) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if dropout == 0 or spec.num_layers == 1:
        return None
    if not isinstance(rng, np.random.Generator):
        raise TypeError("dropout > 0 needs rng, a numpy.random.Generator, to draw its masks")
    T, B = inputs.shape
    return dropout_mask(rng, dropout, (spec.num_layers - 1, T, B, spec.hidden_size),
                        spec.np_dtype)


def sequence_loss(spec: ModelSpec, params: np.ndarray, inputs: np.ndarray,
                  targets: np.ndarray, h0: np.ndarray) -> tuple[float, np.ndarray]:
    """Forward only: the loss summed over time and averaged over streams.

    Returns (loss, h_last)."""
    _check_spec(spec)
    _check_params(spec, params, written=False)
    inputs, targets = _check_sequences(spec, inputs, targets, h0)
    T, B = inputs.shape
    h_last = np.empty_like(h0)
    with blas_on_one_thread:
        loss = _core.forward_backward(spec.core, params, None, inputs, targets, h0, h_last, None,
                                      _workspace(spec, T, B, False, False))
    return loss, h_last


def target_log_probs(spec: ModelSpec, params: np.ndarray, inputs: np.ndarray,
                     targets: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward only: log p(targets[t, b]) at every position, in float64.

    Returns (log_probs (T, B), h_last); -log_probs.sum() / B is the loss."""
    _check_spec(spec)
    _check_params(spec, params, written=False)
    inputs, targets = _check_sequences(spec, inputs, targets, h0)
    T, B = inputs.shape
    h_last = np.empty_like(h0)
    log_probs = np.empty(inputs.shape, dtype=np.float64)
    with blas_on_one_thread:
        _core.target_log_probs(spec.core, log_probs, params, inputs, targets, h0, h_last,
                               _workspace(spec, T, B, False, False))
    return log_probs, h_last


def loss_and_grads(spec: ModelSpec, params: np.ndarray, grads: np.ndarray,
                   inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray,
                   dropout: float = 0.0, rng: np.random.Generator | None = None,
                   mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Loss and BPTT; the gradient is added (+=) into ``grads``.

    ``mask``, instead of ``dropout`` and ``rng``: a dropout mask already
    drawn, (L - 1, T, B, H) of the spec's dtype (split_step cuts one batch's
    mask into shares). Returns (loss, h_last)."""
    _check_spec(spec)
    _check_params(spec, params, written=False)
    _check_buffer("grads", grads, spec.np_dtype, (spec.num_params,))
    inputs, targets = _check_sequences(spec, inputs, targets, h0)
    _check_disjoint((grads,), (params, h0, inputs, targets),
                    ("grads", "params", "h0", "inputs", "targets"))
    if mask is None:
        mask = batch_mask(spec, dropout, rng, inputs)
    else:
        if dropout != 0 or spec.num_layers == 1:
            raise ValueError("give a mask or a dropout rate, not both; "
                             "and a mask only to more than one layer")
        T, B = inputs.shape
        _check_buffer("mask", mask, spec.np_dtype,
                      (spec.num_layers - 1, T, B, spec.hidden_size), written=False)
    mask = None if mask is None else mask.reshape(-1)      # the C takes it flat
    T, B = inputs.shape
    h_last = np.empty_like(h0)
    with blas_on_one_thread:
        loss = _core.forward_backward(spec.core, params, grads, inputs, targets, h0, h_last, mask,
                                      _workspace(spec, T, B, True, mask is not None))
    return loss, h_last


def _check_optimizer(optimizer: Optimizer, params: np.ndarray, clip: float,
                     clip_norm: float | None) -> OptimConfig:
    """The optimizer's C settings for this step, its buffers checked against params."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer, not {type(optimizer).__name__}")
    for name, buffer in optimizer.buffers.items():
        _check_buffer(f"the {optimizer.name} buffer {name!r}", buffer, params.dtype,
                      params.shape)
    checks.positive_number("clip", clip, or_inf=True)        # inf: no elementwise clip
    checks.positive_number("clip_norm", clip_norm, or_none=True)
    for name, value in (("clip", clip), ("clip_norm", clip_norm)):
        checks.normal(name, value, params.dtype.name)    # flush-to-zero reads it as 0
    steps = optimizer.steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps < checks.MAX_COUNT:
        raise ValueError(f"the {optimizer.name} optimizer's steps must be a count >= 0, "
                         f"got {steps!r}")
    return optimizer.core_config(clip, clip_norm)


def optimizer_step(optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
                   clip: float = 5.0, clip_norm: float | None = None) -> None:
    """Scale ``grads`` to at most ``clip_norm`` in global L2 norm (None: never),
    clip it elementwise to [-clip, clip], then take the optimizer's step, in
    place: ``grads`` ends holding the gradient as applied, and
    ``optimizer.steps`` counts one more."""
    if not (isinstance(params, np.ndarray) and params.ndim == 1):
        raise ValueError("params must be a flat 1-D NumPy array")
    _check_buffer("params", params, params.dtype, params.shape)
    if params.dtype not in (np.float32, np.float64):
        raise TypeError(f"params must be float32 or float64, not {params.dtype}")
    _check_buffer("grads", grads, params.dtype, params.shape)
    config = _check_optimizer(optimizer, params, clip, clip_norm)
    state_a, state_b = optimizer.core_buffers()
    _check_disjoint((params, grads, state_a, state_b), (),
                    ("params", "grads", "state_a", "state_b"), optimizer)
    with blas_on_one_thread:
        _core.optimizer_step(DTYPE_IDS[params.dtype.name], config, params, grads, state_a, state_b)
    optimizer.steps += 1


def train_step(spec: ModelSpec, optimizer: Optimizer, params: np.ndarray, grads: np.ndarray,
               inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray, clip: float = 5.0,
               clip_norm: float | None = None, dropout: float = 0.0,
               rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
    """One whole training step, in one C call without the GIL.

    Zeroes ``grads``, runs forward and BPTT, then optimizer_step: the
    gradient scaled to ``clip_norm``, clipped to [-clip, clip], and the
    optimizer's update; ``grads`` ends holding the gradient as applied.
    Returns (loss, h_last), h_last to carry as the next h0. A loss that is
    not finite (NaN, inf) updates nothing: ``params`` and the optimizer stay
    as they were, ``grads`` holds the raw gradient.
    """
    _check_spec(spec)
    _check_params(spec, params, written=True)
    _check_buffer("grads", grads, spec.np_dtype, (spec.num_params,))
    config = _check_optimizer(optimizer, params, clip, clip_norm)
    inputs, targets = _check_sequences(spec, inputs, targets, h0)
    state_a, state_b = optimizer.core_buffers()
    _check_disjoint((params, grads, state_a, state_b), (h0, inputs, targets),
                    ("params", "grads", "state_a", "state_b", "h0", "inputs", "targets"),
                    optimizer)
    mask = batch_mask(spec, dropout, rng, inputs)
    mask = None if mask is None else mask.reshape(-1)      # the C takes it flat
    T, B = inputs.shape
    h_last = np.empty_like(h0)
    with blas_on_one_thread:
        loss = _core.train_step(spec.core, config, params, grads, state_a, state_b,
                                inputs, targets, h0, h_last, mask,
                                _workspace(spec, T, B, True, mask is not None))
    if math.isfinite(loss):
        optimizer.steps += 1
    return loss, h_last


def _check_n(n: int) -> int:
    if int(n) != n or n < 0:
        raise checks.InvalidParameterError(
            (checks.Name("n"), f" must be a non-negative integer, got {n!r}"), param="n")
    if n > INT32_MAX:
        # The C core counts characters in an int: 2**32 + 5 would draw 5.
        raise checks.InvalidParameterError(
            (checks.Name("n"), f" must be at most 2**31 - 1 = {int(INT32_MAX):,} characters "
             f"per call, got {n!r}: draw longer text in pieces",
             checks.PythonOnly(" (CharRNN.generate streams any length)")), param="n")
    return int(n)


def _check_sampling(spec: ModelSpec, params: np.ndarray, h: np.ndarray,
                    prime: Sequence[int] | np.ndarray, n: int, temperature: float,
                    top_k: int | None, top_p: float | None,
                    stop: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, int, float]:
    """What sample and sample_batch check alike. Returns prime and stop as
    int32 arrays, and top_k and top_p as the C takes them."""
    _check_spec(spec)
    _check_params(spec, params, written=False)
    _check_buffer("h", h, spec.np_dtype, spec.sample_state_shape(), written=False)
    prime = np.asarray(prime)
    if prime.size == 0:
        raise ValueError("prime must hold at least one character index")
    prime = _check_indices("prime", prime.reshape(-1, 1), spec.vocab_size).ravel()
    stop = np.asarray(stop, dtype=np.int64).reshape(-1)
    if stop.size:
        stop = _check_indices("stop", stop.reshape(-1, 1), spec.vocab_size).ravel()
    else:
        stop = np.zeros(0, dtype=np.int32)
    if not (temperature >= 0 and np.isfinite(temperature)):
        raise checks.InvalidParameterError(
            (checks.Name("temperature"), f" must be a finite number >= 0, got {temperature!r}"),
            param="temperature")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise checks.InvalidParameterError(
            (checks.Name("top_k"), " must be a positive integer", checks.PythonOnly(" or None"),
             f", got {top_k!r}"), param="top_k")
    if top_p is not None and not 0 < top_p <= 1:
        raise checks.InvalidParameterError(
            (checks.Name("top_p"), " must be in (0, 1]", checks.PythonOnly(" or None"),
             f", got {top_p!r}"), param="top_p")
    _check_n(n)
    # top_k >= V keeps every character; the clamp keeps it a C int.
    return (prime, stop, 0 if top_k is None else min(int(top_k), spec.vocab_size),
            1.0 if top_p is None else float(top_p))


def sample(spec: ModelSpec, params: np.ndarray, h: np.ndarray, rng_state: np.ndarray,
           prime: Sequence[int] | np.ndarray, n: int, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None,
           stop: Sequence[int] | np.ndarray = ()) -> tuple[np.ndarray, np.ndarray]:
    """Feed ``prime`` through the stack, then draw ``n`` characters, all in C.

    h is the carried state of one stream, spec.sample_state_shape(): (L, H),
    or (2, L, H) for the LSTM ([0] = h, [1] = c); rng_state is a (4,) uint64
    xoshiro256** state, advanced in place. Draws are from
    softmax(logits / temperature) over the ``top_k`` most likely characters,
    then the smallest set of those holding ``top_p`` of their probability;
    temperature 0 is argmax. Stops early once the output ends with ``stop``.

    Returns (indices, h): h as it stands before the last drawn character is
    fed, so a continuation passes that character as its prime.
    """
    prime, stop, c_top_k, c_top_p = _check_sampling(spec, params, h, prime, n, temperature,
                                                    top_k, top_p, stop)
    if not (isinstance(rng_state, np.ndarray) and rng_state.dtype == np.uint64
            and rng_state.shape == (4,) and rng_state.flags.c_contiguous
            and rng_state.flags.writeable):
        raise TypeError("rng_state must be a writable (4,) uint64 array")
    if not rng_state.any():
        raise ValueError("rng_state must not be all zeros (xoshiro256** would stay at zero)")

    h = h.copy()
    if n == 0:
        return np.zeros(0, dtype=np.int32), h
    out = np.empty(int(n), dtype=np.int32)
    with blas_on_one_thread:
        count = _core.sample(spec.core, out, params, h, rng_state, prime, stop, float(temperature),
                             c_top_k, c_top_p)
    return out[:count], h


def _physical_memory() -> int | None:
    """Bytes of memory the machine has, where the system says (not on Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_num_samples(spec: ModelSpec, num_samples: int, n: int) -> int:
    """``num_samples`` streams of ``n`` characters, checked before anything is
    allocated: a positive integer, no more streams than one C call takes for
    this model (its products take a row per stream, and count values in a C
    int), and no more memory than the machine has (the text, the streams'
    states and the step's activations). Returns it as an int."""
    _check_spec(spec)
    k = checks.positive_int("num_samples", num_samples)
    n = _check_n(n)
    widest = max(spec.gates * spec.hidden_size, spec.vocab_size)
    limit = INT32_MAX // widest
    if k > limit:
        raise checks.InvalidParameterError(
            (checks.Setting("num_samples", k, f"{k:,}"), " is more streams than one call takes "
             f"for this model (at most {limit:,})"), "draw them in several calls",
            param="num_samples")
    state_values = math.prod(spec.sample_state_shape())
    values = _core.workspace_size(spec.core, 1, k, False, False) + 2 * k * state_values
    # Per stream: its text (int32), generator (4 uint64) and three int32 of bookkeeping.
    needed = k * (4 * n + 32 + 12) + values * spec.np_dtype.itemsize
    memory = _physical_memory()
    if memory is not None and needed > memory:
        raise checks.InvalidParameterError(
            (checks.Setting("num_samples", k, f"{k:,}"), " samples of ",
             checks.Setting("n", n, f"{n:,}"), f" characters need about "
             f"{needed / 2**30:,.1f} GiB at once, more than this machine's "
             f"{memory / 2**30:,.1f} GiB"), "draw them in several calls", param="num_samples")
    return k


def sample_batch(spec: ModelSpec, params: np.ndarray, h: np.ndarray, rng_states: np.ndarray,
                 prime: Sequence[int] | np.ndarray, n: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 stop: Sequence[int] | np.ndarray = ()) -> tuple[list[np.ndarray], np.ndarray]:
    """K samples at once: feed ``prime`` through the stack once, then draw
    ``n`` characters for each of K streams, all in one C call.

    Every stream starts from the state the prime leaves in h (one stream's,
    spec.sample_state_shape(), as in sample) and draws with its own
    xoshiro256** state, row k of rng_states (K, 4) uint64, advanced in place;
    K = len(rng_states), checked as check_num_samples says. Each character
    is one step of the stack for all the streams still drawing, a matrix
    product per weight where K calls of sample make K matrix-vector
    products. Draws are as sample's (temperature, top_k, top_p); a stream
    ends once its own output ends with ``stop``, and leaves the batch. With
    K = 1 this is sample, character for character; stream k of a batch is
    what sample draws with rng_states[k], but for rounding (the products of
    a batch round differently), which can change a draw.

    Returns (samples, h_last): samples[k] stream k's indices (n, or fewer
    where it stopped), and h_last, spec.state_shape(K), each stream's state
    as it stands before its last drawn character is fed.
    """
    prime, stop, c_top_k, c_top_p = _check_sampling(spec, params, h, prime, n, temperature,
                                                    top_k, top_p, stop)
    if not (isinstance(rng_states, np.ndarray) and rng_states.dtype == np.uint64
            and rng_states.ndim == 2 and rng_states.shape[1] == 4
            and rng_states.flags.c_contiguous and rng_states.flags.writeable):
        raise TypeError("rng_states must be a writable (K, 4) uint64 array, a row per stream")
    k = check_num_samples(spec, len(rng_states), n)
    zero = np.flatnonzero(~rng_states.any(axis=1))
    if zero.size:
        raise ValueError(f"rng_states[{zero[0]}] is all zeros (xoshiro256** would stay at zero)")

    if n == 0:
        h_last = np.broadcast_to(np.expand_dims(h, -2), spec.state_shape(k)).copy()
        return [np.zeros(0, dtype=np.int32) for _ in range(k)], h_last
    out = np.empty((k, int(n)), dtype=np.int32)
    lengths = np.empty(k, dtype=np.int32)
    h_last = np.empty(spec.state_shape(k), dtype=spec.np_dtype)
    with blas_on_one_thread:
        _core.sample_batch(spec.core, out, lengths, params, h, h_last, rng_states, prime, stop,
                           float(temperature), c_top_k, c_top_p)
    return [out[i, :length] for i, length in enumerate(lengths)], h_last


# Evaluation runs the text through the stack this many characters at a time
# (an LSTM of 2 x 512 keeps about 17 MB of float32 activations per 1,000).
EVALUATION_CHUNK = 2_000


def log_probs(spec: ModelSpec, params: np.ndarray, data: np.ndarray) -> np.ndarray:
    """log p(data[i + 1] | data[:i + 1]) for every i, from a zero state, read
    EVALUATION_CHUNK characters at a time: (len(data) - 1,) float64."""
    h = np.zeros(spec.state_shape(1), dtype=spec.np_dtype)
    pieces = []
    for start in range(0, len(data) - 1, EVALUATION_CHUNK):
        chunk = data[start:start + EVALUATION_CHUNK + 1].astype(np.int32)
        window, h = target_log_probs(spec, params, chunk[:-1, None], chunk[1:, None], h)
        pieces.append(window[:, 0])
    return np.concatenate(pieces) if pieces else np.zeros(0)
