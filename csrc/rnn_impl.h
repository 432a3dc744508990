/* Template: the tanh RNN cell, one layer over T steps (see stack.h).
 *
 *   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *
 * The stack (stack_impl.h) computes the input side W_ih x_t + b_ih for all
 * steps at once and sums the weight gradients over time; the cell does what
 * depends on the previous step. */

/* Forward: h[1..T] from h[0]. Needs no cache beyond h. */
VECTOR_CLONES
static void FN(rnn_forward)(real *h,                /* (T + 1, B, H), h[0] in */
                            const real *x_side,     /* (T, B, H) W_ih x + b_ih */
                            const real *w_hh,       /* (H, H) */
                            const real *b_hh,       /* (H) */
                            int T, int B, int H)
{
    const size_t BH = (size_t)B * H;
    for (int t = 0; t < T; t++) {
        real *h_t = h + (t + 1) * BH;
        const real *x_t = x_side + t * BH;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) h_t[b * H + j] = x_t[b * H + j] + b_hh[j];
        FN(matmul)(0, 1, B, H, H, 1, h + t * BH, H, w_hh, H, 1, h_t, H);
        FN(tanh_inplace)(h_t, BH);
    }
}

/* Backward: dH[t] holds d loss / d h_t from the layer above; the gradient
 * through the recurrence is added into it as t goes down (dH is used up).
 * dgates[t] = d loss / d (pre-activation at t), for both W_ih's and W_hh's side. */
VECTOR_CLONES
static void FN(rnn_backward)(real *dgates,          /* (T, B, H) out */
                             real *dH,              /* (T, B, H) in, used up */
                             const real *h,         /* (T + 1, B, H) */
                             const real *w_hh,      /* (H, H) */
                             int T, int B, int H)
{
    const size_t BH = (size_t)B * H;
    for (int t = T - 1; t >= 0; t--) {
        const real *h_t = h + (t + 1) * BH;
        real *dH_t = dH + t * BH, *d_t = dgates + t * BH;
        for (size_t i = 0; i < BH; i++) d_t[i] = (1 - h_t[i] * h_t[i]) * dH_t[i];
        if (t > 0) FN(matmul)(0, 0, B, H, H, 1, d_t, H, w_hh, H, 1, dH_t - BH, H);
    }
}
