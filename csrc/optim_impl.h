/* Template: the optimizer step (optim.h), one flat loop per part. */

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
        params[i] -= learning_rate * g / SQRT(mem[i] + (real)OPTIM_ADAGRAD_EPS);
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

double FN(gradient_norm)(const real *grads, size_t n)
{
    /* Eight running sums, so the adds need not wait on each other; the order
     * is fixed by the code, so every machine gets the same bits. */
    double sums[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) sums[k] += (double)grads[i + k] * grads[i + k];
    for (; i < n; i++) sums[0] += (double)grads[i] * grads[i];
    double total = 0;
    for (int k = 0; k < 8; k++) total += sums[k];
    return sqrt(total);
}

VECTOR_CLONES
static void FN(scale_gradients)(real *grads, size_t n, real scale)
{
    for (size_t i = 0; i < n; i++) grads[i] *= scale;
}

static void FN(update)(const optim_config *c, real *params, real *grads, real *state_a,
                       real *state_b, size_t n)
{
    switch (c->kind) {
    case OPTIM_ADAM:
        FN(adam_update)(params, state_a, state_b, grads, n, (real)c->learning_rate,
                        (real)c->beta1, (real)c->beta2, (real)c->eps, c->step);
        break;
    case OPTIM_RMSPROP:
        FN(rmsprop_update)(params, state_a, grads, n, (real)c->learning_rate,
                           (real)c->alpha, (real)c->eps);
        break;
    default:
        FN(adagrad_update)(params, state_a, grads, n, (real)c->learning_rate);
    }
}

/* Clip, then update, a block at a time: the block of clipped gradients is
 * still in L1 when the update reads it, so the buffers are swept once. */
void FN(optimizer_step)(const optim_config *config, real *params, real *grads,
                        real *state_a, real *state_b, size_t n)
{
    const size_t block = 2048;
    real scale = 1;
    if (config->max_norm > 0) {
        /* As torch.nn.utils.clip_grad_norm_; a norm that is not finite
         * scales nothing (the elementwise clip still bounds an inf). */
        double norm = FN(gradient_norm)(grads, n);
        if (isfinite(norm) && norm > config->max_norm)
            scale = (real)(config->max_norm / (norm + OPTIM_NORM_EPS));
    }
    for (size_t start = 0; start < n; start += block) {
        size_t count = n - start < block ? n - start : block;
        if (scale != 1) FN(scale_gradients)(grads + start, count, scale);
        FN(clip_gradients)(grads + start, count, (real)config->clip);
        FN(update)(config, params + start, grads + start, state_a + start,
                   state_b ? state_b + start : NULL, count);
    }
}
