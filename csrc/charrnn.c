/* The entry points: the dtype is looked at here and nowhere else. */
#include "charrnn.h"
#include "sample.h"
#include "stack.h"
#include "train_step.h"

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
    if (s->dtype == DTYPE_F32)
        stack_forward_backward_f32(s->cell, grads, state_last, loss, params, inputs, targets,
                                   state0, mask, workspace, s->V, s->H, s->L, T, B);
    else
        stack_forward_backward_f64(s->cell, grads, state_last, loss, params, inputs, targets,
                                   state0, mask, workspace, s->V, s->H, s->L, T, B);
}

void charrnn_target_log_probs(const model_spec *s, double *log_probs, void *state_last,
                              const void *params, const int32_t *inputs,
                              const int32_t *targets, const void *state0, void *workspace,
                              int T, int B)
{
    if (s->dtype == DTYPE_F32)
        stack_target_log_probs_f32(s->cell, log_probs, state_last, params, inputs, targets,
                                   state0, workspace, s->V, s->H, s->L, T, B);
    else
        stack_target_log_probs_f64(s->cell, log_probs, state_last, params, inputs, targets,
                                   state0, workspace, s->V, s->H, s->L, T, B);
}

void charrnn_train_step(const model_spec *s, const optim_config *config, void *params,
                        void *grads, void *state_a, void *state_b, void *state_last,
                        double *loss, const int32_t *inputs, const int32_t *targets,
                        const void *state0, const void *mask, void *workspace, int T, int B)
{
    if (s->dtype == DTYPE_F32)
        train_step_f32(s, config, params, grads, state_a, state_b, state_last, loss, inputs,
                       targets, state0, mask, workspace, T, B);
    else
        train_step_f64(s, config, params, grads, state_a, state_b, state_last, loss, inputs,
                       targets, state0, mask, workspace, T, B);
}

void charrnn_optimizer_step(int dtype, const optim_config *config, void *params, void *grads,
                            void *state_a, void *state_b, size_t n)
{
    if (dtype == DTYPE_F32)
        optimizer_step_f32(config, params, grads, state_a, state_b, n);
    else
        optimizer_step_f64(config, params, grads, state_a, state_b, n);
}

int charrnn_sample(const model_spec *s, int32_t *out, void *state, uint64_t *rng,
                   const void *params, const int32_t *prime, int prime_length,
                   const int32_t *stop, int stop_length, double temperature, int top_k,
                   double top_p, int n)
{
    if (s->dtype == DTYPE_F32)
        return stack_sample_f32(s->cell, out, state, rng, params, prime, prime_length, stop,
                                stop_length, temperature, top_k, top_p, n, s->V, s->H, s->L);
    return stack_sample_f64(s->cell, out, state, rng, params, prime, prime_length, stop,
                            stop_length, temperature, top_k, top_p, n, s->V, s->H, s->L);
}
