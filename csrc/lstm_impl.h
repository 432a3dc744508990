/* Template: the LSTM cell, one layer over T steps, as PyTorch's nn.LSTM.
 *
 *   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
 *   f = sigmoid(W_if x + b_if + W_hf h + b_hf)
 *   g = tanh(W_ig x + b_ig + W_hg h + b_hg)
 *   o = sigmoid(W_io x + b_io + W_ho h + b_ho)
 *   c' = f * c + i * g
 *   h' = o * tanh(c')
 *
 * Gate blocks in W_ih, W_hh and the biases are in the order i, f, g, o. The
 * stack (stack_impl.h) computes the input side for all steps at once; only
 * W_hh h goes step by step. */

/* Cache per layer: the cell states c_0..c_T, then tanh(c_1..c_T). */
static size_t FN(lstm_cache_size)(int T, int B, int H)
{
    return (size_t)(T + 1) * B * H + (size_t)T * B * H;
}

/* Forward: h[1..T] and c[1..T] from h[0] and c0; gates turns from the input
 * side into the activated i, f, g, o, which backward reads. */
VECTOR_CLONES
static void FN(lstm_forward)(real *h,               /* (T + 1, B, H), h[0] in */
                             real *gates,           /* (T, B, 4H) in: W_ih x + b_ih; out: i, f, g, o */
                             real *cache,           /* (lstm_cache_size) */
                             real *c_last,          /* (B, H) out */
                             const real *c0,        /* (B, H); may be c_last */
                             const real *w_hh,      /* (4H, H) */
                             const real *b_hh,      /* (4H) */
                             int T, int B, int H)
{
    const size_t BH = (size_t)B * H, H4 = (size_t)4 * H, TB = (size_t)T * B;
    real *c = cache, *tanh_c = cache + (size_t)(T + 1) * BH;
    memcpy(c, c0, BH * sizeof(real));
    for (size_t n = 0; n < TB; n++)
        for (size_t k = 0; k < H4; k++) gates[n * H4 + k] += b_hh[k];
    for (int t = 0; t < T; t++) {
        real *g_t = gates + (size_t)t * B * H4;
        FN(matmul)(0, 1, B, (int)H4, H, 1, h + t * BH, H, w_hh, H, 1, g_t, (int)H4);
        for (int b = 0; b < B; b++) {
            real *i = g_t + b * H4, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
            const real *c_prev = c + t * BH + b * H;
            real *c_new = c + (t + 1) * BH + b * H, *tc = tanh_c + t * BH + b * H;
            real *out = h + (t + 1) * BH + b * H;
            FN(sigmoid_inplace)(i, 2 * (size_t)H);          /* i and f */
            FN(tanh_inplace)(g, H);
            FN(sigmoid_inplace)(o, H);
            for (int j = 0; j < H; j++) tc[j] = c_new[j] = f[j] * c_prev[j] + i[j] * g[j];
            FN(tanh_inplace)(tc, H);
            for (int j = 0; j < H; j++) out[j] = o[j] * tc[j];
        }
    }
    memcpy(c_last, c + T * BH, BH * sizeof(real));
}

/* Backward: dH[t] holds d loss / d h_t from above; the recurrence adds into
 * it as t goes down (dH is used up). No gradient flows in from c_T. dgates
 * is d loss / d (pre-activations), for both W_ih's and W_hh's side. */
VECTOR_CLONES
static void FN(lstm_backward)(real *dgates,         /* (T, B, 4H) out */
                              real *dH,             /* (T, B, H) in, used up */
                              real *dc,             /* (B, H) scratch */
                              const real *gates,    /* (T, B, 4H) i, f, g, o */
                              const real *cache,    /* (lstm_cache_size) */
                              const real *w_hh,     /* (4H, H) */
                              int T, int B, int H)
{
    const size_t BH = (size_t)B * H, H4 = (size_t)4 * H;
    const real *c = cache, *tanh_c = cache + (size_t)(T + 1) * BH;
    memset(dc, 0, BH * sizeof(real));
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)t * B + b;
            const real *i = gates + row * H4, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
            const real *c_prev = c + t * BH + b * H, *tc = tanh_c + row * H;
            const real *dh = dH + row * H;
            real *d = dgates + row * H4, *dc_b = dc + b * H;
            for (int j = 0; j < H; j++) {
                real dc_j = dc_b[j] + dh[j] * o[j] * (1 - tc[j] * tc[j]);
                d[j] = dc_j * g[j] * i[j] * (1 - i[j]);
                d[H + j] = dc_j * c_prev[j] * f[j] * (1 - f[j]);
                d[2 * H + j] = dc_j * i[j] * (1 - g[j] * g[j]);
                d[3 * H + j] = dh[j] * tc[j] * o[j] * (1 - o[j]);
                dc_b[j] = dc_j * f[j];
            }
        }
        if (t > 0)
            FN(matmul)(0, 0, B, H, (int)H4, 1, dgates + (size_t)t * B * H4, (int)H4, w_hh, H, 1,
                       dH + (t - 1) * BH, H);
    }
}
