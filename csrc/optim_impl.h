/* Template: clipping and the Adagrad step, one flat loop each. */

VECTOR_CLONES
void FN(clip_gradients)(real *grads, size_t n, real clip)
{
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        /* NaN stays NaN (both comparisons are false), so it is not hidden. */
        grads[i] = g > clip ? clip : (g < -clip ? -clip : g);
    }
}

VECTOR_CLONES
void FN(adagrad_update)(real *params, real *mem, const real *grads, size_t n,
                        real learning_rate)
{
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        mem[i] += g * g;
        params[i] -= learning_rate * g / SQRT(mem[i] + (real)1e-8);
    }
}

VECTOR_CLONES
void FN(adam_update)(real *params, real *m, real *v, const real *grads, size_t n,
                     real learning_rate, real beta1, real beta2, real eps, long step)
{
    /* The bias corrections, once per call, in double as PyTorch does. */
    real step_size = (real)(learning_rate / (1 - pow(beta1, (double)step)));
    real root_correction = (real)sqrt(1 - pow(beta2, (double)step));
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        m[i] += (1 - beta1) * (g - m[i]);   /* PyTorch's lerp form */
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        params[i] -= step_size * (m[i] / (SQRT(v[i]) / root_correction + eps));
    }
}

VECTOR_CLONES
void FN(rmsprop_update)(real *params, real *v, const real *grads, size_t n,
                        real learning_rate, real alpha, real eps)
{
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        v[i] = alpha * v[i] + (1 - alpha) * g * g;
        params[i] -= learning_rate * (g / (SQRT(v[i]) + eps));
    }
}

/* Clip, then Adagrad, a block at a time: the block of clipped gradients is
 * still in L1 when the update reads it, so the buffers are swept once. */
void FN(clip_and_adagrad)(real *params, real *mem, real *grads, size_t n,
                          real learning_rate, real clip)
{
    const size_t block = 2048;
    for (size_t start = 0; start < n; start += block) {
        size_t count = n - start < block ? n - start : block;
        FN(clip_gradients)(grads + start, count, clip);
        FN(adagrad_update)(params + start, mem + start, grads + start, count,
                           learning_rate);
    }
}
