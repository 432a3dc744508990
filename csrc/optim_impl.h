/* Template: clipping and the Adagrad step, one flat loop each. */

void FN(clip_gradients)(real *grads, size_t n, real clip)
{
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        /* NaN stays NaN (both comparisons are false), so it is not hidden. */
        grads[i] = g > clip ? clip : (g < -clip ? -clip : g);
    }
}

void FN(adagrad_update)(real *params, real *mem, const real *grads, size_t n,
                        real learning_rate)
{
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        mem[i] += g * g;
        params[i] -= learning_rate * g / SQRT(mem[i] + (real)1e-8);
    }
}
