/* The optimizer step (optim.h) against values worked by hand, and its fused
 * form (optimizer_step) against its parts. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "optim.h"

/* Beyond +-clip clamps, inside (and exactly at) +-clip is untouched, the
 * infinities clamp, NaN stays NaN so a broken gradient is not hidden. */
static const double clip_in[] = {-10, -5, -4.5, -0.0, 0.25, 3, 5, 7.5, INFINITY, -INFINITY};
static const double clip_want[] = {-5, -5, -4.5, -0.0, 0.25, 3, 5, 5, 5, -5};
#define CLIP_N (sizeof(clip_in) / sizeof(clip_in[0]))

static void test_clip_gradients_f64(void)
{
    double g[CLIP_N + 1];
    memcpy(g, clip_in, sizeof(clip_in));
    g[CLIP_N] = NAN;
    clip_gradients_f64(g, CLIP_N + 1, 5.0);
    CHECK_CLOSE("clipped", g, clip_want, CLIP_N, 0, 0);
    CHECK(isnan(g[CLIP_N]), "NaN became %g", g[CLIP_N]);
}

static void test_clip_gradients_f32(void)
{
    float g[CLIP_N + 1];
    double got[CLIP_N];
    for (size_t i = 0; i < CLIP_N; i++) g[i] = (float)clip_in[i];
    g[CLIP_N] = NAN;
    clip_gradients_f32(g, CLIP_N + 1, 5.0f);
    for (size_t i = 0; i < CLIP_N; i++) got[i] = g[i];
    CHECK_CLOSE("clipped", got, clip_want, CLIP_N, 0, 0);
    CHECK(isnan(g[CLIP_N]), "NaN became %g", (double)g[CLIP_N]);
}

/* mem += g^2; p -= lr g / sqrt(mem + 1e-8), with lr = 0.1:
 *   p = 1, mem = 0.75, g = 0.5:  mem = 1, p = 1 - 0.05 / sqrt(1 + 1e-8)
 *                                = 0.95 + 2.5e-10 (to 1e-17);
 *   g = 0 with mem = 0:          nothing moves (the 1e-8 keeps 0 / 0 away);
 *   g = -2:                      p moves up;
 *   p = 0, mem = 0, g = 1e-4:    mem = 1e-8, p = -1e-5 / sqrt(2e-8)
 *                                = -0.1 / sqrt(2): here the 1e-8 matters. */
static void test_adagrad_update_f64(void)
{
    double p[] = {1, -2, 3, 0};
    double mem[] = {0.75, 0, 0.5, 0};
    double g[] = {0.5, 0, -2, 1e-4};
    adagrad_update_f64(p, mem, g, 4, 0.1);
    double want_mem[] = {1, 0, 4.5, 1e-8};
    double want_p[] = {0.95000000025, -2, 3 + 0.1 * 2 / sqrt(4.5 + 1e-8), -0.1 / sqrt(2)};
    CHECK_CLOSE("mem", mem, want_mem, 4, 1e-15, 0);
    CHECK_CLOSE("params", p, want_p, 4, 1e-15, 0);

    /* A second step accumulates mem: 1 + 0.25 = 1.25. */
    adagrad_update_f64(p, mem, g, 3, 0.1);  /* the first three only */
    want_mem[0] = 1.25, want_mem[2] = 8.5;
    want_p[0] -= 0.1 * 0.5 / sqrt(1.25 + 1e-8);
    want_p[2] += 0.1 * 2 / sqrt(8.5 + 1e-8);
    CHECK_CLOSE("mem, second step", mem, want_mem, 3, 0, 0);
    CHECK_CLOSE("params, second step", p, want_p, 3, 1e-15, 0);
}

/* The same in float32, where 1 + 1e-8 rounds to 1, so the first entry lands
 * on 0.95. */
static void test_adagrad_update_f32(void)
{
    float p[] = {1, -2, 3, 0};
    float mem[] = {0.75f, 0, 0.5f, 0};
    float g[] = {0.5f, 0, -2, 1e-4f};
    adagrad_update_f32(p, mem, g, 4, 0.1f);
    double got_p[4], got_mem[4];
    for (int i = 0; i < 4; i++) got_p[i] = p[i], got_mem[i] = mem[i];
    double want_mem[] = {1, 0, 4.5, 1e-8};
    double want_p[] = {0.95, -2, 3 + 0.1 * 2 / sqrt(4.5), -0.1 / sqrt(2)};
    CHECK_CLOSE("mem", got_mem, want_mem, 4, 2e-7, 0);
    CHECK_CLOSE("params", got_p, want_p, 4, 2e-7, 0);
}

/* The global norm of (3, 4, 0, ...) is 5 whatever the length; 19 values
 * reach past the eight running sums into the tail loop. */
static void test_gradient_norm(void)
{
    double g[19] = {0};
    g[0] = 3, g[18] = 4;
    double norm = gradient_norm_f64(g, 19), want = 5;
    CHECK_CLOSE("norm", &norm, &want, 1, 0, 0);
    float g32[19] = {0};
    g32[7] = 3, g32[9] = 4;
    norm = gradient_norm_f32(g32, 19);
    CHECK_CLOSE("norm f32", &norm, &want, 1, 0, 0);
}

/* max_norm 1 on (3, 4): scaled by 1 / (5 + 1e-6) to (0.6, 0.8) (to 1e-6),
 * then the elementwise clip at 0.7 takes 0.8 to 0.7; Adagrad's first step
 * then moves each parameter by lr * g / sqrt(g^2 + 1e-8), about lr. */
static void test_optimizer_step_scales_then_clips(void)
{
    optim_config c = {.kind = OPTIM_ADAGRAD, .learning_rate = 0.1, .clip = 0.7,
                      .max_norm = 1};
    double p[] = {0, 0}, mem[] = {0, 0}, g[] = {3, 4};
    optimizer_step_f64(&c, p, g, mem, NULL, 2);
    double scale = 1 / (5 + 1e-6);
    double want_g[] = {3 * scale, 0.7};
    double want_mem[] = {want_g[0] * want_g[0], 0.49};
    double want_p[] = {-0.1 * want_g[0] / sqrt(want_mem[0] + 1e-8), -0.1 * 0.7 / sqrt(0.49 + 1e-8)};
    CHECK_CLOSE("grads as applied", g, want_g, 2, 1e-15, 0);
    CHECK_CLOSE("mem", mem, want_mem, 2, 1e-15, 0);
    CHECK_CLOSE("params", p, want_p, 2, 1e-15, 0);

    /* Under the norm nothing is scaled; max_norm 0 is off. */
    double small[] = {0.3, 0.4}, big[] = {30, 40};
    c.max_norm = 1, c.clip = 100;
    optimizer_step_f64(&c, p, small, mem, NULL, 2);
    CHECK(small[0] == 0.3 && small[1] == 0.4, "scaled under the norm: %g %g", small[0], small[1]);
    c.max_norm = 0;
    optimizer_step_f64(&c, p, big, mem, NULL, 2);
    CHECK(big[0] == 30 && big[1] == 40, "scaled with max_norm 0: %g %g", big[0], big[1]);

    /* A norm that is not finite scales nothing; the clip still bounds inf. */
    double inf_g[] = {INFINITY, 1};
    c.max_norm = 1, c.clip = 5;
    optimizer_step_f64(&c, p, inf_g, mem, NULL, 2);
    CHECK(inf_g[0] == 5 && inf_g[1] == 1, "inf gradient became %g %g", inf_g[0], inf_g[1]);
}

/* The fused step equals clip_gradients then the optimizer's own update, to
 * the bit, for every optimizer, across several 2048-value blocks. */
static void fused_matches_parts(int kind)
{
    enum { N = 5000 };
    static double p1[N], p2[N], a1[N], a2[N], b1[N], b2[N], g1[N], g2[N];
    rng_seed(17);
    for (int i = 0; i < N; i++) {
        p1[i] = p2[i] = rng_uniform(-1, 1);
        a1[i] = a2[i] = kind == OPTIM_ADAM ? rng_uniform(-0.1, 0.1) : rng_uniform(0, 1);
        b1[i] = b2[i] = rng_uniform(0, 1);
        g1[i] = g2[i] = rng_uniform(-8, 8);
    }
    optim_config c = {.kind = kind, .learning_rate = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                      .alpha = 0.95, .eps = 1e-8, .step = 3, .clip = 5, .max_norm = 0};
    optimizer_step_f64(&c, p1, g1, a1, kind == OPTIM_ADAM ? b1 : NULL, N);
    clip_gradients_f64(g2, N, 5);
    if (kind == OPTIM_ADAM)
        adam_update_f64(p2, a2, b2, g2, N, 0.01, 0.9, 0.999, 1e-8, 3);
    else if (kind == OPTIM_RMSPROP)
        rmsprop_update_f64(p2, a2, g2, N, 0.01, 0.95, 1e-8);
    else
        adagrad_update_f64(p2, a2, g2, N, 0.01);
    CHECK_CLOSE("grads", g1, g2, N, 0, 0);
    CHECK_CLOSE("params", p1, p2, N, 0, 0);
    CHECK_CLOSE("state a", a1, a2, N, 0, 0);
    CHECK_CLOSE("state b", b1, b2, N, 0, 0);
}

static void test_fused_adagrad_matches_parts(void) { fused_matches_parts(OPTIM_ADAGRAD); }
static void test_fused_adam_matches_parts(void) { fused_matches_parts(OPTIM_ADAM); }
static void test_fused_rmsprop_matches_parts(void) { fused_matches_parts(OPTIM_RMSPROP); }

void optim_tests(void)
{
    RUN_TEST(test_gradient_norm);
    RUN_TEST(test_optimizer_step_scales_then_clips);
    RUN_TEST(test_fused_adagrad_matches_parts);
    RUN_TEST(test_fused_adam_matches_parts);
    RUN_TEST(test_fused_rmsprop_matches_parts);
    RUN_TEST(test_clip_gradients_f64);
    RUN_TEST(test_clip_gradients_f32);
    RUN_TEST(test_adagrad_update_f64);
    RUN_TEST(test_adagrad_update_f32);
}
