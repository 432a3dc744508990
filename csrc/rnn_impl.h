/* Template: forward and BPTT of the tanh RNN stack (see rnn.h). */

/* The stack's forward pass: every layer's hidden states into hs (with h0
 * first), the last ones into h_last, and the output logits into logits. */
static void FN(stack_forward)(real *hs,                 /* (L, T + 1, B, H) */
                              real *logits,             /* (T, B, V) */
                              real *bias,               /* (H) scratch */
                              real *h_last,             /* (L, B, H) */
                              const real *params,       /* (P) */
                              const int32_t *inputs,    /* (T, B) */
                              const real *h0,           /* (L, B, H) */
                              int V, int H, int L, int T, int B)
{
    const size_t BH = (size_t)B * H, TB = (size_t)T * B;
    const size_t layer_states = (size_t)(T + 1) * BH;
    for (int l = 0; l < L; l++) {
        layer_offsets o = rnn_layer_offsets(V, H, l);
        const real *w_ih = params + o.weight_ih, *w_hh = params + o.weight_hh;
        real *h = hs + l * layer_states;          /* (T + 1, B, H) */
        real *pre = h + BH;                       /* rows 1..T: (T * B, H) */
        memcpy(h, h0 + l * BH, BH * sizeof(real));
        for (int j = 0; j < H; j++)
            bias[j] = params[o.bias_ih + j] + params[o.bias_hh + j];

        /* The input projections do not depend on the previous step: for
         * layer 0 a column gather of W_ih (the one-hot matmul), above it one
         * gemm over all time steps. */
        if (l == 0) {
            for (size_t n = 0; n < TB; n++) {
                const real *column = w_ih + inputs[n];
                real *row = pre + n * H;
                for (int j = 0; j < H; j++) row[j] = column[(size_t)j * V] + bias[j];
            }
        } else {
            for (size_t n = 0; n < TB; n++) memcpy(pre + n * H, bias, H * sizeof(real));
            const real *below = hs + (l - 1) * layer_states + BH;
            FN(matmul)(0, 1, (int)TB, H, H, 1, below, H, w_ih, H, 1, pre, H);
        }
        /* The recurrence: h_t = tanh(pre_t + h_{t-1} W_hh^T). */
        for (int t = 0; t < T; t++) {
            real *h_t = h + (t + 1) * BH;
            FN(matmul)(0, 1, B, H, H, 1, h + t * BH, H, w_hh, H, 1, h_t, H);
            FN(tanh_inplace)(h_t, BH);
        }
        memcpy(h_last + l * BH, h + T * BH, BH * sizeof(real));
    }

    const size_t out = rnn_output_offset(V, H, L);
    const real *w_ho = params + out, *b_o = params + out + (size_t)V * H;
    const real *top = hs + (L - 1) * layer_states + BH;   /* (T * B, H) */
    for (size_t n = 0; n < TB; n++) memcpy(logits + n * V, b_o, V * sizeof(real));
    FN(matmul)(0, 1, (int)TB, V, H, 1, top, H, w_ho, H, 1, logits, V);
}

int FN(rnn_forward_backward)(real *grads,              /* (P) or NULL */
                             real *h_last,             /* (L, B, H) */
                             double *loss,             /* scalar */
                             const real *params,       /* (P) */
                             const int32_t *inputs,    /* (T, B) */
                             const int32_t *targets,   /* (T, B) */
                             const real *h0,           /* (L, B, H) */
                             int V, int H, int L, int T, int B)
{
    const size_t BH = (size_t)B * H, TB = (size_t)T * B;
    const size_t layer_states = (size_t)(T + 1) * BH;

    /* One workspace: every layer's hidden states (h0 first), the output
     * probabilities, and for backward the gradients flowing down (dH) and
     * through the tanh (dpre). */
    size_t workspace_size = (size_t)L * layer_states + TB * V + H;
    if (grads) workspace_size += 2 * TB * H;
    real *workspace = malloc(workspace_size * sizeof(real));
    if (!workspace) return -1;
    real *hs = workspace;                         /* (L, T + 1, B, H) */
    real *probs = hs + (size_t)L * layer_states;  /* (T, B, V) */
    real *bias = probs + TB * V;                  /* (H) */
    real *dH = bias + H;                          /* (T, B, H) */
    real *dpre = dH + TB * H;                     /* (T, B, H) */

    /* ---- forward ---- */
    FN(stack_forward)(hs, probs, bias, h_last, params, inputs, h0, V, H, L, T, B);
    const size_t out = rnn_output_offset(V, H, L);
    const real *w_ho = params + out;
    const real *top = hs + (L - 1) * layer_states + BH;   /* (T * B, H) */
    *loss = FN(softmax_cross_entropy)(probs, NULL, targets, (int)TB, V) / B;

    if (!grads) {
        free(workspace);
        return 0;
    }

    /* ---- backward ---- */
    FN(softmax_cross_entropy_backward)(probs, targets, (int)TB, V, (real)1 / B);
    real *g_ho = grads + out, *g_bo = grads + out + (size_t)V * H;
    FN(matmul)(1, 0, V, H, (int)TB, 1, probs, V, top, H, 1, g_ho, H);
    for (size_t n = 0; n < TB; n++)
        for (int v = 0; v < V; v++) g_bo[v] += probs[n * V + v];
    FN(matmul)(0, 0, (int)TB, H, V, 1, probs, V, w_ho, H, 0, dH, H);

    for (int l = L - 1; l >= 0; l--) {
        layer_offsets o = rnn_layer_offsets(V, H, l);
        const real *w_ih = params + o.weight_ih, *w_hh = params + o.weight_hh;
        const real *h = hs + l * layer_states;

        /* Back through time: dH[t] holds d loss / d h_t from above and, once
         * step t + 1 is done, from the future too. */
        for (int t = T - 1; t >= 0; t--) {
            const real *h_t = h + (t + 1) * BH;
            real *dH_t = dH + t * BH, *dpre_t = dpre + t * BH;
            for (size_t i = 0; i < BH; i++) dpre_t[i] = (1 - h_t[i] * h_t[i]) * dH_t[i];
            if (t > 0)
                FN(matmul)(0, 0, B, H, H, 1, dpre_t, H, w_hh, H, 1, dH_t - BH, H);
        }

        /* Weight gradients sum over time: one gemm each, over all steps. */
        FN(matmul)(1, 0, H, H, (int)TB, 1, dpre, H, h, H, 1, grads + o.weight_hh, H);
        for (int j = 0; j < H; j++) bias[j] = 0;
        for (size_t n = 0; n < TB; n++)
            for (int j = 0; j < H; j++) bias[j] += dpre[n * H + j];
        for (int j = 0; j < H; j++) {
            grads[o.bias_ih + j] += bias[j];
            grads[o.bias_hh + j] += bias[j];
        }

        if (l > 0) {
            const real *below = hs + (l - 1) * layer_states + BH;
            FN(matmul)(1, 0, H, H, (int)TB, 1, dpre, H, below, H, 1, grads + o.weight_ih, H);
            FN(matmul)(0, 0, (int)TB, H, H, 1, dpre, H, w_ih, H, 0, dH, H);
        } else {
            /* The transpose of the gather: scatter-add into W_ih's columns. */
            real *g_ih = grads + o.weight_ih;
            for (size_t n = 0; n < TB; n++) {
                real *column = g_ih + inputs[n];
                const real *row = dpre + n * H;
                for (int j = 0; j < H; j++) column[(size_t)j * V] += row[j];
            }
        }
    }
    free(workspace);
    return 0;
}

int FN(rnn_target_log_probs)(double *log_probs,        /* (T, B) */
                             real *h_last,             /* (L, B, H) */
                             const real *params,       /* (P) */
                             const int32_t *inputs,    /* (T, B) */
                             const int32_t *targets,   /* (T, B) */
                             const real *h0,           /* (L, B, H) */
                             int V, int H, int L, int T, int B)
{
    const size_t TB = (size_t)T * B;
    real *workspace = malloc(((size_t)L * (T + 1) * B * H + TB * V + H) * sizeof(real));
    if (!workspace) return -1;
    real *hs = workspace, *logits = hs + (size_t)L * (T + 1) * B * H, *bias = logits + TB * V;
    FN(stack_forward)(hs, logits, bias, h_last, params, inputs, h0, V, H, L, T, B);
    FN(softmax_cross_entropy)(logits, log_probs, targets, (int)TB, V);
    free(workspace);
    return 0;
}
