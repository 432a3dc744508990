/* A small seeded generator for sampling: xoshiro256** (Blackman and Vigna).
 *
 * Its whole state is four 64-bit words that the caller owns, so Python can
 * seed it (from NumPy's SeedSequence), save it in a checkpoint and restore
 * it: the same state always gives the same characters. */
#ifndef CHARRNN_RANDOM_H
#define CHARRNN_RANDOM_H

#include <stdint.h>

static inline uint64_t rotate_left(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t random_next(uint64_t state[4])
{
    uint64_t result = rotate_left(state[1] * 5, 7) * 9;
    uint64_t shifted = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= shifted;
    state[3] = rotate_left(state[3], 45);
    return result;
}

/* Uniform in [0, 1), from the top 53 bits. */
static inline double random_uniform(uint64_t state[4])
{
    return (double)(random_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
