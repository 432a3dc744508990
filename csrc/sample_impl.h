/* Template: drawing characters from the stack, one step at a time for every
 * stream (stack_step). */

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

/* The batch's states (S L, B, H) keep only rows kept[0..count), in order:
 * they become the states of count streams, (S L, count, H). Each row moves
 * to a place no later than its own, and every row still to move lies past
 * the place written, so one pass in order is safe. */
static void FN(keep_rows)(real *states, const int32_t *kept, int count, int B, size_t SL,
                          int H)
{
    for (size_t sl = 0; sl < SL; sl++)
        for (int t = 0; t < count; t++)
            memmove(states + (sl * count + t) * H, states + (sl * B + kept[t]) * H,
                    H * sizeof(real));
}

int FN(stack_sample)(int cell, int32_t *out, int32_t *lengths, real *state_last,
                     const real *state, uint64_t *rng, const real *params,
                     const int32_t *prime, int prime_length, const int32_t *stop,
                     int stop_length, double temperature, int top_k, double top_p,
                     int n, int K, int V, int H, int L)
{
    const size_t SL = (size_t)cell_states(cell) * L, KH = (size_t)K * H;
    const size_t work = stack_step_workspace_size(cell, V, H, L, K);
    real *states = malloc((SL * KH + SL * H + (size_t)K * V + work) * sizeof(real));
    int32_t *slots = malloc(3 * (size_t)K * sizeof(int32_t));
    FN(candidate) *ranked = malloc((size_t)V * sizeof(FN(candidate)));
    double *p = malloc((size_t)V * sizeof(double));
    if (!states || !slots || !ranked || !p) {
        free(states);
        free(slots);
        free(ranked);
        free(p);
        return -1;
    }
    real *primed = states + SL * KH;                /* (S L, H) */
    real *logits = primed + SL * H;                 /* (B, V) */
    real *workspace = logits + (size_t)K * V;
    /* Row j of the batch is stream stream[j]; x[j] is its last draw. */
    int32_t *stream = slots, *x = slots + K, *kept = slots + 2 * (size_t)K;

    /* The prime, once, at batch 1; then every stream starts from its state. */
    memcpy(primed, state, SL * H * sizeof(real));
    for (int i = 0; i < prime_length; i++)
        FN(stack_step)(cell, primed, logits, workspace, params, prime + i, V, H, L, 1);
    for (size_t sl = 0; sl < SL; sl++)
        for (int k = 0; k < K; k++)
            memcpy(states + sl * KH + (size_t)k * H, primed + sl * H, H * sizeof(real));
    for (int k = 0; k < K; k++) {
        stream[k] = k;
        lengths[k] = 0;
    }
    if (n == 0 && state_last) memcpy(state_last, states, SL * KH * sizeof(real));

    int B = K;
    for (int i = 0; i < n && B > 0; i++) {
        /* Every stream's first draw is from the prime's logits (one row). */
        const size_t row = i == 0 ? 0 : (size_t)V;
        int count = 0;
        for (int j = 0; j < B; j++) {
            int32_t *text = out + (size_t)stream[j] * n;
            text[i] = x[j] = FN(draw)(logits + j * row, p, ranked, rng + 4 * (size_t)stream[j],
                                      temperature, top_k, top_p, V);
            int ended = i + 1 == n || (stop_length > 0 && i + 1 >= stop_length &&
                                       memcmp(text + i + 1 - stop_length, stop,
                                              stop_length * sizeof(int32_t)) == 0);
            if (!ended) {
                kept[count++] = j;
                continue;
            }
            lengths[stream[j]] = i + 1;
            for (size_t sl = 0; state_last && sl < SL; sl++)
                memcpy(state_last + sl * KH + (size_t)stream[j] * H,
                       states + (sl * B + j) * H, H * sizeof(real));
        }
        if (count < B) {
            /* Streams that ended leave the batch: the rest step on alone. */
            FN(keep_rows)(states, kept, count, B, SL, H);
            for (int t = 0; t < count; t++) {
                stream[t] = stream[kept[t]];
                x[t] = x[kept[t]];
            }
            B = count;
        }
        if (B > 0) FN(stack_step)(cell, states, logits, workspace, params, x, V, H, L, B);
    }
    free(states);
    free(slots);
    free(ranked);
    free(p);
    return 0;
}
