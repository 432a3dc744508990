/* The C core's entry points: the only functions the Cython glue calls.
 *
 * Each takes the model's spec (spec.h) and dispatches on its dtype here,
 * once; every buffer is of that dtype (float or double), laid out as the
 * functions it forwards to say (stack.h, train_step.h, optim.h, sample.h).
 * Sizes: T time steps, B streams; P = the spec's parameter count. Buffers are
 * the caller's, the workspace included (stack_workspace_size values). */
#ifndef CHARRNN_CHARRNN_H
#define CHARRNN_CHARRNN_H

#include <stddef.h>
#include <stdint.h>
#include "optim.h"
#include "spec.h"

/* Whether the calls below flush subnormals to zero (fpmode.h): on by
 * default; 0 computes with IEEE subnormals, as the NumPy reference does. The
 * getter says 0 where the processor has no such mode. charrnn_fp_mode is
 * the calling thread's MXCSR or FPCR (0 elsewhere), for tests. */
void charrnn_set_flush_subnormals(int flush);
int charrnn_flush_subnormals(void);
unsigned long charrnn_fp_mode(void);

size_t charrnn_workspace_size(const model_spec *spec, int T, int B, int with_grads, int masked);

/* Loss (summed over time, averaged over streams) and, when grads is not
 * NULL, its gradient added into grads (stack_forward_backward). */
void charrnn_forward_backward(const model_spec *spec, void *grads, void *state_last,
                              double *loss, const void *params, const int32_t *inputs,
                              const int32_t *targets, const void *state0, const void *mask,
                              void *workspace, int T, int B);

/* log p(target) at every position (stack_target_log_probs). */
void charrnn_target_log_probs(const model_spec *spec, double *log_probs, void *state_last,
                              const void *params, const int32_t *inputs,
                              const int32_t *targets, const void *state0, void *workspace,
                              int T, int B);

/* A whole training step (train_step.h). */
void charrnn_train_step(const model_spec *spec, const optim_config *config, void *params,
                        void *grads, void *state_a, void *state_b, void *state_last,
                        double *loss, const int32_t *inputs, const int32_t *targets,
                        const void *state0, const void *mask, void *workspace, int T, int B);

/* The optimizer step alone, over n values (optim.h). */
void charrnn_optimizer_step(int dtype, const optim_config *config, void *params, void *grads,
                            void *state_a, void *state_b, size_t n);

/* Feed prime, draw up to n characters (sample.h, one stream); state (S, L, H)
 * advances in place. Returns how many, or -1 when memory ran out. */
int charrnn_sample(const model_spec *spec, int32_t *out, void *state, uint64_t *rng,
                   const void *params, const int32_t *prime, int prime_length,
                   const int32_t *stop, int stop_length, double temperature, int top_k,
                   double top_p, int n);

/* Feed prime once, then draw up to n characters for each of K streams at
 * once (sample.h): out (K, n), lengths (K), state_last (S, L, K, H) or NULL,
 * state (S, L, H), rng (K, 4). Returns 0, or -1 when memory ran out. */
int charrnn_sample_batch(const model_spec *spec, int32_t *out, int32_t *lengths,
                         void *state_last, const void *state, uint64_t *rng,
                         const void *params, const int32_t *prime, int prime_length,
                         const int32_t *stop, int stop_length, double temperature, int top_k,
                         double top_p, int n, int K);

#endif
