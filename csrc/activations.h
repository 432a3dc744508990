/* tanh and the logistic sigmoid over a buffer, in place.
 *
 * float32 uses a rational approximation that the compiler vectorizes: libm's
 * tanhf is a scalar call (about 11 ns here, against 3 ns), and at 3 x 512 x
 * batch 32 the RNN takes 1.2 million tanh per step. float64 (below) builds
 * tanh from series the compiler vectorizes too, for the same reason.
 *
 *   tanh(x) ~ x P(x^2) / Q(x^2)   for |x| <= 9, and +-1 beyond
 *
 * Coefficients fitted here (Lawson-weighted least squares on the relative
 * error over [0, 9]); evaluated in float32 the error is at most 3.5e-7
 * relative (under 6 ulp). All coefficients are positive, so Q >= 1: no poles.
 * NaN stays NaN: every comparison with it is false. */
#ifndef CHARRNN_ACTIVATIONS_H
#define CHARRNN_ACTIVATIONS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1/k! for k = 18 down to 1: expm1(t) = t * sum_k t^(k-1) / k! */
static const double EXPM1_SERIES[18] = {
    1.5619206968586225e-16, 2.8114572543455206e-15, 4.779477332387385e-14,
    7.647163731819816e-13, 1.1470745597729725e-11, 1.6059043836821613e-10,
    2.08767569878681e-09, 2.505210838544172e-08, 2.755731922398589e-07,
    2.7557319223985893e-06, 2.48015873015873e-05, 0.0001984126984126984,
    0.001388888888888889, 0.008333333333333333, 0.041666666666666664,
    0.16666666666666666, 0.5, 1.0
};

/* 1/k! for k = 13 down to 0: exp(r) = sum_k r^k / k! */
static const double EXP_SERIES[14] = {
    1.6059043836821613e-10, 2.08767569878681e-09, 2.505210838544172e-08,
    2.755731922398589e-07, 2.7557319223985893e-06, 2.48015873015873e-05,
    0.0001984126984126984, 0.001388888888888889, 0.008333333333333333,
    0.041666666666666664, 0.16666666666666666, 0.5, 1.0, 1.0
};

/* exp(v) for v in [-708, 709], where 2^k below stays a normal double:
 *
 *   exp(v) = 2^k exp(r),  k = round(v / ln 2),  r = v - k ln 2 in [-0.35, 0.35]
 *
 * with exp(r) from its Taylor series to r^13 (the rest is below 1e-17 of it)
 * and 2^k written straight into a double's exponent bits. k is rounded by
 * adding and subtracting 1.5 * 2^52, so its bits can be read off the sum
 * without a float-to-int conversion (undefined for NaN). Inline and
 * branch-free: the loops around it vectorize, where libm's exp is a scalar
 * call. The callers clamp v. */
static inline double exp_in_range_f64(double v)
{
    const double round_magic = 6755399441055744.0;                  /* 1.5 * 2^52 */
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double shifted = v * 1.44269504088896340736 + round_magic;
    double k = shifted - round_magic;                               /* round(v / ln 2) */
    double r = (v - k * ln2_hi) - k * ln2_lo;
    double p = EXP_SERIES[0];
#pragma GCC unroll 14   /* unrolled, the caller's loop vectorizes */
    for (int j = 1; j < 14; j++) p = p * r + EXP_SERIES[j];
    /* shifted's low mantissa bits hold k in two's complement: move k + 1023
     * into the exponent field. Unsigned, so NaN's bits cannot overflow. */
    uint64_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - 0x4338000000000000ull + 1023u) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* exp over a buffer of values <= 0 (logits minus their max), in place, to
 * about 2 ulp. Below -708, where exp is under 3.3e-308, the result is 0.
 * NaN stays NaN. */
static inline void exp_nonpositive_inplace_f64(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        double y = exp_in_range_f64(v < -708.0 ? -708.0 : v);
        x[i] = v < -708.0 ? 0.0 : y;
    }
}

/* The float32 softmax keeps libm's expf: at V = 65 it is a small part of a
 * float32 step, whose time goes to the matrix products. */
static inline void exp_nonpositive_inplace_f32(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = expf(x[i]);
}

/* tanh for float64, accurate to a few ulp (csrc/tests/test_activations.c):
 *   |x| < 0.5:  e = expm1(2|x|) from its Taylor series to t^18 (the rest is
 *               below 1e-17 of it), tanh = e / (e + 2): no cancellation;
 *   |x| >= 0.5: exp(2|x|) from exp_in_range_f64,
 *               tanh = 1 - 2 / (exp(2|x|) + 1), at least 0.46: no cancellation;
 * the sign put back with copysign. Both branches are computed and one kept,
 * so the loop has no branch and vectorizes. |x| is clamped to 20, where tanh
 * is 1 in double. NaN stays NaN, -0 stays -0. */
static inline void tanh_inplace_f64(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        a = a > 20.0 ? 20.0 : a;
        double t = 2.0 * a;

        double q = EXPM1_SERIES[0];
#pragma GCC unroll 18   /* unrolled, the outer loop vectorizes */
        for (int j = 1; j < 18; j++) q = q * t + EXPM1_SERIES[j];
        double em = t * q;
        double small = em / (em + 2.0);

        double large = 1.0 - 2.0 / (exp_in_range_f64(t) + 1.0);

        double y = a < 0.5 ? small : large;
        x[i] = copysign(y, x[i]);
    }
}

static inline void tanh_inplace_f32(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v > 9.0f ? 9.0f : v;        /* two plain selects vectorize; */
        v = v < -9.0f ? -9.0f : v;      /* a nested one does not */
        float u = v * v;
        float p = (((1.363804066e-08f * u + 2.081623360e-05f) * u + 3.508290638e-03f) * u
                   + 1.339175958e-01f) * u + 9.999999879e-01f;
        float q = (((7.893322714e-07f * u + 3.306328029e-04f) * u + 2.592542621e-02f) * u
                   + 4.672507967e-01f) * u + 1.0f;
        float y = v * p / q;
        y = y > 1.0f ? 1.0f : y;
        x[i] = y < -1.0f ? -1.0f : y;
    }
}

/* sigmoid(x) = 1 / (1 + exp(-x)).
 *
 * float64 uses exp_in_range_f64 with -x clamped to [-708, 709]: beyond it
 * sigmoid is within 1.3e-308 of 0 or 1. float32 uses an exp of its own that
 * the compiler vectorizes too (libm's expf, like tanhf, is a scalar call):
 *
 *   exp(v) = 2^n exp(r),  n = round(v / ln 2),  r = v - n ln 2 in [-0.35, 0.35]
 *
 * with exp(r) from its Taylor series to r^7 (the next term is below 6e-8 of
 * it) and 2^n written straight into a float's exponent bits. n is rounded by
 * adding and subtracting 1.5 * 2^23, so its bits can be read off the sum
 * without a float-to-int conversion (which would be undefined for NaN).
 * x is clamped to [-87, 87], where 2^n stays a normal float: sigmoid(-87) is
 * 1.6e-38, so beyond the clamp the error is below 2e-38 absolute. Within it
 * the error is at most 4e-7 relative (csrc/tests/test_activations.c).
 * NaN stays NaN. */
static inline void sigmoid_inplace_f64(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = -x[i];
        v = v > 709.0 ? 709.0 : v;
        v = v < -708.0 ? -708.0 : v;
        x[i] = 1.0 / (1.0 + exp_in_range_f64(v));
    }
}

static inline void sigmoid_inplace_f32(float *x, size_t n)
{
    const float round_magic = 12582912.0f;                   /* 1.5 * 2^23 */
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-6f;
    for (size_t i = 0; i < n; i++) {
        float v = -x[i];
        v = v > 87.0f ? 87.0f : v;
        v = v < -87.0f ? -87.0f : v;
        float shifted = v * 1.44269504088896341f + round_magic;
        float k = shifted - round_magic;                     /* round(v / ln 2) */
        float r = (v - k * ln2_hi) - k * ln2_lo;
        float p = ((((((1.984126984e-4f * r + 1.388888889e-3f) * r + 8.333333333e-3f) * r
                      + 4.166666667e-2f) * r + 1.666666667e-1f) * r + 0.5f) * r + 1.0f) * r
                  + 1.0f;
        /* shifted's low mantissa bits hold k + 2^22: move k + 127 into the
         * exponent field. Unsigned arithmetic, so NaN's bits cannot overflow. */
        uint32_t bits;
        memcpy(&bits, &shifted, sizeof bits);
        bits = (bits - 0x4B400000u + 127u) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        x[i] = 1.0f / (1.0f + p * scale);
    }
}

#endif
