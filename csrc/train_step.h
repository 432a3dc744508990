/* One training step: fresh gradients, forward and BPTT over the stack, then
 * the optimizer step (optim.h), all in one call. A loss that is not finite
 * (NaN, inf) updates nothing: params and the optimizer state stay as they
 * were and grads holds the raw gradient, for the caller to judge. */
#ifndef CHARRNN_TRAIN_STEP_H
#define CHARRNN_TRAIN_STEP_H

#include <stdint.h>
#include "optim.h"
#include "spec.h"

void train_step_f32(const model_spec *spec, const optim_config *config,
                    float *params,             /* (P) */
                    float *grads,              /* (P) out: the gradient as applied */
                    float *state_a,            /* (P) the optimizer's first buffer */
                    float *state_b,            /* (P) its second (Adam's v) or NULL */
                    float *state_last,         /* (S, L, B, H) out */
                    double *loss,              /* scalar out */
                    const int32_t *inputs,     /* (T, B) */
                    const int32_t *targets,    /* (T, B) */
                    const float *state0,       /* (S, L, B, H) */
                    const float *dropout_mask, /* (L - 1, T, B, H) or NULL */
                    float *workspace,          /* (stack_workspace_size) */
                    int T, int B);
void train_step_f64(const model_spec *spec, const optim_config *config, double *params,
                    double *grads, double *state_a, double *state_b, double *state_last,
                    double *loss, const int32_t *inputs, const int32_t *targets,
                    const double *state0, const double *dropout_mask, double *workspace,
                    int T, int B);

#endif
