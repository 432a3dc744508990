/* tanh over a buffer, in place.
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

#endif
