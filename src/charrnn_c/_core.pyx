# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: freethreading_compatible=True
"""Thin glue between NumPy buffers and the C core's entry points (csrc/charrnn.h).

This module owns every BLAS import: at import it fills the C core's table of
BLAS function pointers from scipy.linalg.cython_blas. Inputs are checked in
kernels.py; here they are only unpacked into pointers (the dtype is the C
side's to dispatch on, once), and the GIL is released for the whole of each
call. The C core keeps no Python objects and no global state but the BLAS
table, which is filled once at import: it is safe without the GIL.
"""

import os

cimport numpy as cnp
from libc.stdint cimport int32_t, uint64_t
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv

cnp.import_array()


cdef extern from "blas.h":
    ctypedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                              float *, int *, float *, float *, int *) noexcept nogil
    ctypedef void (*dgemm_fn)(char *, char *, int *, int *, int *, double *, double *, int *,
                              double *, int *, double *, double *, int *) noexcept nogil
    ctypedef void (*sgemv_fn)(char *, int *, int *, float *, float *, int *, float *, int *,
                              float *, float *, int *) noexcept nogil
    ctypedef void (*dgemv_fn)(char *, int *, int *, double *, double *, int *, double *, int *,
                              double *, double *, int *) noexcept nogil
    ctypedef struct charrnn_blas_table:
        sgemm_fn sgemm
        dgemm_fn dgemm
        sgemv_fn sgemv
        dgemv_fn dgemv
        double small_gemm_volume
        int small_gemm_area
        int small_gemm_grain
        int (*num_threads)() noexcept nogil
    charrnn_blas_table charrnn_blas


cdef extern from "blas_probe.h":
    void *blas_openblas_function(const void *blas_function, const char *name)


cdef extern from "spec.h":
    ctypedef struct model_spec:
        int cell, dtype, V, H, L


cdef extern from "optim.h":
    ctypedef struct optim_config:
        int kind
        double learning_rate, beta1, beta2, alpha, eps
        long step
        double clip, max_norm


cdef extern from "charrnn.h" nogil:
    size_t charrnn_workspace_size(const model_spec *spec, int T, int B, int with_grads,
                                  int masked)
    void charrnn_forward_backward(const model_spec *spec, void *grads, void *state_last,
                                  double *loss, const void *params, const int32_t *inputs,
                                  const int32_t *targets, const void *state0, const void *mask,
                                  void *workspace, int T, int B)
    void charrnn_target_log_probs(const model_spec *spec, double *log_probs, void *state_last,
                                  const void *params, const int32_t *inputs,
                                  const int32_t *targets, const void *state0, void *workspace,
                                  int T, int B)
    void charrnn_train_step(const model_spec *spec, const optim_config *config, void *params,
                            void *grads, void *state_a, void *state_b, void *state_last,
                            double *loss, const int32_t *inputs, const int32_t *targets,
                            const void *state0, const void *mask, void *workspace, int T, int B)
    void charrnn_optimizer_step(int dtype, const optim_config *config, void *params,
                                void *grads, void *state_a, void *state_b, size_t n)
    int charrnn_sample(const model_spec *spec, int32_t *out, void *state, uint64_t *rng,
                       const void *params, const int32_t *prime, int prime_length,
                       const int32_t *stop, int stop_length, double temperature, int top_k,
                       double top_p, int n)


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

# The OpenBLAS cores with small-matrix sgemm and dgemm kernels, and the
# limits their permit functions set (kernel/x86_64/*gemm_small_kernel_permit_
# skylakex.c, OpenBLAS 0.3.30; checked here by timing, see blas.h).
SMALL_GEMM_CORES = {"skylakex", "cooperlake", "sapphirerapids"}


def set_small_gemm_blocks(bint enabled):
    """Cut few-row matrix products into blocks for OpenBLAS's small-matrix
    kernels (blas.h), or stop. Only the rounding of the results changes.

    Set once at import; this switch is for tests and benchmarks, and must not
    be flipped while a kernel runs in another thread."""
    charrnn_blas.small_gemm_volume = 1e6 if enabled else 0
    charrnn_blas.small_gemm_area = 1200
    charrnn_blas.small_gemm_grain = 16


def small_gemm_blocks():
    """Whether few-row products are cut for the small-matrix kernels."""
    return charrnn_blas.small_gemm_volume > 0


# CHARRNN_SMALL_GEMM=0 turns the blocks off, to measure what they buy.
set_small_gemm_blocks(BLAS_CORENAME is not None
                      and BLAS_CORENAME.lower() in SMALL_GEMM_CORES
                      and os.environ.get("CHARRNN_SMALL_GEMM", "1") != "0")


cdef inline void *data(cnp.ndarray array) noexcept:
    """The buffer of an array that kernels.py has checked: dtype, shape, contiguity."""
    return cnp.PyArray_DATA(array)


cdef inline void *data_or_null(object array) noexcept:
    return NULL if array is None else cnp.PyArray_DATA(<cnp.ndarray>array)


cdef model_spec unpack_spec(tuple core) except *:
    """ModelSpec.core, (cell, dtype, V, H, L), as csrc/spec.h's struct."""
    cdef model_spec spec
    spec.cell, spec.dtype, spec.V, spec.H, spec.L = core
    return spec


cdef optim_config unpack_config(tuple config) except *:
    """Optimizer.core_config(...), as csrc/optim.h's struct."""
    cdef optim_config c
    (c.kind, c.learning_rate, c.beta1, c.beta2, c.alpha, c.eps, c.step, c.clip,
     c.max_norm) = config
    return c


def workspace_size(tuple spec, int seq_length, int batch_size, bint with_grads, bint masked):
    """Values of the workspace a call with these sizes uses (stack_workspace_size)."""
    cdef model_spec s = unpack_spec(spec)
    return charrnn_workspace_size(&s, seq_length, batch_size, with_grads, masked)


def first_out_of_range(const int32_t[:, ::1] indices, int32_t vocab_size):
    """The flat position of the first index outside [0, vocab_size), or -1."""
    cdef Py_ssize_t i, n = indices.shape[0] * indices.shape[1]
    cdef const int32_t *flat = &indices[0, 0]
    for i in range(n):
        if flat[i] < 0 or flat[i] >= vocab_size:
            return i
    return -1


# inputs and targets are (T, B) int32; states (S, L, B, H); mask (L - 1, T, B, H)
# or None; the workspace holds workspace_size values. grads None: forward only.

def forward_backward(tuple spec, cnp.ndarray params, object grads, cnp.ndarray inputs,
                     cnp.ndarray targets, cnp.ndarray state0, cnp.ndarray state_last,
                     object mask, cnp.ndarray workspace):
    """The loss; its gradient added into grads unless grads is None."""
    cdef model_spec s = unpack_spec(spec)
    cdef double loss = 0
    cdef int T = inputs.shape[0], B = inputs.shape[1]
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


def target_log_probs(tuple spec, cnp.ndarray log_probs, cnp.ndarray params,
                     cnp.ndarray inputs, cnp.ndarray targets, cnp.ndarray state0,
                     cnp.ndarray state_last, cnp.ndarray workspace):
    """Forward only: log p(target) at every position into log_probs (T, B) float64."""
    cdef model_spec s = unpack_spec(spec)
    cdef int T = inputs.shape[0], B = inputs.shape[1]
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


def train_step(tuple spec, tuple config, cnp.ndarray params, cnp.ndarray grads,
               cnp.ndarray state_a, object state_b, cnp.ndarray inputs, cnp.ndarray targets,
               cnp.ndarray state0, cnp.ndarray state_last, object mask,
               cnp.ndarray workspace):
    """Zero grads, forward, BPTT, clip, update: one call, no GIL. Returns the loss.

    A loss that is not finite updates nothing (train_step.h)."""
    cdef model_spec s = unpack_spec(spec)
    cdef optim_config c = unpack_config(config)
    cdef double loss = 0
    cdef int T = inputs.shape[0], B = inputs.shape[1]
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


def optimizer_step(int dtype, tuple config, cnp.ndarray params, cnp.ndarray grads,
                   cnp.ndarray state_a, object state_b):
    """Scale to the norm, clip, update: the optimizer step alone (optim.h)."""
    cdef optim_config c = unpack_config(config)
    cdef size_t n = params.shape[0]
    cdef void *params_ptr = data(params)
    cdef void *grads_ptr = data(grads)
    cdef void *state_a_ptr = data(state_a)
    cdef void *state_b_ptr = data_or_null(state_b)
    with nogil:
        charrnn_optimizer_step(dtype, &c, params_ptr, grads_ptr, state_a_ptr, state_b_ptr, n)


def sample(tuple spec, cnp.ndarray out, cnp.ndarray params, cnp.ndarray state,
           cnp.ndarray rng, cnp.ndarray prime, cnp.ndarray stop, double temperature,
           int top_k, double top_p):
    """Feed prime (int32), draw len(out) characters into out (int32); returns how
    many were drawn. state (S, L, H) and rng (4,) uint64 are updated."""
    cdef model_spec s = unpack_spec(spec)
    cdef int count, n = out.shape[0], prime_length = prime.shape[0]
    cdef int stop_length = stop.shape[0]
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
