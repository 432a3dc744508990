/* Template: one-character steps of the RNN stack, and drawing from them. */

/* One time step for one stream: h (L, H) advances on input x, and logits
 * (V) are the output layer's. pre (H) is scratch. Products go through gemv. */
static void FN(rnn_step)(real *h, real *logits, real *pre, const real *params,
                         int32_t x, int V, int H, int L)
{
    for (int l = 0; l < L; l++) {
        layer_offsets o = rnn_layer_offsets(V, H, l);
        real *h_l = h + (size_t)l * H;
        const real *w_ih = params + o.weight_ih;
        for (int j = 0; j < H; j++)
            pre[j] = params[o.bias_ih + j] + params[o.bias_hh + j];
        if (l == 0) {
            for (int j = 0; j < H; j++) pre[j] += w_ih[(size_t)j * V + x];
        } else {
            FN(matmul)(0, 1, 1, H, H, 1, h_l - H, H, w_ih, H, 1, pre, H);
        }
        FN(matmul)(0, 1, 1, H, H, 1, h_l, H, params + o.weight_hh, H, 1, pre, H);
        FN(tanh_inplace)(pre, H);
        memcpy(h_l, pre, H * sizeof(real));
    }
    const size_t out = rnn_output_offset(V, H, L);
    memcpy(logits, params + out + (size_t)V * H, V * sizeof(real));
    FN(matmul)(0, 1, 1, V, H, 1, h + (size_t)(L - 1) * H, H, params + out, H, 1, logits, V);
}

typedef struct {
    double p;
    int32_t index;
} FN(candidate);

static int FN(by_probability_descending)(const void *a, const void *b)
{
    double pa = ((const FN(candidate) *)a)->p, pb = ((const FN(candidate) *)b)->p;
    if (pa != pb) return pa > pb ? -1 : 1;
    /* Ties broken by index, so qsort's order cannot change the draw. */
    return ((const FN(candidate) *)a)->index - ((const FN(candidate) *)b)->index;
}

/* Draw one character from logits (V); ranked (V) is scratch. */
static int32_t FN(draw)(const real *logits, FN(candidate) *ranked, uint64_t *rng,
                        double temperature, int top_k, double top_p, int V)
{
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (temperature <= 0) return best;

    /* exp((z - max) / temperature), in double: the max is 1, nothing overflows. */
    double total = 0;
    for (int v = 0; v < V; v++) {
        ranked[v].p = exp(((double)logits[v] - (double)logits[best]) / temperature);
        ranked[v].index = v;
        total += ranked[v].p;
    }
    int count = V;
    if ((top_k > 0 && top_k < V) || top_p < 1) {
        qsort(ranked, V, sizeof(ranked[0]), FN(by_probability_descending));
        if (top_k > 0 && top_k < V) count = top_k;
        if (top_p < 1) {
            /* The smallest head of the ranking whose mass reaches top_p. */
            double mass = 0, kept = 0;
            for (int v = 0; v < count; v++) mass += ranked[v].p;
            for (int v = 0; v < count; v++) {
                kept += ranked[v].p;
                if (kept >= top_p * mass) {
                    count = v + 1;
                    break;
                }
            }
        }
        total = 0;
        for (int v = 0; v < count; v++) total += ranked[v].p;
    }
    double u = random_uniform(rng) * total, cumulative = 0;
    for (int v = 0; v < count; v++) {
        cumulative += ranked[v].p;
        if (u < cumulative) return ranked[v].index;
    }
    return ranked[count - 1].index;   /* u rounded up to the total */
}

int FN(rnn_sample)(int32_t *out, real *h, uint64_t *rng, const real *params,
                   const int32_t *prime, int prime_length, const int32_t *stop,
                   int stop_length, double temperature, int top_k, double top_p,
                   int n, int V, int H, int L)
{
    real *logits = malloc(((size_t)V + H) * sizeof(real));
    FN(candidate) *ranked = malloc((size_t)V * sizeof(FN(candidate)));
    if (!logits || !ranked) {
        free(logits);
        free(ranked);
        return -1;
    }
    real *pre = logits + V;

    for (int i = 0; i < prime_length; i++)
        FN(rnn_step)(h, logits, pre, params, prime[i], V, H, L);
    int count = 0;
    while (count < n) {
        int32_t x = FN(draw)(logits, ranked, rng, temperature, top_k, top_p, V);
        out[count++] = x;
        if (stop_length > 0 && count >= stop_length &&
            memcmp(out + count - stop_length, stop, stop_length * sizeof(int32_t)) == 0)
            break;
        if (count < n) FN(rnn_step)(h, logits, pre, params, x, V, H, L);
    }
    free(logits);
    free(ranked);
    return count;
}
