/* Generating text: the stack (stack.h) run one character at a time, batch 1. */
#ifndef CHARRNN_SAMPLE_H
#define CHARRNN_SAMPLE_H

#include <stdint.h>

/* Feed the prime characters through the stack, then draw n characters, each
 * fed back as the next input. Each draw is from softmax(logits / temperature)
 * restricted to the top_k most likely characters (top_k <= 0: all) and then
 * to the smallest set of them whose probability reaches top_p (top_p >= 1:
 * all); temperature 0 takes the most likely character. Generation ends early
 * once the output ends with the stop sequence (stop_length 0: never).
 *
 * Returns the number of characters written to out, or -1 when memory ran
 * out. state and rng are updated. The last character drawn is not fed through
 * the stack (nothing may need it): a call that continues the text passes it
 * as its prime. */
int stack_sample_f32(int cell,                  /* CELL_RNN, CELL_GRU or CELL_LSTM */
                     int32_t *out,              /* (n) */
                     float *state,              /* (S, L, H) in and out: S = 2 (h, c) for the LSTM */
                     uint64_t *rng,             /* (4) xoshiro256** state, in and out */
                     const float *params,       /* (P) */
                     const int32_t *prime,      /* (prime_length), at least one */
                     int prime_length,
                     const int32_t *stop,       /* (stop_length) */
                     int stop_length,
                     double temperature, int top_k, double top_p,
                     int n, int V, int H, int L);
int stack_sample_f64(int cell, int32_t *out, double *state, uint64_t *rng, const double *params,
                     const int32_t *prime, int prime_length, const int32_t *stop,
                     int stop_length, double temperature, int top_k, double top_p,
                     int n, int V, int H, int L);

#endif
