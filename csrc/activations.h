/* tanh and the logistic sigmoid over a buffer, in place.
 *
 * float64 uses libm. float32 uses a rational approximation that the compiler
 * vectorizes: libm's tanhf is a scalar call (about 11 ns here, against 3 ns),
 * and at 3 x 512 x batch 32 the RNN takes 1.2 million tanh per step.
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

static inline void tanh_inplace_f64(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = tanh(x[i]);
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
 * float64 uses libm's exp. float32 uses an exp of its own that the compiler
 * vectorizes (libm's expf, like tanhf, is a scalar call):
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
    for (size_t i = 0; i < n; i++) x[i] = 1.0 / (1.0 + exp(-x[i]));
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
