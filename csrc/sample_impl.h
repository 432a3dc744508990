/* Template: drawing characters from the stack, one step at a time (stack_step). */

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

/* Draw one character from logits (V); p and ranked (V each) are scratch.
 * Cloned for the exp's vector loop (simd.h). */
VECTOR_CLONES
static int32_t FN(draw)(const real *logits, double *p, FN(candidate) *ranked, uint64_t *rng,
                        double temperature, int top_k, double top_p, int V)
{
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (temperature <= 0) return best;

    /* exp((z - max) / temperature), in double: the max is 1, nothing overflows. */
    for (int v = 0; v < V; v++) p[v] = ((double)logits[v] - (double)logits[best]) / temperature;
    exp_nonpositive_inplace_f64(p, (size_t)V);
    double total = 0;
    for (int v = 0; v < V; v++) {
        ranked[v].p = p[v];
        ranked[v].index = v;
        total += p[v];
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

int FN(stack_sample)(int cell, int32_t *out, real *state, uint64_t *rng, const real *params,
                     const int32_t *prime, int prime_length, const int32_t *stop,
                     int stop_length, double temperature, int top_k, double top_p,
                     int n, int V, int H, int L)
{
    real *logits = malloc(((size_t)V + stack_step_workspace_size(cell, V, H, L)) * sizeof(real));
    FN(candidate) *ranked = malloc((size_t)V * sizeof(FN(candidate)));
    double *p = malloc((size_t)V * sizeof(double));
    if (!logits || !ranked || !p) {
        free(logits);
        free(ranked);
        free(p);
        return -1;
    }
    real *workspace = logits + V;

    for (int i = 0; i < prime_length; i++)
        FN(stack_step)(cell, state, logits, workspace, params, prime[i], V, H, L);
    int count = 0;
    while (count < n) {
        int32_t x = FN(draw)(logits, p, ranked, rng, temperature, top_k, top_p, V);
        out[count++] = x;
        if (stop_length > 0 && count >= stop_length &&
            memcmp(out + count - stop_length, stop, stop_length * sizeof(int32_t)) == 0)
            break;
        if (count < n) FN(stack_step)(cell, state, logits, workspace, params, x, V, H, L);
    }
    free(logits);
    free(ranked);
    free(p);
    return count;
}
