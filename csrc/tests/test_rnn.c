/* The tanh RNN stack (stack.h, cell CELL_RNN): the forward pass against plain
 * loops written from src/charrnn_c/reference.py, a gradient by hand, and the
 * agreements that must hold between batch sizes and calls. The gradient
 * check and the agreements every cell shares are in test_cells.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stack.h"

typedef struct {
    int V, H, L, T, B;
} rnn_sizes;

/* One problem: random weights of moderate scale (so tanh is neither linear
 * nor saturated), random characters, a random carried hidden state. */
typedef struct {
    rnn_sizes s;
    size_t P;
    double *params;    /* (P) */
    int32_t *inputs;   /* (T, B) */
    int32_t *targets;  /* (T, B) */
    double *h0;        /* (L, B, H) */
} rnn_problem;

static rnn_problem random_problem(rnn_sizes s, uint64_t seed)
{
    rnn_problem p;
    size_t TB = (size_t)s.T * s.B, LBH = (size_t)s.L * s.B * s.H;
    rng_seed(seed);
    p.s = s;
    p.P = rnn_num_params(s.V, s.H, s.L);
    p.params = malloc(p.P * sizeof(double));
    p.inputs = malloc(TB * sizeof(int32_t));
    p.targets = malloc(TB * sizeof(int32_t));
    p.h0 = malloc(LBH * sizeof(double));
    for (size_t i = 0; i < p.P; i++) p.params[i] = rng_uniform(-0.5, 0.5);
    for (size_t n = 0; n < TB; n++) {
        p.inputs[n] = rng_int(s.V);
        p.targets[n] = rng_int(s.V);
    }
    for (size_t i = 0; i < LBH; i++) p.h0[i] = rng_uniform(-0.8, 0.8);
    return p;
}

static void free_problem(rnn_problem *p)
{
    free(p->params), free(p->inputs), free(p->targets), free(p->h0);
}

/* Loss, h_last (L, B, H) and, when grads is not NULL, grads (P) zeroed
 * first, through stack_forward_backward_f64. */
static double run_f64(const rnn_problem *p, const double *params, double *grads,
                      double *h_last)
{
    double loss = NAN;
    if (grads) memset(grads, 0, p->P * sizeof(double));
    double *workspace = malloc(stack_workspace_size(CELL_RNN, p->s.V, p->s.H, p->s.L, p->s.T,
                                                    p->s.B, grads != NULL, 0) * sizeof(double));
    stack_forward_backward_f64(CELL_RNN, grads, h_last, &loss, params, p->inputs, p->targets,
                               p->h0, NULL, workspace, p->s.V, p->s.H, p->s.L, p->s.T, p->s.B);
    free(workspace);
    return loss;
}

/* The same through stack_forward_backward_f32, converting at the edges. */
static double run_f32(const rnn_problem *p, double *grads, double *h_last)
{
    size_t LBH = (size_t)p->s.L * p->s.B * p->s.H;
    float *params = malloc(p->P * sizeof(float)), *h0 = malloc(LBH * sizeof(float));
    float *grads32 = grads ? calloc(p->P, sizeof(float)) : NULL;
    float *h_last32 = malloc(LBH * sizeof(float));
    for (size_t i = 0; i < p->P; i++) params[i] = (float)p->params[i];
    for (size_t i = 0; i < LBH; i++) h0[i] = (float)p->h0[i];
    double loss = NAN;
    float *workspace = malloc(stack_workspace_size(CELL_RNN, p->s.V, p->s.H, p->s.L, p->s.T,
                                                   p->s.B, grads != NULL, 0) * sizeof(float));
    stack_forward_backward_f32(CELL_RNN, grads32, h_last32, &loss, params, p->inputs,
                               p->targets, h0, NULL, workspace, p->s.V, p->s.H, p->s.L,
                               p->s.T, p->s.B);
    free(workspace);
    for (size_t i = 0; grads && i < p->P; i++) grads[i] = grads32[i];
    for (size_t i = 0; i < LBH; i++) h_last[i] = h_last32[i];
    free(params), free(h0), free(grads32), free(h_last32);
    return loss;
}

/* ---- the forward pass against plain loops ---- */

/* The loss and h_last of reference.py's forward, written independently of
 * the core: time steps outside, layers inside, one dot product at a time,
 * and the parameter views walked in layout order rather than taken from
 * layout.h. Returns the loss; writes h_last (L, B, H). */
static double naive_forward(const rnn_problem *p, double *h_last)
{
    int V = p->s.V, H = p->s.H, L = p->s.L, T = p->s.T, B = p->s.B;
    size_t *w_ih = malloc(L * sizeof(size_t)), *w_hh = malloc(L * sizeof(size_t));
    size_t *b_ih = malloc(L * sizeof(size_t)), *b_hh = malloc(L * sizeof(size_t));
    size_t offset = 0;
    for (int l = 0; l < L; l++) {
        int inputs = l == 0 ? V : H;
        w_ih[l] = offset, offset += (size_t)H * inputs;
        w_hh[l] = offset, offset += (size_t)H * H;
        b_ih[l] = offset, offset += H;
        b_hh[l] = offset, offset += H;
    }
    size_t w_ho = offset, b_o = w_ho + (size_t)V * H;
    CHECK(b_o + V == p->P, "rnn_num_params = %zu, the layout walk gives %zu",
          p->P, b_o + V);

    const double *w = p->params;
    double *h = malloc((size_t)L * B * H * sizeof(double));  /* (L, B, H) now */
    double *next = malloc(H * sizeof(double)), *logits = malloc(V * sizeof(double));
    memcpy(h, p->h0, (size_t)L * B * H * sizeof(double));
    double loss = 0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            int x = p->inputs[t * B + b];
            for (int l = 0; l < L; l++) {
                double *h_lb = h + ((size_t)l * B + b) * H;
                const double *below = l > 0 ? h_lb - (size_t)B * H : NULL;  /* layer l - 1, now */
                for (int j = 0; j < H; j++) {
                    double pre = w[b_ih[l] + j] + w[b_hh[l] + j];
                    if (l == 0)
                        pre += w[w_ih[0] + (size_t)j * V + x];  /* W_ih one_hot(x) */
                    else
                        for (int i = 0; i < H; i++)
                            pre += w[w_ih[l] + (size_t)j * H + i] * below[i];
                    for (int i = 0; i < H; i++)
                        pre += w[w_hh[l] + (size_t)j * H + i] * h_lb[i];
                    next[j] = tanh(pre);
                }
                memcpy(h_lb, next, H * sizeof(double));
            }
            /* -log softmax(logits)[target] = logsumexp(logits) - logits[target] */
            const double *top = h + ((size_t)(L - 1) * B + b) * H;
            double max = -INFINITY, sum = 0;
            for (int v = 0; v < V; v++) {
                logits[v] = w[b_o + v];
                for (int j = 0; j < H; j++) logits[v] += w[w_ho + (size_t)v * H + j] * top[j];
                if (logits[v] > max) max = logits[v];
            }
            for (int v = 0; v < V; v++) sum += exp(logits[v] - max);
            loss += max + log(sum) - logits[p->targets[t * B + b]];
        }
    memcpy(h_last, h, (size_t)L * B * H * sizeof(double));
    free(w_ih), free(w_hh), free(b_ih), free(b_hh), free(h), free(next), free(logits);
    return loss / B;  /* summed over time, averaged over streams */
}

static const rnn_sizes forward_sizes[] = {
    {4, 3, 2, 3, 2}, {4, 3, 1, 3, 1}, {5, 2, 3, 1, 1}, {3, 1, 2, 2, 2}, {7, 5, 2, 4, 3},
};

static void test_forward_matches_naive_loops(void)
{
    for (size_t c = 0; c < sizeof(forward_sizes) / sizeof(forward_sizes[0]); c++) {
        rnn_problem p = random_problem(forward_sizes[c], 100 + c);
        size_t LBH = (size_t)p.s.L * p.s.B * p.s.H;
        double *h_last = malloc(LBH * sizeof(double)), *want_h = malloc(LBH * sizeof(double));
        double loss = run_f64(&p, p.params, NULL, h_last);
        double want = naive_forward(&p, want_h);
        CHECK_CLOSE("loss (f64)", &loss, &want, 1, 1e-12, 0);
        CHECK_CLOSE("h_last (f64)", h_last, want_h, LBH, 1e-12, 1e-15);
        loss = run_f32(&p, NULL, h_last);
        CHECK_CLOSE("loss (f32)", &loss, &want, 1, 1e-5, 0);
        CHECK_CLOSE("h_last (f32)", h_last, want_h, LBH, 1e-5, 1e-6);
        free(h_last), free(want_h), free_problem(&p);
    }
}

/* All-zero parameters, worked by hand: every hidden state is tanh(0) = 0 and
 * every softmax is uniform, so loss = T log V, h_last = 0, and the only
 * non-zero gradient is bias_o's: sum over (t, b) of (1/V - [target == v]) / B. */
static void test_zero_weights_by_hand(void)
{
    rnn_sizes s = {5, 3, 2, 4, 2};
    rnn_problem p = random_problem(s, 7);
    size_t LBH = (size_t)s.L * s.B * s.H;
    memset(p.params, 0, p.P * sizeof(double));
    double *grads = malloc(p.P * sizeof(double)), *want = calloc(p.P, sizeof(double));
    double *h_last = malloc(LBH * sizeof(double)), *zeros = calloc(LBH, sizeof(double));

    double loss = run_f64(&p, p.params, grads, h_last);
    double want_loss = s.T * log((double)s.V);
    CHECK_CLOSE("loss = T log V", &loss, &want_loss, 1, 1e-14, 0);
    CHECK_CLOSE("h_last = 0", h_last, zeros, LBH, 0, 0);
    double *g_bo = want + rnn_output_offset(s.V, s.H, s.L) + (size_t)s.V * s.H;
    for (int n = 0; n < s.T * s.B; n++)
        for (int v = 0; v < s.V; v++)
            g_bo[v] += (1.0 / s.V - (p.targets[n] == v)) / s.B;
    CHECK_CLOSE("grads", grads, want, p.P, 1e-14, 1e-16);
    free(grads), free(want), free(h_last), free(zeros), free_problem(&p);
}

/* Backward adds into grads: two calls without zeroing give twice the
 * gradient, on top of what was there. */
static void test_grads_accumulate(void)
{
    rnn_sizes s = {4, 3, 2, 3, 2};
    rnn_problem p = random_problem(s, 5);
    size_t LBH = (size_t)s.L * s.B * s.H;
    double *once = malloc(p.P * sizeof(double)), *twice = malloc(p.P * sizeof(double));
    double *want = malloc(p.P * sizeof(double)), *h_last = malloc(LBH * sizeof(double));
    double loss;
    double *workspace = malloc(stack_workspace_size(CELL_RNN, s.V, s.H, s.L, s.T, s.B, 1, 0)
                               * sizeof(double));
    run_f64(&p, p.params, once, h_last);
    for (size_t i = 0; i < p.P; i++) twice[i] = 0.25 * (double)i;
    for (int call = 0; call < 2; call++)
        stack_forward_backward_f64(CELL_RNN, twice, h_last, &loss, p.params, p.inputs, p.targets,
                                   p.h0, NULL, workspace, s.V, s.H, s.L, s.T, s.B);
    free(workspace);
    for (size_t i = 0; i < p.P; i++) want[i] = 0.25 * (double)i + 2 * once[i];
    CHECK_CLOSE("grads after two calls", twice, want, p.P, 1e-14, 1e-15);
    free(once), free(twice), free(want), free(h_last), free_problem(&p);
}

/* ---- agreements ---- */

/* The loss is averaged over streams and the streams never mix, so B streams
 * together give the mean loss and mean gradient of each stream run alone
 * (B = 1, through gemv rather than gemm), and the same final states. */
static void test_batch_is_mean_of_streams(void)
{
    rnn_sizes s = {5, 3, 2, 4, 3};
    rnn_problem p = random_problem(s, 77);
    size_t LBH = (size_t)s.L * s.B * s.H;
    double *grads = malloc(p.P * sizeof(double)), *h_last = malloc(LBH * sizeof(double));
    double *mean_grads = calloc(p.P, sizeof(double)), *stream_h = malloc(LBH * sizeof(double));
    double *one_grads = malloc(p.P * sizeof(double)), *one_h = malloc((size_t)s.L * s.H * sizeof(double));
    double loss = run_f64(&p, p.params, grads, h_last), mean_loss = 0;

    rnn_problem one = p;  /* shares params; gets its own one-stream arrays */
    one.s.B = 1;
    one.inputs = malloc(s.T * sizeof(int32_t));
    one.targets = malloc(s.T * sizeof(int32_t));
    one.h0 = malloc((size_t)s.L * s.H * sizeof(double));
    for (int b = 0; b < s.B; b++) {
        for (int t = 0; t < s.T; t++) {
            one.inputs[t] = p.inputs[t * s.B + b];
            one.targets[t] = p.targets[t * s.B + b];
        }
        for (int l = 0; l < s.L; l++)
            memcpy(one.h0 + (size_t)l * s.H, p.h0 + ((size_t)l * s.B + b) * s.H,
                   s.H * sizeof(double));
        mean_loss += run_f64(&one, one.params, one_grads, one_h) / s.B;
        for (size_t i = 0; i < p.P; i++) mean_grads[i] += one_grads[i] / s.B;
        for (int l = 0; l < s.L; l++)
            memcpy(stream_h + ((size_t)l * s.B + b) * s.H, one_h + (size_t)l * s.H,
                   s.H * sizeof(double));
    }
    CHECK_CLOSE("loss vs mean of streams", &loss, &mean_loss, 1, 1e-12, 0);
    CHECK_CLOSE("grads vs mean of streams", grads, mean_grads, p.P, 1e-12, 1e-15);
    CHECK_CLOSE("h_last rows vs streams", h_last, stream_h, LBH, 1e-12, 1e-15);
    free(one.inputs), free(one.targets), free(one.h0);
    free(grads), free(h_last), free(mean_grads), free(stream_h), free(one_grads), free(one_h);
    free_problem(&p);
}

void rnn_tests(void)
{
    RUN_TEST(test_forward_matches_naive_loops);
    RUN_TEST(test_zero_weights_by_hand);
    RUN_TEST(test_grads_accumulate);
    RUN_TEST(test_batch_is_mean_of_streams);
}
