/* Sampling (sample.h): K streams drawn at once are K single streams, each
 * with its own generator, state and stop, whichever order they end in.
 *
 * With the naive BLAS a row of a gemm sums in the same order as a gemv, so
 * the batch and the single streams agree exactly, not just closely. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layout.h"
#include "sample.h"
#include "stack.h"

typedef struct {
    int cell, V, H, L;
    size_t P, SLH;      /* parameters; one stream's state values (S, L, H) */
    double *params;     /* (P) */
    double *state;      /* (S, L, H) */
} sample_model;

static sample_model random_model(int cell, int V, int H, int L, uint64_t seed)
{
    sample_model m = {cell, V, H, L, 0, 0, NULL, NULL};
    rng_seed(seed);
    m.P = gated_num_params(cell_gates(cell), V, H, L);
    m.SLH = (size_t)cell_states(cell) * L * H;
    m.params = malloc(m.P * sizeof(double));
    m.state = malloc(m.SLH * sizeof(double));
    for (size_t i = 0; i < m.P; i++) m.params[i] = rng_uniform(-1.5, 1.5);
    for (size_t i = 0; i < m.SLH; i++) m.state[i] = rng_uniform(-0.5, 0.5);
    return m;
}

static void free_model(sample_model *m) { free(m->params), free(m->state); }

/* K xoshiro256** states, none zero, from the test generator. */
static uint64_t *random_rngs(int K, uint64_t seed)
{
    uint64_t *rng = malloc(4 * (size_t)K * sizeof(uint64_t));
    rng_seed(seed);
    for (int i = 0; i < 4 * K; i++)
        rng[i] = ((uint64_t)rng_int(1 << 30) << 32) ^ (uint64_t)rng_int(1 << 30) ^ 1u;
    return rng;
}

/* Stream k of a batch of K against a call of K = 1 with stream k's
 * generator: the same text, length, final state and generator. With
 * stop_length > 0 the stop is stream 0's characters 10, 11, ... as it
 * draws them without one, so that it surely ends early. */
static void batch_is_single_streams(int cell, double temperature, int stop_length)
{
    enum { K = 6, n = 40 };
    const int32_t prime[3] = {1, 0, 2};
    sample_model m = random_model(cell, 3, 4, 2, 21);
    const size_t SL = m.SLH / m.H;
    uint64_t *rng = random_rngs(K, 5), *start = malloc(4 * K * sizeof(uint64_t));
    memcpy(start, rng, 4 * K * sizeof(uint64_t));
    int32_t *out = malloc(K * n * sizeof(int32_t)), lengths[K], *stop = NULL;
    if (stop_length) {
        uint64_t own[4];
        memcpy(own, rng, sizeof(own));
        CHECK(stack_sample_f64(cell, out, lengths, NULL, m.state, own, m.params, prime, 3,
                               NULL, 0, temperature, 0, 1.0, n, 1, m.V, m.H, m.L) == 0,
              "status");
        stop = out + 10;
    }
    double *last = malloc(m.SLH * K * sizeof(double));
    int32_t stop_copy[4];     /* out is drawn into again */
    if (stop_length) {
        memcpy(stop_copy, stop, stop_length * sizeof(int32_t));
        stop = stop_copy;
    }
    int status = stack_sample_f64(cell, out, lengths, last, m.state, rng, m.params, prime, 3,
                                  stop, stop_length, temperature, 0, 1.0, n, K, m.V, m.H, m.L);
    CHECK(status == 0, "status %d", status);

    int32_t one[n], length;
    double *state = malloc(m.SLH * sizeof(double)), *row = malloc(m.SLH * sizeof(double));
    int shortest = n, longest = 0;
    for (int k = 0; k < K; k++) {
        uint64_t own[4];
        memcpy(own, start + 4 * k, sizeof(own));
        memcpy(state, m.state, m.SLH * sizeof(double));
        /* state_last may be state: K = 1 advances it in place. */
        status = stack_sample_f64(cell, one, &length, state, state, own, m.params, prime, 3,
                                  stop, stop_length, temperature, 0, 1.0, n, 1, m.V, m.H, m.L);
        CHECK(status == 0 && lengths[k] == length, "stream %d: length %d, alone %d", k,
              lengths[k], length);
        CHECK(memcmp(out + k * n, one, length * sizeof(int32_t)) == 0,
              "stream %d's text differs from the same stream drawn alone", k);
        CHECK(memcmp(rng + 4 * k, own, sizeof(own)) == 0, "stream %d's generator differs", k);
        for (size_t sl = 0; sl < SL; sl++)    /* stream k's rows of (S L, K, H) */
            memcpy(row + sl * m.H, last + (sl * K + k) * m.H, m.H * sizeof(double));
        CHECK_CLOSE("the stream's last state", row, state, m.SLH, 0, 0);
        if (length < shortest) shortest = length;
        if (length > longest) longest = length;
    }
    if (stop_length)   /* streams ended at different times, some early */
        CHECK(shortest < longest && shortest < n, "cell %d: lengths %d to %d", cell, shortest,
              longest);
    free(rng), free(start), free(out), free(last), free(state), free(row), free_model(&m);
}

static void test_greedy_batch_is_k_copies_of_one_stream(void)
{
    enum { K = 4, n = 30 };
    const int32_t prime[2] = {2, 1};
    for (int cell = CELL_RNN; cell <= CELL_LSTM; cell++) {
        sample_model m = random_model(cell, 5, 6, 2, 3 + cell);
        uint64_t *rng = random_rngs(K, 9);
        int32_t *out = malloc(K * n * sizeof(int32_t)), lengths[K], one[n];
        CHECK(stack_sample_f64(cell, out, lengths, NULL, m.state, rng, m.params, prime, 2,
                               NULL, 0, 0.0, 0, 1.0, n, K, m.V, m.H, m.L) == 0, "status");
        double *state = malloc(m.SLH * sizeof(double)), *logits = malloc(m.V * sizeof(double));
        double *workspace = malloc(stack_step_workspace_size(cell, m.V, m.H, m.L, 1) *
                                   sizeof(double));
        /* Greedy decoding by hand, one stack_step at a time. */
        memcpy(state, m.state, m.SLH * sizeof(double));
        for (int i = 0; i < 2; i++)
            stack_step_f64(cell, state, logits, workspace, m.params, prime + i, m.V, m.H, m.L,
                           1);
        for (int i = 0; i < n; i++) {
            one[i] = 0;
            for (int v = 1; v < m.V; v++)
                if (logits[v] > logits[one[i]]) one[i] = v;
            stack_step_f64(cell, state, logits, workspace, m.params, one + i, m.V, m.H, m.L, 1);
        }
        for (int k = 0; k < K; k++) {
            CHECK(lengths[k] == n, "cell %d stream %d: length %d", cell, k, lengths[k]);
            CHECK(memcmp(out + k * n, one, n * sizeof(int32_t)) == 0,
                  "cell %d stream %d is not the greedy text", cell, k);
        }
        /* float32 is the same text for these well-separated logits. */
        float *params32 = malloc(m.P * sizeof(float)), *state32 = malloc(m.SLH * sizeof(float));
        for (size_t i = 0; i < m.P; i++) params32[i] = (float)m.params[i];
        for (size_t i = 0; i < m.SLH; i++) state32[i] = (float)m.state[i];
        CHECK(stack_sample_f32(cell, out, lengths, NULL, state32, rng, params32, prime, 2,
                               NULL, 0, 0.0, 0, 1.0, n, K, m.V, m.H, m.L) == 0, "status");
        for (int k = 0; k < K; k++)
            CHECK(lengths[k] == n && memcmp(out + k * n, one, n * sizeof(int32_t)) == 0,
                  "cell %d float32 stream %d is not the greedy text", cell, k);
        free(params32), free(state32), free(state), free(logits), free(workspace);
        free(rng), free(out), free_model(&m);
    }
}

static void test_streams_draw_apart_as_single_streams(void)
{
    for (int cell = CELL_RNN; cell <= CELL_LSTM; cell++)
        batch_is_single_streams(cell, 1.0, 0);
}

/* A two-character stop over 3 characters: streams end early, each at its
 * own place, and leave the batch; the others go on as if alone. */
static void test_each_stream_stops_at_its_own_stop(void)
{
    for (int cell = CELL_RNN; cell <= CELL_LSTM; cell++) batch_is_single_streams(cell, 1.0, 2);
}

/* Temperature 0 with a stop: every stream stops at the same place. */
static void test_greedy_streams_stop_together(void)
{
    enum { K = 3, n = 50 };
    const int32_t prime[1] = {0};
    sample_model m = random_model(CELL_GRU, 4, 5, 1, 8);
    uint64_t *rng = random_rngs(K, 2);
    int32_t *out = malloc(K * n * sizeof(int32_t)), lengths[K], greedy[n], length;
    double *state = malloc(m.SLH * sizeof(double));
    memcpy(state, m.state, m.SLH * sizeof(double));
    stack_sample_f64(CELL_GRU, greedy, &length, state, state, rng, m.params, prime, 1, NULL, 0,
                     0.0, 0, 1.0, n, 1, m.V, m.H, m.L);
    stack_sample_f64(CELL_GRU, out, lengths, NULL, m.state, rng, m.params, prime, 1,
                     greedy + 7, 1, 0.0, 0, 1.0, n, K, m.V, m.H, m.L);
    int first = 0;
    while (greedy[first] != greedy[7]) first++;
    for (int k = 0; k < K; k++)
        CHECK(lengths[k] == first + 1, "stream %d: length %d, want %d", k, lengths[k],
              first + 1);
    free(rng), free(out), free(state), free_model(&m);
}

/* n = 0: nothing drawn, and every stream's state is the primed one. */
static void test_no_characters_leaves_the_primed_state(void)
{
    enum { K = 2 };
    const int32_t prime[2] = {1, 3};
    sample_model m = random_model(CELL_LSTM, 4, 3, 2, 4);
    uint64_t *rng = random_rngs(K, 3);
    int32_t lengths[K] = {-1, -1}, out[1];
    double *last = malloc(m.SLH * K * sizeof(double)), *state = malloc(m.SLH * sizeof(double));
    double *logits = malloc(m.V * sizeof(double));
    double *workspace = malloc(stack_step_workspace_size(CELL_LSTM, m.V, m.H, m.L, 1) *
                               sizeof(double));
    memcpy(state, m.state, m.SLH * sizeof(double));
    for (int i = 0; i < 2; i++)
        stack_step_f64(CELL_LSTM, state, logits, workspace, m.params, prime + i, m.V, m.H,
                       m.L, 1);
    stack_sample_f64(CELL_LSTM, out, lengths, last, m.state, rng, m.params, prime, 2, NULL, 0,
                     1.0, 0, 1.0, 0, K, m.V, m.H, m.L);
    CHECK(lengths[0] == 0 && lengths[1] == 0, "lengths %d, %d", lengths[0], lengths[1]);
    for (size_t sl = 0; sl < m.SLH / m.H; sl++)
        for (int k = 0; k < K; k++)
            CHECK_CLOSE("primed state", last + (sl * K + k) * m.H, state + sl * m.H, m.H, 0, 0);
    free(rng), free(last), free(state), free(logits), free(workspace), free_model(&m);
}

void sample_tests(void)
{
    RUN_TEST(test_greedy_batch_is_k_copies_of_one_stream);
    RUN_TEST(test_streams_draw_apart_as_single_streams);
    RUN_TEST(test_each_stream_stops_at_its_own_stop);
    RUN_TEST(test_greedy_streams_stop_together);
    RUN_TEST(test_no_characters_leaves_the_primed_state);
}
