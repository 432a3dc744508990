# The C core's headers (csrc/*.h), as the glue (_core.pyx) sees them. Cython
# reads this file before _core.pyx, so every name here is the .pyx's too.
# The headers own the numbers: the cells, dtypes and optimizers (cpdef enum,
# so Python reads them as _core.CELL_LSTM, ...) and the step's constants.

from libc.stdint cimport int32_t, uint64_t


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
    int blas_small_gemm_plan(int trans_b, int M, int N, int K, int *nb, int *kb) noexcept nogil


cdef extern from "blas_probe.h":
    void *blas_openblas_function(const void *blas_function, const char *name)


cdef extern from "spec.h":
    cpdef enum:
        DTYPE_F32
        DTYPE_F64
    ctypedef struct model_spec:
        int cell, dtype, V, H, L


cdef extern from "layout.h":
    cpdef enum:
        CELL_RNN
        CELL_GRU
        CELL_LSTM
    int cell_gates(int cell)
    size_t gated_num_params(int G, int V, int H, int L)


cdef extern from "optim.h":
    cpdef enum:
        OPTIM_ADAGRAD
        OPTIM_ADAM
        OPTIM_RMSPROP
    # Macros: Adagrad's eps and the norm clip's (Adam's and RMSprop's are
    # the optimizers' hyperparameters, passed in optim_config).
    const double OPTIM_ADAGRAD_EPS
    const double OPTIM_NORM_EPS
    ctypedef struct optim_config:
        int kind
        double learning_rate, beta1, beta2, alpha, eps
        long step
        double clip, max_norm


cdef extern from "charrnn.h" nogil:
    void charrnn_set_flush_subnormals(int flush)
    int charrnn_flush_subnormals()
    unsigned long charrnn_fp_mode()
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
    int charrnn_sample_batch(const model_spec *spec, int32_t *out, int32_t *lengths,
                             void *state_last, const void *state, uint64_t *rng,
                             const void *params, const int32_t *prime, int prime_length,
                             const int32_t *stop, int stop_length, double temperature,
                             int top_k, double top_p, int n, int K)
