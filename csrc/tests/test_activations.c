/* activations.h: tanh, sigmoid and exp against libm. */
#include <float.h>
#include <math.h>

#include "activations.h"
#include "check.h"

/* Over [-12, 12] on a fine grid, plus tiny values where tanh(x) ~ x: every
 * result within 4e-7 relative of the true tanh, and never beyond +-1. */
static void test_tanh_f32_is_accurate(void)
{
    enum { N = 240001, TINY = 40 };
    static float x[N + TINY];
    for (int i = 0; i < N; i++) x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    for (int i = 0; i < TINY; i++) x[N + i] = ldexpf(1.0f, -i - 10);
    static float y[N + TINY];
    for (int i = 0; i < N + TINY; i++) y[i] = x[i];
    tanh_inplace_f32(y, N + TINY);

    double worst = 0;
    for (int i = 0; i < N + TINY; i++) {
        double want = tanh((double)x[i]);
        double error = fabs(y[i] - want) / fabs(want);
        if (x[i] == 0.0f) error = fabs(y[i]);
        if (error > worst) worst = error;
        CHECK(fabsf(y[i]) <= 1.0f, "tanh(%g) = %g is beyond 1", x[i], y[i]);
    }
    CHECK(worst < 4e-7, "worst relative error %.3g", worst);
}

static void test_tanh_f32_special_values(void)
{
    float y[5] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN};
    tanh_inplace_f32(y, 5);
    CHECK(y[0] == 0.0f && y[1] == 0.0f, "tanh(+-0) = %g, %g", y[0], y[1]);
    CHECK(y[2] == 1.0f && y[3] == -1.0f, "tanh(+-inf) = %g, %g", y[2], y[3]);
    CHECK(isnan(y[4]), "tanh(NaN) = %g must stay NaN", y[4]);
}

/* Over [-90, 90] on a fine grid: within 4e-7 relative of 1 / (1 + exp(-x))
 * where |x| <= 87 (the clamp), within 2e-38 absolute beyond, and in [0, 1]. */
static void test_sigmoid_f32_is_accurate(void)
{
    enum { N = 360001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) y[i] = x[i] = -90.0f + 180.0f * (float)i / (N - 1);
    sigmoid_inplace_f32(y, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double want = 1.0 / (1.0 + exp(-(double)x[i]));
        CHECK(y[i] >= 0.0f && y[i] <= 1.0f, "sigmoid(%g) = %g is outside [0, 1]", x[i], y[i]);
        if (fabsf(x[i]) <= 87.0f) {
            double error = fabs(y[i] - want) / want;
            if (error > worst) worst = error;
        } else {
            CHECK(fabs(y[i] - want) < 2e-38, "sigmoid(%g) = %g, want %g", x[i], y[i], want);
        }
    }
    CHECK(worst < 4e-7, "worst relative error %.3g", worst);
}

static void test_sigmoid_f32_special_values(void)
{
    float y[5] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN};
    sigmoid_inplace_f32(y, 5);
    CHECK(y[0] == 0.5f && y[1] == 0.5f, "sigmoid(+-0) = %g, %g", y[0], y[1]);
    CHECK(y[2] == 1.0f && y[3] < 2e-38f && y[3] >= 0.0f, "sigmoid(+-inf) = %g, %g", y[2], y[3]);
    CHECK(isnan(y[4]), "sigmoid(NaN) = %g must stay NaN", y[4]);
}

/* The float64 tanh against libm's: within 4 ulp over [-25, 25] and on tiny
 * values where tanh(x) ~ x, with both sides of the 0.5 switch covered. */
static void test_tanh_f64_is_accurate(void)
{
    enum { N = 200001, TINY = 60 };
    static double x[N + TINY], y[N + TINY];
    for (int i = 0; i < N; i++) x[i] = -25.0 + 50.0 * (double)i / (N - 1);
    for (int i = 0; i < TINY; i++) x[N + i] = ldexp(1.3, -i - 1);
    for (int i = 0; i < N + TINY; i++) y[i] = x[i];
    tanh_inplace_f64(y, N + TINY);

    double worst = 0;
    for (int i = 0; i < N + TINY; i++) {
        double want = tanh(x[i]);
        double ulps = want == 0 ? fabs(y[i]) : fabs(y[i] - want) / (fabs(want) * DBL_EPSILON);
        if (ulps > worst) worst = ulps;
        CHECK(fabs(y[i]) <= 1.0, "tanh(%g) = %g is beyond 1", x[i], y[i]);
    }
    CHECK(worst <= 4.0, "worst error %.2f ulp", worst);
}

static void test_tanh_f64_special_values(void)
{
    double y[6] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 0.5};
    tanh_inplace_f64(y, 6);
    CHECK(y[0] == 0.0 && !signbit(y[0]) && y[1] == 0.0 && signbit(y[1]),
          "tanh(+-0) = %g, %g keeps the sign", y[0], y[1]);
    CHECK(y[2] == 1.0 && y[3] == -1.0, "tanh(+-inf) = %g, %g", y[2], y[3]);
    CHECK(isnan(y[4]), "tanh(NaN) = %g must stay NaN", y[4]);
    CHECK(fabs(y[5] - tanh(0.5)) <= 4 * DBL_EPSILON, "tanh(0.5) = %.17g", y[5]);
}

/* The float64 exp of the softmax and sampling against libm's: within 4 ulp
 * over [-708, 0], then 0 below -708 (where exp is under 3.3e-308). */
static void test_exp_nonpositive_f64_is_accurate(void)
{
    enum { N = 200001 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -708.0 * (double)i / (N - 1);
    for (int i = 0; i < N; i++) y[i] = x[i];
    exp_nonpositive_inplace_f64(y, N);

    double worst = 0;
    for (int i = 0; i < N; i++) {
        double ulps = fabs(y[i] - exp(x[i])) / (exp(x[i]) * DBL_EPSILON);
        if (ulps > worst) worst = ulps;
    }
    CHECK(worst <= 4.0, "worst error %.2f ulp", worst);
}

static void test_exp_nonpositive_f64_special_values(void)
{
    double y[6] = {0.0, -0.0, -INFINITY, NAN, -708.5, -1e6};
    exp_nonpositive_inplace_f64(y, 6);
    CHECK(y[0] == 1.0 && y[1] == 1.0, "exp(+-0) = %.17g, %.17g, want exactly 1", y[0], y[1]);
    CHECK(y[2] == 0.0, "exp(-inf) = %g", y[2]);
    CHECK(isnan(y[3]), "exp(NaN) = %g must stay NaN", y[3]);
    CHECK(y[4] == 0.0 && y[5] == 0.0, "exp(-708.5), exp(-1e6) = %g, %g, want 0", y[4], y[5]);
}

/* The float64 sigmoid against 1 / (1 + exp(-x)) in libm: within 4 ulp over
 * [-700, 700], and at the far ends within 1.3e-308 of 0 and 1. */
static void test_sigmoid_f64_is_accurate(void)
{
    enum { N = 140001 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -700.0 + 1400.0 * (double)i / (N - 1);
    for (int i = 0; i < N; i++) y[i] = x[i];
    sigmoid_inplace_f64(y, N);

    double worst = 0;
    for (int i = 0; i < N; i++) {
        double want = 1.0 / (1.0 + exp(-x[i]));
        double ulps = fabs(y[i] - want) / (want * DBL_EPSILON);
        if (ulps > worst) worst = ulps;
    }
    CHECK(worst <= 4.0, "worst error %.2f ulp", worst);

    double ends[5] = {-1e4, -709.5, 709.5, 1e4, NAN};
    sigmoid_inplace_f64(ends, 5);
    CHECK(ends[0] >= 0 && ends[0] < 1.3e-308 && ends[1] >= 0 && ends[1] < 1.3e-308,
          "sigmoid(-1e4), sigmoid(-709.5) = %g, %g", ends[0], ends[1]);
    CHECK(ends[2] == 1.0 && ends[3] == 1.0, "sigmoid(709.5), sigmoid(1e4) = %.17g, %.17g",
          ends[2], ends[3]);
    CHECK(isnan(ends[4]), "sigmoid(NaN) = %g must stay NaN", ends[4]);
}

void activation_tests(void)
{
    RUN_TEST(test_tanh_f32_is_accurate);
    RUN_TEST(test_tanh_f32_special_values);
    RUN_TEST(test_tanh_f64_is_accurate);
    RUN_TEST(test_tanh_f64_special_values);
    RUN_TEST(test_exp_nonpositive_f64_is_accurate);
    RUN_TEST(test_exp_nonpositive_f64_special_values);
    RUN_TEST(test_sigmoid_f64_is_accurate);
    RUN_TEST(test_sigmoid_f32_is_accurate);
    RUN_TEST(test_sigmoid_f32_special_values);
}
