/* A stack of vanilla tanh RNN layers with a softmax output: forward and BPTT.
 *
 *   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)     per layer
 *   loss = (1/B) sum_{t,b} -log softmax(W_ho h_t + b_o)[target]
 *
 * Sizes: V vocabulary, H hidden units, L layers, T time steps, B streams.
 * Character indices are time-major (T, B) and must lie in [0, V): the caller
 * checks them. Each function returns 0, or -1 when memory ran out. */
#ifndef CHARRNN_RNN_H
#define CHARRNN_RNN_H

#include <stdint.h>
#include "layout.h"

/* grads may be NULL: forward and loss only (evaluation). Otherwise the
 * gradient of the loss is added (+=) into grads, laid out like params. */
int rnn_forward_backward_f32(float *grads,              /* (P) or NULL */
                             float *h_last,             /* (L, B, H) */
                             double *loss,              /* scalar */
                             const float *params,       /* (P) */
                             const int32_t *inputs,     /* (T, B) */
                             const int32_t *targets,    /* (T, B) */
                             const float *h0,           /* (L, B, H) */
                             int V, int H, int L, int T, int B);
int rnn_forward_backward_f64(double *grads, double *h_last, double *loss,
                             const double *params, const int32_t *inputs,
                             const int32_t *targets, const double *h0,
                             int V, int H, int L, int T, int B);

/* Forward only: log p(target) for every position, for scoring text. */
int rnn_target_log_probs_f32(double *log_probs,      /* (T, B) */
                             float *h_last,          /* (L, B, H) */
                             const float *params,    /* (P) */
                             const int32_t *inputs,  /* (T, B) */
                             const int32_t *targets, /* (T, B) */
                             const float *h0,        /* (L, B, H) */
                             int V, int H, int L, int T, int B);
int rnn_target_log_probs_f64(double *log_probs, double *h_last, const double *params,
                             const int32_t *inputs, const int32_t *targets,
                             const double *h0, int V, int H, int L, int T, int B);

#endif
