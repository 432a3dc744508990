/* A stack of recurrent layers (tanh RNN, GRU or LSTM) with a softmax
 * output: forward and BPTT, and one step at a time for sampling.
 *
 *   layer l's input: one_hot(x_t) for l = 0, else layer l - 1's h_t times
 *                    its dropout mask (when one is given)
 *   loss = (1/B) sum_{t,b} -log softmax(W_ho h_t + b_o)[target]
 *
 * The cells' equations are in rnn_impl.h, gru_impl.h and lstm_impl.h.
 * Sizes: V vocabulary, H hidden units, L layers, T time steps, B streams;
 * cell is CELL_RNN, CELL_GRU or CELL_LSTM (layout.h). The carried state is
 * (S, L, B, H) with S = 1, or S = 2 for the LSTM: [0] = h, [1] = c.
 * Character indices are time-major (T, B) and must lie in [0, V): the caller
 * checks them.
 *
 * The activations saved for backward live in one workspace of
 * stack_workspace_size values of the dtype, which the caller owns: kept from
 * call to call, it saves the allocation and the page faults of tens of
 * megabytes per step (charrnn_c.kernels keeps one per thread). */
#ifndef CHARRNN_STACK_H
#define CHARRNN_STACK_H

#include <stddef.h>
#include <stdint.h>
#include "layout.h"

/* States carried per layer and stream: 2 for the LSTM (h and c), else 1. */
static inline int cell_states(int cell)
{
    return cell == CELL_LSTM ? 2 : 1;
}

/* grads may be NULL: forward and loss only (evaluation). Otherwise the
 * gradient of the loss is added (+=) into grads, laid out like params.
 * dropout_mask may be NULL (no dropout); otherwise it multiplies each
 * layer's output on its way to the layer above: its entries are 0 or
 * 1 / (1 - p), drawn by the caller. */
void stack_forward_backward_f32(int cell,
                                float *grads,              /* (P) or NULL */
                                float *state_last,         /* (S, L, B, H) */
                                double *loss,              /* scalar */
                                const float *params,       /* (P) */
                                const int32_t *inputs,     /* (T, B) */
                                const int32_t *targets,    /* (T, B) */
                                const float *state0,       /* (S, L, B, H) */
                                const float *dropout_mask, /* (L - 1, T, B, H) or NULL */
                                float *workspace,          /* (stack_workspace_size) */
                                int V, int H, int L, int T, int B);
void stack_forward_backward_f64(int cell, double *grads, double *state_last, double *loss,
                                const double *params, const int32_t *inputs,
                                const int32_t *targets, const double *state0,
                                const double *dropout_mask, double *workspace,
                                int V, int H, int L, int T, int B);

/* Forward only: log p(target) for every position, for scoring text. */
void stack_target_log_probs_f32(int cell,
                                double *log_probs,      /* (T, B) */
                                float *state_last,      /* (S, L, B, H) */
                                const float *params,    /* (P) */
                                const int32_t *inputs,  /* (T, B) */
                                const int32_t *targets, /* (T, B) */
                                const float *state0,    /* (S, L, B, H) */
                                float *workspace,       /* (stack_workspace_size) */
                                int V, int H, int L, int T, int B);
void stack_target_log_probs_f64(int cell, double *log_probs, double *state_last,
                                const double *params, const int32_t *inputs,
                                const int32_t *targets, const double *state0,
                                double *workspace, int V, int H, int L, int T, int B);

/* Values of the workspace: with_grads = 1 for stack_forward_backward with
 * grads, masked = 1 with a dropout mask; (0, 0) for stack_target_log_probs. */
size_t stack_workspace_size(int cell, int V, int H, int L, int T, int B, int with_grads,
                            int masked);

/* One character through the stack for each of B streams: state advances on
 * inputs x and logits are the output layer's. workspace holds
 * stack_step_workspace_size values of the dtype. At B = 1 products go
 * through gemv; for B streams they are one gemm each (matmul, blas.h). */
size_t stack_step_workspace_size(int cell, int V, int H, int L, int B);
void stack_step_f32(int cell,
                    float *state,           /* (S, L, B, H) in and out */
                    float *logits,          /* (B, V) out */
                    float *workspace,       /* (stack_step_workspace_size) */
                    const float *params,    /* (P) */
                    const int32_t *x,       /* (B) */
                    int V, int H, int L, int B);
void stack_step_f64(int cell, double *state, double *logits, double *workspace,
                    const double *params, const int32_t *x, int V, int H, int L, int B);

#endif
