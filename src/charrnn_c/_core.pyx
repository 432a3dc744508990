# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin glue between NumPy buffers and the C core in csrc/.

This module owns every BLAS import: at import it fills the C core's table of
BLAS function pointers from scipy.linalg.cython_blas. Inputs are checked in
kernels.py; here they are only unpacked, and the GIL is released for the
whole of each call.
"""

import os

from libc.math cimport isfinite
from libc.stdint cimport int32_t, uint64_t
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv


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


cdef extern from "stack.h" nogil:
    int stack_forward_backward_f32(int cell, float *grads, float *state_last, double *loss,
                                   const float *params, const int32_t *inputs,
                                   const int32_t *targets, const float *state0,
                                   const float *dropout_mask, float *workspace,
                                   int V, int H, int L, int T, int B)
    int stack_forward_backward_f64(int cell, double *grads, double *state_last, double *loss,
                                   const double *params, const int32_t *inputs,
                                   const int32_t *targets, const double *state0,
                                   const double *dropout_mask, double *workspace,
                                   int V, int H, int L, int T, int B)
    int stack_target_log_probs_f32(int cell, double *log_probs, float *state_last,
                                   const float *params, const int32_t *inputs,
                                   const int32_t *targets, const float *state0,
                                   float *workspace, int V, int H, int L, int T, int B)
    int stack_target_log_probs_f64(int cell, double *log_probs, double *state_last,
                                   const double *params, const int32_t *inputs,
                                   const int32_t *targets, const double *state0,
                                   double *workspace, int V, int H, int L, int T, int B)
    size_t stack_workspace_size(int cell, int V, int H, int L, int T, int B, int with_grads,
                                int masked)


cdef extern from "optim.h" nogil:
    void clip_gradients_f32(float *grads, size_t n, float clip)
    void clip_gradients_f64(double *grads, size_t n, double clip)
    void adagrad_update_f32(float *params, float *mem, const float *grads, size_t n,
                            float learning_rate)
    void adagrad_update_f64(double *params, double *mem, const double *grads, size_t n,
                            double learning_rate)
    void clip_and_adagrad_f32(float *params, float *mem, float *grads, size_t n,
                              float learning_rate, float clip)
    void clip_and_adagrad_f64(double *params, double *mem, double *grads, size_t n,
                              double learning_rate, double clip)


cdef extern from "optim.h" nogil:
    void adam_update_f32(float *params, float *m, float *v, const float *grads, size_t n,
                         float learning_rate, float beta1, float beta2, float eps, long step)
    void adam_update_f64(double *params, double *m, double *v, const double *grads, size_t n,
                         double learning_rate, double beta1, double beta2, double eps, long step)
    void rmsprop_update_f32(float *params, float *v, const float *grads, size_t n,
                            float learning_rate, float alpha, float eps)
    void rmsprop_update_f64(double *params, double *v, const double *grads, size_t n,
                            double learning_rate, double alpha, double eps)


cdef extern from "sample.h" nogil:
    int stack_sample_f32(int cell, int32_t *out, float *state, uint64_t *rng,
                         const float *params, const int32_t *prime, int prime_length,
                         const int32_t *stop, int stop_length, double temperature, int top_k,
                         double top_p, int n, int V, int H, int L)
    int stack_sample_f64(int cell, int32_t *out, double *state, uint64_t *rng,
                         const double *params, const int32_t *prime, int prime_length,
                         const int32_t *stop, int stop_length, double temperature, int top_k,
                         double top_p, int n, int V, int H, int L)


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


ctypedef fused real:
    float
    double


# The carried state arrives as (S * L, B, H): S = 2 for the LSTM (h, then c),
# else 1; num_layers says L. cell is 0 (rnn), 1 (gru) or 2 (lstm), as layout.h.
cdef int forward_backward_nogil(int cell, real *grads, real[:, :, ::1] state_last,
                                double *loss, const real[::1] params,
                                const int32_t[:, ::1] inputs, const int32_t[:, ::1] targets,
                                const real[:, :, ::1] state0, const real *mask,
                                real *workspace, int vocab_size,
                                int num_layers) noexcept nogil:
    cdef int B = state0.shape[1], H = state0.shape[2], T = inputs.shape[0]
    if real is float:
        return stack_forward_backward_f32(cell, grads, &state_last[0, 0, 0], loss, &params[0],
                                          &inputs[0, 0], &targets[0, 0], &state0[0, 0, 0],
                                          mask, workspace, vocab_size, H, num_layers, T, B)
    else:
        return stack_forward_backward_f64(cell, grads, &state_last[0, 0, 0], loss, &params[0],
                                          &inputs[0, 0], &targets[0, 0], &state0[0, 0, 0],
                                          mask, workspace, vocab_size, H, num_layers, T, B)


def workspace_size(int cell, int vocab_size, int hidden_size, int num_layers, int seq_length,
                   int batch_size, bint with_grads, bint masked):
    """Values of the workspace a call with these sizes uses (stack_workspace_size)."""
    return stack_workspace_size(cell, vocab_size, hidden_size, num_layers, seq_length,
                                batch_size, with_grads, masked)


cdef real *workspace_pointer(real[::1] workspace) noexcept:
    return NULL if workspace is None else &workspace[0]


cdef void clip_nogil(real[::1] grads, double clip) noexcept nogil:
    if real is float:
        clip_gradients_f32(&grads[0], grads.shape[0], <float>clip)
    else:
        clip_gradients_f64(&grads[0], grads.shape[0], clip)


cdef void adagrad_nogil(real[::1] params, real[::1] mem, real[::1] grads,
                        double learning_rate) noexcept nogil:
    if real is float:
        adagrad_update_f32(&params[0], &mem[0], &grads[0], params.shape[0],
                           <float>learning_rate)
    else:
        adagrad_update_f64(&params[0], &mem[0], &grads[0], params.shape[0],
                           learning_rate)


def first_out_of_range(const int32_t[:, ::1] indices, int32_t vocab_size):
    """The flat position of the first index outside [0, vocab_size), or -1."""
    cdef Py_ssize_t i, n = indices.shape[0] * indices.shape[1]
    cdef const int32_t *flat = &indices[0, 0]
    for i in range(n):
        if flat[i] < 0 or flat[i] >= vocab_size:
            return i
    return -1


def forward_backward(const real[::1] params, real[::1] grads, const int32_t[:, ::1] inputs,
                     const int32_t[:, ::1] targets, const real[:, :, ::1] state0,
                     real[:, :, ::1] state_last, const real[::1] mask, real[::1] workspace,
                     int vocab_size, int num_layers, int cell):
    """Loss, and gradients added into grads unless grads is None; mask is the
    flat (L - 1, T, B, H) dropout mask or None; workspace (workspace_size
    values) or None. Returns the loss."""
    cdef double loss = 0
    cdef int status
    cdef real *grads_ptr = NULL if grads is None else &grads[0]
    cdef const real *mask_ptr = NULL if mask is None else &mask[0]
    cdef real *workspace_ptr = workspace_pointer(workspace)
    with nogil:
        status = forward_backward_nogil(cell, grads_ptr, state_last, &loss, params, inputs,
                                        targets, state0, mask_ptr, workspace_ptr, vocab_size,
                                        num_layers)
    if status != 0:
        raise MemoryError("not enough memory for the RNN workspace")
    return loss


def target_log_probs(double[:, ::1] log_probs, const real[::1] params,
                     const int32_t[:, ::1] inputs, const int32_t[:, ::1] targets,
                     const real[:, :, ::1] state0, real[:, :, ::1] state_last,
                     real[::1] workspace, int vocab_size, int num_layers, int cell):
    """Forward only: log p(target) at every position into log_probs (T, B)."""
    cdef int status
    cdef int L = num_layers, B = state0.shape[1], H = state0.shape[2], T = inputs.shape[0]
    cdef real *workspace_ptr = workspace_pointer(workspace)
    with nogil:
        if real is float:
            status = stack_target_log_probs_f32(cell, &log_probs[0, 0], &state_last[0, 0, 0],
                                                &params[0], &inputs[0, 0], &targets[0, 0],
                                                &state0[0, 0, 0], workspace_ptr, vocab_size,
                                                H, L, T, B)
        else:
            status = stack_target_log_probs_f64(cell, &log_probs[0, 0], &state_last[0, 0, 0],
                                                &params[0], &inputs[0, 0], &targets[0, 0],
                                                &state0[0, 0, 0], workspace_ptr, vocab_size,
                                                H, L, T, B)
    if status != 0:
        raise MemoryError("not enough memory for the RNN workspace")


def clip_gradients(real[::1] grads, double clip):
    with nogil:
        clip_nogil(grads, clip)


def adagrad_update(real[::1] params, real[::1] grads, real[::1] mem, double learning_rate):
    with nogil:
        adagrad_nogil(params, mem, grads, learning_rate)


def train_step(real[::1] params, real[::1] grads, real[::1] mem,
               const int32_t[:, ::1] inputs, const int32_t[:, ::1] targets,
               const real[:, :, ::1] state0, real[:, :, ::1] state_last,
               const real[::1] mask, real[::1] workspace, int vocab_size, int num_layers,
               int cell, double learning_rate, double clip):
    """Zero grads, forward, BPTT, clip, Adagrad: one call, no GIL. Returns the loss.

    A loss that is not finite skips clip and update (reference.train_step)."""
    cdef double loss = 0
    cdef int status
    cdef const real *mask_ptr = NULL if mask is None else &mask[0]
    cdef real *workspace_ptr = workspace_pointer(workspace)
    with nogil:
        memset(&grads[0], 0, grads.shape[0] * sizeof(real))
        status = forward_backward_nogil(cell, &grads[0], state_last, &loss, params, inputs,
                                        targets, state0, mask_ptr, workspace_ptr, vocab_size,
                                        num_layers)
        if status == 0 and isfinite(loss):
            if real is float:
                clip_and_adagrad_f32(&params[0], &mem[0], &grads[0], params.shape[0],
                                     <float>learning_rate, <float>clip)
            else:
                clip_and_adagrad_f64(&params[0], &mem[0], &grads[0], params.shape[0],
                                     learning_rate, clip)
    if status != 0:
        raise MemoryError("not enough memory for the RNN workspace")
    return loss


def adam_update(real[::1] params, real[::1] grads, real[::1] m, real[::1] v,
                double learning_rate, double beta1, double beta2, double eps, long step):
    with nogil:
        if real is float:
            adam_update_f32(&params[0], &m[0], &v[0], &grads[0], params.shape[0],
                            <float>learning_rate, <float>beta1, <float>beta2, <float>eps, step)
        else:
            adam_update_f64(&params[0], &m[0], &v[0], &grads[0], params.shape[0],
                            learning_rate, beta1, beta2, eps, step)


def rmsprop_update(real[::1] params, real[::1] grads, real[::1] v,
                   double learning_rate, double alpha, double eps):
    with nogil:
        if real is float:
            rmsprop_update_f32(&params[0], &v[0], &grads[0], params.shape[0],
                               <float>learning_rate, <float>alpha, <float>eps)
        else:
            rmsprop_update_f64(&params[0], &v[0], &grads[0], params.shape[0],
                               learning_rate, alpha, eps)


def sample(int32_t[::1] out, const real[::1] params, real[:, ::1] state, uint64_t[::1] rng,
           const int32_t[::1] prime, const int32_t[::1] stop, double temperature,
           int top_k, double top_p, int vocab_size, int num_layers, int cell):
    """Feed prime, draw len(out) characters into out; returns how many were drawn.
    state is (S * L, H), updated."""
    cdef int count
    cdef int L = num_layers, H = state.shape[1]
    cdef const int32_t *stop_ptr = &stop[0] if stop.shape[0] > 0 else NULL
    with nogil:
        if real is float:
            count = stack_sample_f32(cell, &out[0], &state[0, 0], &rng[0], &params[0],
                                     &prime[0], prime.shape[0], stop_ptr, stop.shape[0],
                                     temperature, top_k, top_p, out.shape[0], vocab_size, H, L)
        else:
            count = stack_sample_f64(cell, &out[0], &state[0, 0], &rng[0], &params[0],
                                     &prime[0], prime.shape[0], stop_ptr, stop.shape[0],
                                     temperature, top_k, top_p, out.shape[0], vocab_size, H, L)
    if count < 0:
        raise MemoryError("not enough memory to sample")
    return count
