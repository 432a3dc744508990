/* The entry points: the dtype is looked at here and nowhere else, and each
 * call that computes runs with subnormals flushed (fpmode.h). */
#include "charrnn.h"
#include "fpmode.h"
#include "sample.h"
#include "stack.h"
#include "train_step.h"

/* Set once at import (and by tests); read by every call. */
static int flush_subnormals = 1;

void charrnn_set_flush_subnormals(int flush) { flush_subnormals = flush; }
int charrnn_flush_subnormals(void) { return flush_subnormals && FPMODE_SUPPORTED; }
unsigned long charrnn_fp_mode(void) { return fp_mode_get(); }

size_t charrnn_workspace_size(const model_spec *spec, int T, int B, int with_grads, int masked)
{
    return stack_workspace_size(spec->cell, spec->V, spec->H, spec->L, T, B, with_grads,
                                masked);
}

void charrnn_forward_backward(const model_spec *s, void *grads, void *state_last,
                              double *loss, const void *params, const int32_t *inputs,
                              const int32_t *targets, const void *state0, const void *mask,
                              void *workspace, int T, int B)
{
    unsigned long caller = fp_mode_enter(flush_subnormals);
    if (s->dtype == DTYPE_F32)
        stack_forward_backward_f32(s->cell, grads, state_last, loss, params, inputs, targets,
                                   state0, mask, workspace, s->V, s->H, s->L, T, B);
    else
        stack_forward_backward_f64(s->cell, grads, state_last, loss, params, inputs, targets,
                                   state0, mask, workspace, s->V, s->H, s->L, T, B);
    fp_mode_exit(caller);
}

void charrnn_target_log_probs(const model_spec *s, double *log_probs, void *state_last,
                              const void *params, const int32_t *inputs,
                              const int32_t *targets, const void *state0, void *workspace,
                              int T, int B)
{
    unsigned long caller = fp_mode_enter(flush_subnormals);
    if (s->dtype == DTYPE_F32)
        stack_target_log_probs_f32(s->cell, log_probs, state_last, params, inputs, targets,
                                   state0, workspace, s->V, s->H, s->L, T, B);
    else
        stack_target_log_probs_f64(s->cell, log_probs, state_last, params, inputs, targets,
                                   state0, workspace, s->V, s->H, s->L, T, B);
    fp_mode_exit(caller);
}

void charrnn_train_step(const model_spec *s, const optim_config *config, void *params,
                        void *grads, void *state_a, void *state_b, void *state_last,
                        double *loss, const int32_t *inputs, const int32_t *targets,
                        const void *state0, const void *mask, void *workspace, int T, int B)
{
    unsigned long caller = fp_mode_enter(flush_subnormals);
    if (s->dtype == DTYPE_F32)
        train_step_f32(s, config, params, grads, state_a, state_b, state_last, loss, inputs,
                       targets, state0, mask, workspace, T, B);
    else
        train_step_f64(s, config, params, grads, state_a, state_b, state_last, loss, inputs,
                       targets, state0, mask, workspace, T, B);
    fp_mode_exit(caller);
}

void charrnn_optimizer_step(int dtype, const optim_config *config, void *params, void *grads,
                            void *state_a, void *state_b, size_t n)
{
    unsigned long caller = fp_mode_enter(flush_subnormals);
    if (dtype == DTYPE_F32)
        optimizer_step_f32(config, params, grads, state_a, state_b, n);
    else
        optimizer_step_f64(config, params, grads, state_a, state_b, n);
    fp_mode_exit(caller);
}

int charrnn_sample_batch(const model_spec *s, int32_t *out, int32_t *lengths,
                         void *state_last, const void *state, uint64_t *rng,
                         const void *params, const int32_t *prime, int prime_length,
                         const int32_t *stop, int stop_length, double temperature, int top_k,
                         double top_p, int n, int K)
{
    unsigned long caller = fp_mode_enter(flush_subnormals);
    int status;
    if (s->dtype == DTYPE_F32)
        status = stack_sample_f32(s->cell, out, lengths, state_last, state, rng, params, prime,
                                  prime_length, stop, stop_length, temperature, top_k, top_p,
                                  n, K, s->V, s->H, s->L);
    else
        status = stack_sample_f64(s->cell, out, lengths, state_last, state, rng, params, prime,
                                  prime_length, stop, stop_length, temperature, top_k, top_p,
                                  n, K, s->V, s->H, s->L);
    fp_mode_exit(caller);
    return status;
}

/* One stream: the batch of one, its state advanced in place. */
int charrnn_sample(const model_spec *s, int32_t *out, void *state, uint64_t *rng,
                   const void *params, const int32_t *prime, int prime_length,
                   const int32_t *stop, int stop_length, double temperature, int top_k,
                   double top_p, int n)
{
    int32_t count = 0;
    int status = charrnn_sample_batch(s, out, &count, state, state, rng, params, prime,
                                      prime_length, stop, stop_length, temperature, top_k,
                                      top_p, n, 1);
    return status < 0 ? -1 : count;
}
