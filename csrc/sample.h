/* Generating text: the stack (stack.h) run one character at a time, for K
 * independent streams at once. */
#ifndef CHARRNN_SAMPLE_H
#define CHARRNN_SAMPLE_H

#include <stdint.h>

/* Feed the prime characters through the stack once (batch 1), then draw n
 * characters for each of K streams that all start from that state, each
 * stream fed its own draws back. Every character is one step of the stack
 * for all the streams still drawing (stack_step with B of them: gemm; gemv
 * at K = 1). Each draw is from softmax(logits / temperature) restricted to
 * the top_k most likely characters (top_k <= 0: all) and then to the
 * smallest set of them whose probability reaches top_p (top_p >= 1: all);
 * temperature 0 takes the most likely character. Stream k draws with its
 * own generator, rng[k], and ends early once its output ends with the stop
 * sequence (stop_length 0: never); it then leaves the batch, so the streams
 * still drawing are the only ones stepped.
 *
 * Row k of out holds lengths[k] characters; the rest of the row is not
 * written. state_last, when not NULL, receives each stream's state as it
 * stands before its last drawn character would be fed: a call that continues
 * stream k passes that character as its prime. At K = 1 state_last may be
 * state itself ((S, L, 1, H) is (S, L, H)): the state advances in place.
 *
 * Returns 0, or -1 when memory ran out (then nothing is written). */
int stack_sample_f32(int cell,                  /* CELL_RNN, CELL_GRU or CELL_LSTM */
                     int32_t *out,              /* (K, n) */
                     int32_t *lengths,          /* (K) out */
                     float *state_last,         /* (S, L, K, H) out, or NULL */
                     const float *state,        /* (S, L, H): S = 2 (h, c) for the LSTM */
                     uint64_t *rng,             /* (K, 4) xoshiro256** states, in and out */
                     const float *params,       /* (P) */
                     const int32_t *prime,      /* (prime_length), at least one */
                     int prime_length,
                     const int32_t *stop,       /* (stop_length) */
                     int stop_length,
                     double temperature, int top_k, double top_p,
                     int n, int K, int V, int H, int L);
int stack_sample_f64(int cell, int32_t *out, int32_t *lengths, double *state_last,
                     const double *state, uint64_t *rng, const double *params,
                     const int32_t *prime, int prime_length, const int32_t *stop,
                     int stop_length, double temperature, int top_k, double top_p,
                     int n, int K, int V, int H, int L);

#endif
