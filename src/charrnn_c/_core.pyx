# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: freethreading_compatible=True
"""Thin glue between NumPy buffers and the C core's entry points (csrc/charrnn.h).

This module owns every BLAS import: at import it fills the C core's table of
BLAS function pointers from scipy.linalg.cython_blas. Inputs are checked for
users in kernels.py, with messages in the model's terms; here each function
checks again, before taking a pointer, only what keeps the C inside its
buffers: every array's dtype, rank, shape (against the spec tuple and T, B),
contiguity, alignment and writability, the character indices, and that no
buffer written overlaps another (ValueError or TypeError otherwise). These
are a few integer compares per array (about 0.3 us a call), because anyone
can import this module. The dtype is the C side's to dispatch on, once, and
the GIL is released for the whole of each call. The C core keeps no Python objects and no global state but the BLAS
table, which is filled once at import: it is safe without the GIL.

The C declarations are in _core.pxd, which Cython reads first. The headers
own the numbers both sides use, and this module hands them to Python: the
cells', dtypes' and optimizers' (CELL_LSTM, DTYPE_F64, OPTIM_ADAM, ...), the
optimizer step's fixed constants (ADAGRAD_EPS, NORM_EPS) and the largest
size the C counts in an int (INT32_MAX).
"""

import os

cimport numpy as cnp
from libc.stdint cimport int32_t, uint64_t, INT32_MAX as C_INT32_MAX
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv

cnp.import_array()

# For the Python side: csrc/optim.h's step constants, and the bound on every
# size the C takes or counts in an int (T * B rows, n, prime and stop lengths).
ADAGRAD_EPS = OPTIM_ADAGRAD_EPS
NORM_EPS = OPTIM_NORM_EPS
INT32_MAX = C_INT32_MAX

charrnn_blas.sgemm = sgemm
charrnn_blas.dgemm = dgemm
charrnn_blas.sgemv = sgemv
charrnn_blas.dgemv = dgemv


ctypedef char *(*corename_fn)() noexcept nogil
ctypedef int (*num_threads_fn)() noexcept nogil

cdef corename_fn _get_corename = <corename_fn>blas_openblas_function(<const void *>sgemm,
                                                                    b"get_corename")
BLAS_CORENAME = None if _get_corename == NULL else _get_corename().decode("ascii", "replace")
"""OpenBLAS's name for the kernels it runs here ("SkylakeX", ...), None if not OpenBLAS."""
charrnn_blas.num_threads = <num_threads_fn>blas_openblas_function(<const void *>sgemm,
                                                                  b"get_num_threads")
ctypedef void (*set_num_threads_fn)(int) noexcept nogil
cdef set_num_threads_fn _set_num_threads = <set_num_threads_fn>blas_openblas_function(
    <const void *>sgemm, b"set_num_threads")


def blas_threads():
    """The thread count of the OpenBLAS behind cython_blas; None if it is not
    OpenBLAS (or does not say)."""
    return None if charrnn_blas.num_threads == NULL else charrnn_blas.num_threads()


def set_blas_threads(int threads):
    """Set that OpenBLAS's thread count (process-wide); False if it cannot be set."""
    if _set_num_threads == NULL or charrnn_blas.num_threads == NULL:
        return False
    _set_num_threads(threads)
    return True

# The OpenBLAS cores with small-matrix sgemm and dgemm kernels, and the
# limits their permit functions set (kernel/x86_64/*gemm_small_kernel_permit_
# skylakex.c, OpenBLAS 0.3.30; checked here by timing, see blas.h).
SMALL_GEMM_CORES = {"skylakex", "cooperlake", "sapphirerapids"}


def set_small_gemm_blocks(bint enabled, double volume=1e6, int area=1200, int grain=16):
    """Cut few-row matrix products into blocks for OpenBLAS's small-matrix
    kernels (blas.h), or stop. Only the rounding of the results changes.

    volume, area and grain are the small kernels' limits (blas.h); tests
    give smaller ones so that products of their tiny models are cut too.
    Set once at import; this switch is for tests and benchmarks, and must not
    be flipped while a kernel runs in another thread."""
    if enabled and not (volume >= 1 and area >= 1 and grain >= 1):
        raise ValueError(f"small-matrix limits must be positive: volume={volume}, "
                         f"area={area}, grain={grain}")
    charrnn_blas.small_gemm_volume = volume if enabled else 0
    charrnn_blas.small_gemm_area = area
    charrnn_blas.small_gemm_grain = grain


def small_gemm_blocks():
    """Whether few-row products are cut for the small-matrix kernels."""
    return charrnn_blas.small_gemm_volume > 0


def small_gemm_plan(bint trans_b, int M, int N, int K):
    """How the row-major product C (M, N) = A (M, K) op(B) goes to BLAS now:
    (block width, slice length) when it is cut, None when it goes whole."""
    cdef int nb = 0, kb = 0
    if blas_small_gemm_plan(trans_b, M, N, K, &nb, &kb):
        return nb, kb
    return None


# CHARRNN_SMALL_GEMM=0 turns the blocks off, to measure what they buy.
set_small_gemm_blocks(BLAS_CORENAME is not None
                      and BLAS_CORENAME.lower() in SMALL_GEMM_CORES
                      and os.environ.get("CHARRNN_SMALL_GEMM", "1") != "0")


def set_flush_subnormals(bint enabled):
    """Flush subnormal floats to zero inside every call that computes (csrc/fpmode.h),
    or compute with IEEE subnormals, as the NumPy reference does. Process-wide;
    flip it between calls, not while a kernel runs in another thread."""
    charrnn_set_flush_subnormals(enabled)


def flush_subnormals():
    """Whether calls flush subnormals (False where the processor has no such mode)."""
    return bool(charrnn_flush_subnormals())


def fp_mode():
    """The calling thread's MXCSR (x86-64) or FPCR (aarch64), 0 elsewhere: for
    tests that the caller's floating-point mode survives every call."""
    return charrnn_fp_mode()


# CHARRNN_FLUSH_SUBNORMALS=0 computes with subnormals, for bit-exact
# comparison with the reference where values go below 1e-38.
set_flush_subnormals(os.environ.get("CHARRNN_FLUSH_SUBNORMALS", "1") != "0")


# ---------------------------------------------------------------------------
# The checks every entry point makes before it takes a pointer.

include "_core_checks.pxi"


def forward_backward(tuple spec, object params, object grads, object inputs, object targets,
                     object state0, object state_last, object mask, object workspace):
    """The loss; its gradient added into grads unless grads is None."""
    cdef model_spec s = unpack_spec(spec)
    cdef int typenum = FLOAT_TYPES[s.dtype]
    cdef Py_ssize_t P = num_params(&s)
    check_sequences(&s, inputs, targets)
    cdef int T = cnp.PyArray_DIMS(inputs)[0], B = cnp.PyArray_DIMS(inputs)[1]
    check_array(params, "params", typenum, False, 1, P)
    if grads is not None:
        check_array(grads, "grads", typenum, True, 1, P)
    check_states(&s, state0, "state0", False, B)
    check_states(&s, state_last, "state_last", True, B)
    check_mask(&s, mask, T, B)
    check_workspace(workspace, &s, T, B, grads is not None, mask is not None)
    check_disjoint((grads, state_last, workspace), (params, inputs, targets, state0, mask),
                   ("grads", "state_last", "workspace", "params", "inputs", "targets",
                    "state0", "mask"))
    cdef double loss = 0
    cdef void *grads_ptr = data_or_null(grads)
    cdef void *mask_ptr = data_or_null(mask)
    cdef void *params_ptr = data(params)
    cdef void *state0_ptr = data(state0)
    cdef void *state_last_ptr = data(state_last)
    cdef void *workspace_ptr = data(workspace)
    cdef int32_t *inputs_ptr = <int32_t *>data(inputs)
    cdef int32_t *targets_ptr = <int32_t *>data(targets)
    with nogil:
        charrnn_forward_backward(&s, grads_ptr, state_last_ptr, &loss, params_ptr, inputs_ptr,
                                 targets_ptr, state0_ptr, mask_ptr, workspace_ptr, T, B)
    return loss


def target_log_probs(tuple spec, object log_probs, object params, object inputs,
                     object targets, object state0, object state_last, object workspace):
    """Forward only: log p(target) at every position into log_probs (T, B) float64."""
    cdef model_spec s = unpack_spec(spec)
    cdef int typenum = FLOAT_TYPES[s.dtype]
    check_sequences(&s, inputs, targets)
    cdef int T = cnp.PyArray_DIMS(inputs)[0], B = cnp.PyArray_DIMS(inputs)[1]
    check_array(log_probs, "log_probs", cnp.NPY_FLOAT64, True, 2, T, B)
    check_array(params, "params", typenum, False, 1, num_params(&s))
    check_states(&s, state0, "state0", False, B)
    check_states(&s, state_last, "state_last", True, B)
    check_workspace(workspace, &s, T, B, False, False)
    check_disjoint((log_probs, state_last, workspace), (params, inputs, targets, state0),
                   ("log_probs", "state_last", "workspace", "params", "inputs", "targets",
                    "state0"))
    cdef double *log_probs_ptr = <double *>data(log_probs)
    cdef void *params_ptr = data(params)
    cdef void *state0_ptr = data(state0)
    cdef void *state_last_ptr = data(state_last)
    cdef void *workspace_ptr = data(workspace)
    cdef int32_t *inputs_ptr = <int32_t *>data(inputs)
    cdef int32_t *targets_ptr = <int32_t *>data(targets)
    with nogil:
        charrnn_target_log_probs(&s, log_probs_ptr, state_last_ptr, params_ptr, inputs_ptr,
                                 targets_ptr, state0_ptr, workspace_ptr, T, B)


def train_step(tuple spec, tuple config, object params, object grads, object state_a,
               object state_b, object inputs, object targets, object state0,
               object state_last, object mask, object workspace):
    """Zero grads, forward, BPTT, clip, update: one call, no GIL. Returns the loss.

    A loss that is not finite updates nothing (train_step.h)."""
    cdef model_spec s = unpack_spec(spec)
    cdef optim_config c = unpack_config(config)
    cdef int typenum = FLOAT_TYPES[s.dtype]
    cdef Py_ssize_t P = num_params(&s)
    check_sequences(&s, inputs, targets)
    cdef int T = cnp.PyArray_DIMS(inputs)[0], B = cnp.PyArray_DIMS(inputs)[1]
    check_array(params, "params", typenum, True, 1, P)
    check_array(grads, "grads", typenum, True, 1, P)
    check_array(state_a, "state_a", typenum, True, 1, P)
    check_state_b(&c, state_b)
    if state_b is not None:
        check_array(state_b, "state_b", typenum, True, 1, P)
    check_states(&s, state0, "state0", False, B)
    check_states(&s, state_last, "state_last", True, B)
    check_mask(&s, mask, T, B)
    check_workspace(workspace, &s, T, B, True, mask is not None)
    check_disjoint((params, grads, state_a, state_b, state_last, workspace),
                   (inputs, targets, state0, mask),
                   ("params", "grads", "state_a", "state_b", "state_last", "workspace",
                    "inputs", "targets", "state0", "mask"))
    cdef double loss = 0
    cdef void *params_ptr = data(params)
    cdef void *grads_ptr = data(grads)
    cdef void *state_a_ptr = data(state_a)
    cdef void *state_b_ptr = data_or_null(state_b)
    cdef void *mask_ptr = data_or_null(mask)
    cdef void *state0_ptr = data(state0)
    cdef void *state_last_ptr = data(state_last)
    cdef void *workspace_ptr = data(workspace)
    cdef int32_t *inputs_ptr = <int32_t *>data(inputs)
    cdef int32_t *targets_ptr = <int32_t *>data(targets)
    with nogil:
        charrnn_train_step(&s, &c, params_ptr, grads_ptr, state_a_ptr, state_b_ptr,
                           state_last_ptr, &loss, inputs_ptr, targets_ptr, state0_ptr,
                           mask_ptr, workspace_ptr, T, B)
    return loss


def optimizer_step(int dtype, tuple config, object params, object grads, object state_a,
                   object state_b):
    """Scale to the norm, clip, update: the optimizer step alone (optim.h)."""
    cdef optim_config c = unpack_config(config)
    if not DTYPE_F32 <= dtype <= DTYPE_F64:
        raise ValueError(f"dtype {dtype} is not {DTYPE_F32} (float32) or {DTYPE_F64} (float64)")
    cdef int typenum = FLOAT_TYPES[dtype]
    if not isinstance(params, cnp.ndarray) or cnp.PyArray_NDIM(params) != 1:
        raise ValueError("params must be a flat NumPy array")
    cdef Py_ssize_t n = cnp.PyArray_DIMS(params)[0]
    check_array(params, "params", typenum, True, 1, n)
    check_array(grads, "grads", typenum, True, 1, n)
    check_array(state_a, "state_a", typenum, True, 1, n)
    check_state_b(&c, state_b)
    if state_b is not None:
        check_array(state_b, "state_b", typenum, True, 1, n)
    check_disjoint((params, grads, state_a, state_b), (),
                   ("params", "grads", "state_a", "state_b"))
    cdef void *params_ptr = data(params)
    cdef void *grads_ptr = data(grads)
    cdef void *state_a_ptr = data(state_a)
    cdef void *state_b_ptr = data_or_null(state_b)
    with nogil:
        charrnn_optimizer_step(dtype, &c, params_ptr, grads_ptr, state_a_ptr, state_b_ptr, n)


cdef Py_ssize_t flat_length(object array, str name) except -1:
    """The length of a flat array, which C counts in an int."""
    if not isinstance(array, cnp.ndarray) or cnp.PyArray_NDIM(<cnp.ndarray>array) != 1:
        raise ValueError(f"{name} must be a flat NumPy array")
    cdef Py_ssize_t n = cnp.PyArray_DIMS(<cnp.ndarray>array)[0]
    if n > C_INT32_MAX:
        raise ValueError(f"{name} holds more than 2**31 - 1 values, more than C counts")
    return n


def sample(tuple spec, object out, object params, object state, object rng, object prime,
           object stop, double temperature, int top_k, double top_p):
    """Feed prime (int32), draw len(out) characters into out (int32); returns how
    many were drawn. state (S, L, H) and rng (4,) uint64 are updated."""
    cdef model_spec s = unpack_spec(spec)
    cdef int typenum = FLOAT_TYPES[s.dtype]
    cdef Py_ssize_t n_out = flat_length(out, "out"), n_prime = flat_length(prime, "prime")
    cdef Py_ssize_t n_stop = flat_length(stop, "stop")
    if n_prime < 1:
        raise ValueError("prime must hold at least one character index")
    check_array(out, "out", cnp.NPY_INT32, True, 1, n_out)
    check_array(params, "params", typenum, False, 1, num_params(&s))
    if s.cell == CELL_LSTM:
        check_array(state, "state", typenum, True, 3, 2, s.L, s.H)
    else:
        check_array(state, "state", typenum, True, 2, s.L, s.H)
    check_array(rng, "rng", cnp.NPY_UINT64, True, 1, 4)
    check_indices(check_array(prime, "prime", cnp.NPY_INT32, False, 1, n_prime), "prime", s.V)
    check_array(stop, "stop", cnp.NPY_INT32, False, 1, n_stop)
    check_disjoint((out, state, rng), (params, prime, stop),
                   ("out", "state", "rng", "params", "prime", "stop"))
    cdef int count, n = n_out, prime_length = n_prime, stop_length = n_stop
    cdef int32_t *out_ptr = <int32_t *>data(out)
    cdef void *state_ptr = data(state)
    cdef uint64_t *rng_ptr = <uint64_t *>data(rng)
    cdef void *params_ptr = data(params)
    cdef int32_t *prime_ptr = <int32_t *>data(prime)
    cdef int32_t *stop_ptr = <int32_t *>data(stop) if stop_length > 0 else NULL
    with nogil:
        count = charrnn_sample(&s, out_ptr, state_ptr, rng_ptr, params_ptr, prime_ptr,
                               prime_length, stop_ptr, stop_length, temperature, top_k, top_p,
                               n)
    if count < 0:
        raise MemoryError("not enough memory to sample")
    return count


def sample_batch(tuple spec, object out, object lengths, object params, object state,
                 object state_last, object rng, object prime, object stop, double temperature,
                 int top_k, double top_p):
    """Feed prime (int32) once, then draw up to n characters for each of the K
    streams that rng (K, 4) uint64 holds generators for (each advanced): into
    out (K, n) int32, with how many into lengths (K,) int32. state (S, L, H) is
    read; state_last (S, L, K, H) receives each stream's last state."""
    cdef model_spec s = unpack_spec(spec)
    cdef int typenum = FLOAT_TYPES[s.dtype]
    if not isinstance(rng, cnp.ndarray) or cnp.PyArray_NDIM(<cnp.ndarray>rng) != 2:
        raise ValueError("rng must be a (K, 4) NumPy array, a generator per stream")
    cdef Py_ssize_t K = cnp.PyArray_DIMS(<cnp.ndarray>rng)[0]
    if K < 1:
        raise ValueError("rng must hold at least one stream's generator")
    check_sizes(&s, 1, K)
    check_array(rng, "rng", cnp.NPY_UINT64, True, 2, K, 4)
    if not isinstance(out, cnp.ndarray) or cnp.PyArray_NDIM(<cnp.ndarray>out) != 2:
        raise ValueError("out must be a (K, n) NumPy array")
    cdef Py_ssize_t n_out = cnp.PyArray_DIMS(<cnp.ndarray>out)[1]
    if n_out > C_INT32_MAX:
        raise ValueError("out holds more than 2**31 - 1 characters per stream, more than C counts")
    check_array(out, "out", cnp.NPY_INT32, True, 2, K, n_out)
    check_array(lengths, "lengths", cnp.NPY_INT32, True, 1, K)
    cdef Py_ssize_t n_prime = flat_length(prime, "prime"), n_stop = flat_length(stop, "stop")
    if n_prime < 1:
        raise ValueError("prime must hold at least one character index")
    check_array(params, "params", typenum, False, 1, num_params(&s))
    if s.cell == CELL_LSTM:
        check_array(state, "state", typenum, False, 3, 2, s.L, s.H)
    else:
        check_array(state, "state", typenum, False, 2, s.L, s.H)
    check_states(&s, state_last, "state_last", True, K)
    check_indices(check_array(prime, "prime", cnp.NPY_INT32, False, 1, n_prime), "prime", s.V)
    check_array(stop, "stop", cnp.NPY_INT32, False, 1, n_stop)
    check_disjoint((out, lengths, state_last, rng), (params, state, prime, stop),
                   ("out", "lengths", "state_last", "rng", "params", "state", "prime", "stop"))
    cdef int status, n = n_out, num_streams = K
    cdef int prime_length = n_prime, stop_length = n_stop
    cdef int32_t *out_ptr = <int32_t *>data(out)
    cdef int32_t *lengths_ptr = <int32_t *>data(lengths)
    cdef void *state_ptr = data(state)
    cdef void *state_last_ptr = data(state_last)
    cdef uint64_t *rng_ptr = <uint64_t *>data(rng)
    cdef void *params_ptr = data(params)
    cdef int32_t *prime_ptr = <int32_t *>data(prime)
    cdef int32_t *stop_ptr = <int32_t *>data(stop) if stop_length > 0 else NULL
    with nogil:
        status = charrnn_sample_batch(&s, out_ptr, lengths_ptr, state_last_ptr, state_ptr,
                                      rng_ptr, params_ptr, prime_ptr, prime_length, stop_ptr,
                                      stop_length, temperature, top_k, top_p, n, num_streams)
    if status < 0:
        raise MemoryError(f"not enough memory to sample {K:,} streams at once")
