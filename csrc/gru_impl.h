/* Template: the GRU cell, one layer over T steps, as PyTorch's nn.GRU.
 *
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h
 *
 * Gate blocks in W_ih, W_hh and the biases are in the order r, z, n. The
 * stack (stack_impl.h) computes the input side for all steps at once; only
 * the hidden side W_hh h + b_hh goes step by step. */

/* Cache per layer: W_hn h_{t-1} + b_hn for every step (backward needs it for
 * r), then one step's hidden side (B, 3H). */
static size_t FN(gru_cache_size)(int T, int B, int H)
{
    return (size_t)T * B * H + (size_t)B * 3 * H;
}

/* Forward: h[1..T] from h[0]; gates turns from the input side into the
 * activated r, z, n, which backward reads. */
VECTOR_CLONES
static void FN(gru_forward)(real *h,                /* (T + 1, B, H), h[0] in */
                            real *gates,            /* (T, B, 3H) in: W_ih x + b_ih; out: r, z, n */
                            real *cache,            /* (gru_cache_size) */
                            const real *w_hh,       /* (3H, H) */
                            const real *b_hh,       /* (3H) */
                            int T, int B, int H)
{
    const size_t BH = (size_t)B * H, H3 = (size_t)3 * H;
    real *hn = cache;                               /* (T, B, H) */
    real *hidden = cache + (size_t)T * BH;          /* (B, 3H) */
    for (int t = 0; t < T; t++) {
        const real *h_prev = h + t * BH;
        real *h_t = h + (t + 1) * BH;
        for (int b = 0; b < B; b++) memcpy(hidden + b * H3, b_hh, H3 * sizeof(real));
        FN(matmul)(0, 1, B, (int)H3, H, 1, h_prev, H, w_hh, H, 1, hidden, (int)H3);
        for (int b = 0; b < B; b++) {
            real *r = gates + ((size_t)t * B + b) * H3, *z = r + H, *n = r + 2 * H;
            const real *hid = hidden + b * H3, *hp = h_prev + b * H;
            real *hn_tb = hn + ((size_t)t * B + b) * H, *out = h_t + b * H;
            for (int k = 0; k < 2 * H; k++) r[k] += hid[k];
            FN(sigmoid_inplace)(r, 2 * (size_t)H);          /* r and z */
            for (int j = 0; j < H; j++) {
                hn_tb[j] = hid[2 * H + j];
                n[j] += r[j] * hn_tb[j];
            }
            FN(tanh_inplace)(n, H);
            for (int j = 0; j < H; j++) out[j] = n[j] + z[j] * (hp[j] - n[j]);
        }
    }
}

/* Backward: dH[t] holds d loss / d h_t from above; the recurrence adds into
 * it as t goes down (dH is used up). The gradient with respect to the input
 * side (dx) and the hidden side (dh) differ in the n block only:
 * d(W_hn h + b_hn) = r * d(W_in x + b_in). */
VECTOR_CLONES
static void FN(gru_backward)(real *dx,              /* (T, B, 3H) out */
                             real *dh,              /* (T, B, 3H) out */
                             real *dH,              /* (T, B, H) in, used up */
                             const real *h,         /* (T + 1, B, H) */
                             const real *gates,     /* (T, B, 3H) r, z, n */
                             const real *cache,     /* (gru_cache_size) */
                             const real *w_hh,      /* (3H, H) */
                             int T, int B, int H)
{
    const size_t BH = (size_t)B * H, H3 = (size_t)3 * H;
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)t * B + b;
            const real *r = gates + row * H3, *z = r + H, *n = r + 2 * H;
            const real *hn = cache + row * H, *hp = h + t * BH + b * H;
            const real *dh_out = dH + row * H;
            real *dx_r = dx + row * H3, *dh_r = dh + row * H3;
            for (int j = 0; j < H; j++) {
                real d = dh_out[j];
                real dn = d * (1 - z[j]) * (1 - n[j] * n[j]);
                real dz = d * (hp[j] - n[j]) * z[j] * (1 - z[j]);
                real dr = dn * hn[j] * r[j] * (1 - r[j]);
                dx_r[j] = dh_r[j] = dr;
                dx_r[H + j] = dh_r[H + j] = dz;
                dx_r[2 * H + j] = dn;
                dh_r[2 * H + j] = dn * r[j];
            }
            if (t > 0) {
                real *dH_prev = dH + (row - B) * H;      /* h' = ... + z * h */
                for (int j = 0; j < H; j++) dH_prev[j] += dh_out[j] * z[j];
            }
        }
        if (t > 0)
            FN(matmul)(0, 0, B, H, (int)H3, 1, dh + (size_t)t * B * H3, (int)H3, w_hh, H, 1,
                       dH + (t - 1) * BH, H);
    }
}
