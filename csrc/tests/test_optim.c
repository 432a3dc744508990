/* Clipping and the Adagrad step (optim.h) against values worked by hand. */
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

void optim_tests(void)
{
    RUN_TEST(test_clip_gradients_f64);
    RUN_TEST(test_clip_gradients_f32);
    RUN_TEST(test_adagrad_update_f64);
    RUN_TEST(test_adagrad_update_f32);
}
