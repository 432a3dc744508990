/* Every cell's stack (stack.h: tanh RNN, GRU, LSTM) and dropout between
 * layers: a finite-difference gradient check on tiny sizes, states worked by
 * hand with zero weights, and the agreements between dtypes and modes; and
 * the training step (train_step.h) against its parts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stack.h"
#include "train_step.h"

typedef struct {
    int cell, V, H, L, T, B, dropout;   /* dropout: use a mask of 0 and 2 */
} cell_sizes;

typedef struct {
    cell_sizes s;
    size_t P, S;       /* parameters; carried state values (S, L, B, H) */
    double *params;    /* (P) */
    int32_t *inputs;   /* (T, B) */
    int32_t *targets;  /* (T, B) */
    double *state0;    /* (S, L, B, H) */
    double *mask;      /* (L - 1, T, B, H) or NULL */
} cell_problem;

static cell_problem random_problem(cell_sizes s, uint64_t seed)
{
    cell_problem p;
    size_t TB = (size_t)s.T * s.B, masked = (size_t)(s.L - 1) * TB * s.H;
    rng_seed(seed);
    p.s = s;
    p.P = gated_num_params(cell_gates(s.cell), s.V, s.H, s.L);
    p.S = (size_t)cell_states(s.cell) * s.L * s.B * s.H;
    p.params = malloc(p.P * sizeof(double));
    p.inputs = malloc(TB * sizeof(int32_t));
    p.targets = malloc(TB * sizeof(int32_t));
    p.state0 = malloc(p.S * sizeof(double));
    p.mask = s.dropout && masked ? malloc(masked * sizeof(double)) : NULL;
    for (size_t i = 0; i < p.P; i++) p.params[i] = rng_uniform(-0.6, 0.6);
    for (size_t n = 0; n < TB; n++) {
        p.inputs[n] = rng_int(s.V);
        p.targets[n] = rng_int(s.V);
    }
    for (size_t i = 0; i < p.S; i++) p.state0[i] = rng_uniform(-0.8, 0.8);
    for (size_t i = 0; p.mask && i < masked; i++) p.mask[i] = rng_int(2) ? 2.0 : 0.0;
    return p;
}

static void free_problem(cell_problem *p)
{
    free(p->params), free(p->inputs), free(p->targets), free(p->state0), free(p->mask);
}

/* The workspace run_f64 and run_f32 allocate: exactly its size, so ASan
 * sees any overrun. */
static size_t workspace_values(const cell_problem *p, int with_grads)
{
    return stack_workspace_size(p->s.cell, p->s.V, p->s.H, p->s.L, p->s.T, p->s.B, with_grads,
                                p->mask != NULL);
}

/* Loss, state_last (S) and, when grads is not NULL, grads (P) zeroed first. */
static double run_f64(const cell_problem *p, const double *params, double *grads,
                      double *state_last)
{
    double loss = NAN;
    if (grads) memset(grads, 0, p->P * sizeof(double));
    double *workspace = malloc(workspace_values(p, grads != NULL) * sizeof(double));
    stack_forward_backward_f64(p->s.cell, grads, state_last, &loss, params, p->inputs,
                               p->targets, p->state0, p->mask, workspace, p->s.V, p->s.H,
                               p->s.L, p->s.T, p->s.B);
    free(workspace);
    return loss;
}

/* The same in float32, converting at the edges. */
static double run_f32(const cell_problem *p, double *grads, double *state_last)
{
    size_t masked = (size_t)(p->s.L - 1) * p->s.T * p->s.B * p->s.H;
    float *params = malloc(p->P * sizeof(float)), *state0 = malloc(p->S * sizeof(float));
    float *grads32 = grads ? calloc(p->P, sizeof(float)) : NULL;
    float *last32 = malloc(p->S * sizeof(float));
    float *mask = p->mask ? malloc(masked * sizeof(float)) : NULL;
    for (size_t i = 0; i < p->P; i++) params[i] = (float)p->params[i];
    for (size_t i = 0; i < p->S; i++) state0[i] = (float)p->state0[i];
    for (size_t i = 0; mask && i < masked; i++) mask[i] = (float)p->mask[i];
    double loss = NAN;
    float *workspace = malloc(workspace_values(p, grads != NULL) * sizeof(float));
    stack_forward_backward_f32(p->s.cell, grads32, last32, &loss, params, p->inputs,
                               p->targets, state0, mask, workspace, p->s.V, p->s.H, p->s.L,
                               p->s.T, p->s.B);
    free(workspace);
    for (size_t i = 0; grads && i < p->P; i++) grads[i] = grads32[i];
    for (size_t i = 0; i < p->S; i++) state_last[i] = last32[i];
    free(params), free(state0), free(grads32), free(last32), free(mask);
    return loss;
}

/* ---- the gradient against central differences ---- */

static void gradcheck(cell_sizes s)
{
    const double eps = 1e-5;
    cell_problem p = random_problem(s, 500 + s.cell * 100 + s.L * 10 + s.B);
    double *grads = malloc(p.P * sizeof(double)), *numeric = malloc(p.P * sizeof(double));
    double *state_last = malloc(p.S * sizeof(double));
    double *shifted = malloc(p.P * sizeof(double));
    memcpy(shifted, p.params, p.P * sizeof(double));

    run_f64(&p, p.params, grads, state_last);
    for (size_t i = 0; i < p.P; i++) {
        shifted[i] = p.params[i] + eps;
        double plus = run_f64(&p, shifted, NULL, state_last);
        shifted[i] = p.params[i] - eps;
        double minus = run_f64(&p, shifted, NULL, state_last);
        shifted[i] = p.params[i];
        numeric[i] = (plus - minus) / (2 * eps);
    }
    CHECK_CLOSE("analytic vs central-difference gradient", grads, numeric, p.P, 1e-6, 1e-9);
    free(grads), free(numeric), free(state_last), free(shifted), free_problem(&p);
}

static void test_gradcheck_rnn_L2_T3_B2(void) { gradcheck((cell_sizes){CELL_RNN, 4, 3, 2, 3, 2, 0}); }
/* B = 1: the recurrence goes through gemv. */
static void test_gradcheck_rnn_L1_T3_B1(void) { gradcheck((cell_sizes){CELL_RNN, 4, 3, 1, 3, 1, 0}); }
/* T * B = 1: every product over time steps is one row. */
static void test_gradcheck_rnn_L3_T1_B1(void) { gradcheck((cell_sizes){CELL_RNN, 5, 2, 3, 1, 1, 0}); }
/* H = 1: products with one hidden unit are one column. */
static void test_gradcheck_rnn_H1(void) { gradcheck((cell_sizes){CELL_RNN, 3, 1, 2, 2, 2, 0}); }
static void test_gradcheck_gru_L2_T3_B2(void) { gradcheck((cell_sizes){CELL_GRU, 4, 3, 2, 3, 2, 0}); }
static void test_gradcheck_gru_L1_T3_B1(void) { gradcheck((cell_sizes){CELL_GRU, 4, 3, 1, 3, 1, 0}); }
static void test_gradcheck_gru_H1_T1(void) { gradcheck((cell_sizes){CELL_GRU, 3, 1, 2, 1, 2, 0}); }
static void test_gradcheck_lstm_L2_T3_B2(void) { gradcheck((cell_sizes){CELL_LSTM, 4, 3, 2, 3, 2, 0}); }
static void test_gradcheck_lstm_L1_T3_B1(void) { gradcheck((cell_sizes){CELL_LSTM, 4, 3, 1, 3, 1, 0}); }
static void test_gradcheck_lstm_H1_T1(void) { gradcheck((cell_sizes){CELL_LSTM, 3, 1, 2, 1, 2, 0}); }
/* Dropout: the mask scales what each layer passes up, and its gradient. */
static void test_gradcheck_rnn_dropout(void) { gradcheck((cell_sizes){CELL_RNN, 4, 3, 3, 3, 2, 1}); }
static void test_gradcheck_gru_dropout(void) { gradcheck((cell_sizes){CELL_GRU, 4, 3, 3, 3, 2, 1}); }
static void test_gradcheck_lstm_dropout(void) { gradcheck((cell_sizes){CELL_LSTM, 4, 3, 3, 3, 1, 1}); }

/* ---- worked by hand ---- */

/* All-zero parameters: every gate's pre-activation is 0, so sigmoid gates
 * are 1/2 and tanh ones 0. GRU: r = z = 1/2, n = 0, h' = h / 2. LSTM: i = f
 * = o = 1/2, g = 0, c' = c / 2, h' = tanh(c') / 2. The softmax is uniform:
 * loss = T log V. */
static void zero_weights(int cell)
{
    cell_sizes s = {cell, 5, 3, 2, 4, 2, 0};
    cell_problem p = random_problem(s, 7);
    size_t LBH = (size_t)s.L * s.B * s.H;
    memset(p.params, 0, p.P * sizeof(double));
    double *last = malloc(p.S * sizeof(double)), *want = malloc(p.S * sizeof(double));
    double loss = run_f64(&p, p.params, NULL, last);
    double want_loss = s.T * log((double)s.V);
    CHECK_CLOSE("loss = T log V", &loss, &want_loss, 1, 1e-14, 0);
    for (size_t i = 0; i < LBH; i++) {
        if (cell == CELL_GRU) {
            /* layer 0 halves its own h0 T times; above, the same (the input
             * side is zero too, since W_ih = 0). */
            want[i] = p.state0[i] / pow(2, s.T);
        } else {
            double c = p.state0[LBH + i] / pow(2, s.T);
            want[LBH + i] = c;
            want[i] = tanh(c) / 2;
        }
    }
    CHECK_CLOSE("state_last", last, want, p.S, 1e-14, 1e-16);
    free(last), free(want), free_problem(&p);
}

static void test_gru_zero_weights_by_hand(void) { zero_weights(CELL_GRU); }
static void test_lstm_zero_weights_by_hand(void) { zero_weights(CELL_LSTM); }

/* ---- agreements ---- */

/* float32 follows float64 on the same (float-rounded) inputs. */
static void f32_matches_f64(cell_sizes s)
{
    cell_problem p = random_problem(s, 31 + s.B);
    for (size_t i = 0; i < p.P; i++) p.params[i] = (float)p.params[i];
    for (size_t i = 0; i < p.S; i++) p.state0[i] = (float)p.state0[i];
    double *g64 = malloc(p.P * sizeof(double)), *g32 = malloc(p.P * sizeof(double));
    double *s64 = malloc(p.S * sizeof(double)), *s32 = malloc(p.S * sizeof(double));
    double loss64 = run_f64(&p, p.params, g64, s64);
    double loss32 = run_f32(&p, g32, s32);
    double largest = 0;
    for (size_t i = 0; i < p.P; i++)
        if (fabs(g64[i]) > largest) largest = fabs(g64[i]);
    CHECK_CLOSE("loss", &loss32, &loss64, 1, 1e-5, 0);
    CHECK_CLOSE("grads", g32, g64, p.P, 1e-4, 1e-5 * largest);
    CHECK_CLOSE("state_last", s32, s64, p.S, 1e-5, 1e-6);
    free(g64), free(g32), free(s64), free(s32), free_problem(&p);
}

static void test_rnn_f32_matches_f64(void) { f32_matches_f64((cell_sizes){CELL_RNN, 6, 4, 2, 5, 3, 0}); }
static void test_rnn_f32_matches_f64_B1(void) { f32_matches_f64((cell_sizes){CELL_RNN, 6, 4, 2, 5, 1, 0}); }
static void test_gru_f32_matches_f64(void) { f32_matches_f64((cell_sizes){CELL_GRU, 6, 4, 2, 5, 3, 1}); }
static void test_lstm_f32_matches_f64(void) { f32_matches_f64((cell_sizes){CELL_LSTM, 6, 4, 2, 5, 3, 1}); }
static void test_lstm_f32_matches_f64_B1(void) { f32_matches_f64((cell_sizes){CELL_LSTM, 6, 4, 2, 5, 1, 0}); }

/* grads == NULL runs the same forward pass (with one shared set of gate
 * buffers instead of one per layer): loss and state agree exactly. */
static void forward_only_matches(int cell)
{
    cell_sizes s = {cell, 5, 3, 3, 4, 2, 0};
    cell_problem p = random_problem(s, 9);
    double *grads = malloc(p.P * sizeof(double));
    double *with_s = malloc(p.S * sizeof(double)), *without_s = malloc(p.S * sizeof(double));
    double with = run_f64(&p, p.params, grads, with_s);
    double without = run_f64(&p, p.params, NULL, without_s);
    CHECK_CLOSE("loss", &without, &with, 1, 0, 0);
    CHECK_CLOSE("state_last", without_s, with_s, p.S, 0, 0);
    free(grads), free(with_s), free(without_s), free_problem(&p);
}

static void test_rnn_forward_only_matches(void) { forward_only_matches(CELL_RNN); }
static void test_gru_forward_only_matches(void) { forward_only_matches(CELL_GRU); }
static void test_lstm_forward_only_matches(void) { forward_only_matches(CELL_LSTM); }

/* The workspace is the caller's and is kept from call to call: what an
 * earlier call left in it (here NaN everywhere) changes nothing. */
static void dirty_workspace_changes_nothing(int cell)
{
    cell_sizes s = {cell, 5, 3, 3, 4, 2, 1};
    cell_problem p = random_problem(s, 21);
    double *fresh = malloc(p.P * sizeof(double)), *dirty = calloc(p.P, sizeof(double));
    double *fresh_s = malloc(p.S * sizeof(double)), *dirty_s = malloc(p.S * sizeof(double));
    double fresh_loss = run_f64(&p, p.params, fresh, fresh_s), dirty_loss = NAN;
    size_t size = workspace_values(&p, 1);
    double *workspace = malloc(size * sizeof(double));
    for (size_t i = 0; i < size; i++) workspace[i] = NAN;
    stack_forward_backward_f64(cell, dirty, dirty_s, &dirty_loss, p.params, p.inputs, p.targets,
                               p.state0, p.mask, workspace, s.V, s.H, s.L, s.T, s.B);
    CHECK_CLOSE("loss", &dirty_loss, &fresh_loss, 1, 0, 0);
    CHECK_CLOSE("grads", dirty, fresh, p.P, 0, 0);
    CHECK_CLOSE("state_last", dirty_s, fresh_s, p.S, 0, 0);

    double *log_probs = malloc((size_t)s.T * s.B * sizeof(double));
    for (size_t i = 0; i < size; i++) workspace[i] = NAN;
    stack_target_log_probs_f64(cell, log_probs, dirty_s, p.params, p.inputs, p.targets,
                               p.state0, workspace, s.V, s.H, s.L, s.T, s.B);
    double sum = 0;
    for (size_t i = 0; i < (size_t)s.T * s.B; i++) sum -= log_probs[i];
    double loss = sum / s.B, unmasked = NAN;
    free(p.mask), p.mask = NULL;     /* log_probs is forward only: no dropout */
    unmasked = run_f64(&p, p.params, NULL, fresh_s);
    CHECK_CLOSE("loss from log_probs", &loss, &unmasked, 1, 1e-14, 0);
    free(workspace), free(log_probs);
    free(fresh), free(dirty), free(fresh_s), free(dirty_s), free_problem(&p);
}

/* train_step is forward, BPTT, then optimizer_step: the same bits as the
 * parts called one after another; with a loss that is not finite (a NaN
 * weight) it updates nothing. */
static void train_step_matches_parts(int cell)
{
    cell_sizes s = {cell, 5, 3, 2, 4, 2, 1};
    cell_problem p = random_problem(s, 33);
    model_spec spec = {cell, DTYPE_F64, s.V, s.H, s.L};
    optim_config c = {.kind = OPTIM_ADAM, .learning_rate = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                      .eps = 1e-8, .step = 1, .clip = 0.05, .max_norm = 0.5};
    double *params = malloc(p.P * sizeof(double)), *grads = malloc(p.P * sizeof(double));
    double *m = calloc(p.P, sizeof(double)), *v = calloc(p.P, sizeof(double));
    double *m2 = calloc(p.P, sizeof(double)), *v2 = calloc(p.P, sizeof(double));
    double *want = malloc(p.P * sizeof(double)), *want_grads = malloc(p.P * sizeof(double));
    double *last = malloc(p.S * sizeof(double)), *want_last = malloc(p.S * sizeof(double));
    double *workspace = malloc(workspace_values(&p, 1) * sizeof(double));
    memcpy(params, p.params, p.P * sizeof(double));
    memcpy(want, p.params, p.P * sizeof(double));
    for (size_t i = 0; i < p.P; i++) grads[i] = 7;      /* train_step zeroes them */

    double loss = NAN, want_loss = run_f64(&p, p.params, want_grads, want_last);
    optimizer_step_f64(&c, want, want_grads, m2, v2, p.P);
    train_step_f64(&spec, &c, params, grads, m, v, last, &loss, p.inputs, p.targets, p.state0,
                   p.mask, workspace, s.T, s.B);
    CHECK_CLOSE("loss", &loss, &want_loss, 1, 0, 0);
    CHECK_CLOSE("state_last", last, want_last, p.S, 0, 0);
    CHECK_CLOSE("grads as applied", grads, want_grads, p.P, 0, 0);
    CHECK_CLOSE("params", params, want, p.P, 0, 0);
    CHECK_CLOSE("m", m, m2, p.P, 0, 0);
    CHECK_CLOSE("v", v, v2, p.P, 0, 0);

    params[p.P - 1] = NAN;                               /* bias_o: every loss term */
    memcpy(want, params, p.P * sizeof(double));
    memcpy(m2, m, p.P * sizeof(double));
    c.step = 2;
    train_step_f64(&spec, &c, params, grads, m, v, last, &loss, p.inputs, p.targets, p.state0,
                   p.mask, workspace, s.T, s.B);
    CHECK(isnan(loss), "the loss with a NaN weight is %g", loss);
    CHECK(memcmp(params, want, p.P * sizeof(double)) == 0, "a NaN loss changed params");
    CHECK(memcmp(m, m2, p.P * sizeof(double)) == 0, "a NaN loss changed the optimizer state");
    free(params), free(grads), free(m), free(v), free(m2), free(v2), free(want);
    free(want_grads), free(last), free(want_last), free(workspace), free_problem(&p);
}

static void test_rnn_train_step_matches_parts(void) { train_step_matches_parts(CELL_RNN); }
static void test_gru_train_step_matches_parts(void) { train_step_matches_parts(CELL_GRU); }
static void test_lstm_train_step_matches_parts(void) { train_step_matches_parts(CELL_LSTM); }

static void test_rnn_dirty_workspace_changes_nothing(void) { dirty_workspace_changes_nothing(CELL_RNN); }
static void test_gru_dirty_workspace_changes_nothing(void) { dirty_workspace_changes_nothing(CELL_GRU); }
static void test_lstm_dirty_workspace_changes_nothing(void) { dirty_workspace_changes_nothing(CELL_LSTM); }

/* T steps of stack_step (batch 1) give the state of one T-step call. */
static void steps_match_sequence(int cell)
{
    cell_sizes s = {cell, 5, 3, 2, 6, 1, 0};
    cell_problem p = random_problem(s, 13);
    double *last = malloc(p.S * sizeof(double)), *state = malloc(p.S * sizeof(double));
    double *logits = malloc(s.V * sizeof(double));
    double *workspace = malloc(stack_step_workspace_size(cell, s.V, s.H, s.L, 1) * sizeof(double));
    run_f64(&p, p.params, NULL, last);
    memcpy(state, p.state0, p.S * sizeof(double));
    for (int t = 0; t < s.T; t++)
        stack_step_f64(cell, state, logits, workspace, p.params, p.inputs + t, s.V, s.H, s.L,
                       1);
    CHECK_CLOSE("state after T steps", state, last, p.S, 1e-13, 1e-15);
    free(last), free(state), free(logits), free(workspace), free_problem(&p);
}

static void test_rnn_steps_match_sequence(void) { steps_match_sequence(CELL_RNN); }
static void test_gru_steps_match_sequence(void) { steps_match_sequence(CELL_GRU); }
static void test_lstm_steps_match_sequence(void) { steps_match_sequence(CELL_LSTM); }

void cell_tests(void)
{
    RUN_TEST(test_gradcheck_rnn_L2_T3_B2);
    RUN_TEST(test_gradcheck_rnn_L1_T3_B1);
    RUN_TEST(test_gradcheck_rnn_L3_T1_B1);
    RUN_TEST(test_gradcheck_rnn_H1);
    RUN_TEST(test_gradcheck_gru_L2_T3_B2);
    RUN_TEST(test_gradcheck_gru_L1_T3_B1);
    RUN_TEST(test_gradcheck_gru_H1_T1);
    RUN_TEST(test_gradcheck_lstm_L2_T3_B2);
    RUN_TEST(test_gradcheck_lstm_L1_T3_B1);
    RUN_TEST(test_gradcheck_lstm_H1_T1);
    RUN_TEST(test_gradcheck_rnn_dropout);
    RUN_TEST(test_gradcheck_gru_dropout);
    RUN_TEST(test_gradcheck_lstm_dropout);
    RUN_TEST(test_gru_zero_weights_by_hand);
    RUN_TEST(test_lstm_zero_weights_by_hand);
    RUN_TEST(test_rnn_f32_matches_f64);
    RUN_TEST(test_rnn_f32_matches_f64_B1);
    RUN_TEST(test_gru_f32_matches_f64);
    RUN_TEST(test_lstm_f32_matches_f64);
    RUN_TEST(test_lstm_f32_matches_f64_B1);
    RUN_TEST(test_rnn_forward_only_matches);
    RUN_TEST(test_gru_forward_only_matches);
    RUN_TEST(test_lstm_forward_only_matches);
    RUN_TEST(test_rnn_train_step_matches_parts);
    RUN_TEST(test_gru_train_step_matches_parts);
    RUN_TEST(test_lstm_train_step_matches_parts);
    RUN_TEST(test_rnn_dirty_workspace_changes_nothing);
    RUN_TEST(test_gru_dirty_workspace_changes_nothing);
    RUN_TEST(test_lstm_dirty_workspace_changes_nothing);
    RUN_TEST(test_rnn_steps_match_sequence);
    RUN_TEST(test_gru_steps_match_sequence);
    RUN_TEST(test_lstm_steps_match_sequence);
}
