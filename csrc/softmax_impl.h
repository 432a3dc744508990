/* Template: softmax cross-entropy over rows of logits. */

/* Turn each row of logits into probabilities, in place, and return
 * sum_rows -log p[target]; each row's log p[target] also goes to log_probs
 * unless it is NULL. The row max is subtracted before exp, so exp cannot
 * overflow; the sum is kept in double for both dtypes. Cloned for the exp's
 * vector loop; the max and the sums stay scalar, in order, in every clone. */
VECTOR_CLONES
static double FN(softmax_cross_entropy)(real *logits,           /* (N, V) in, probs out */
                                        double *log_probs,      /* (N) or NULL */
                                        const int32_t *targets, /* (N) */
                                        int N, int V)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        real *row = logits + (size_t)n * V;
        real max = row[0];
        for (int v = 1; v < V; v++)
            if (row[v] > max) max = row[v];
        double target_logit = (double)row[targets[n]] - (double)max;
        for (int v = 0; v < V; v++) row[v] -= max;
        FN(exp_nonpositive_inplace)(row, (size_t)V);
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += row[v];
        /* -log p[target] = log(sum) - (z[target] - max) */
        double row_loss = log(sum) - target_logit;
        loss += row_loss;
        if (log_probs) log_probs[n] = -row_loss;
        real inv = (real)(1.0 / sum);
        for (int v = 0; v < V; v++) row[v] *= inv;
    }
    return loss;
}

/* d loss / d logits for a loss averaged over B streams: (p - onehot) / B. */
static void FN(softmax_cross_entropy_backward)(real *probs,          /* (N, V) in, dlogits out */
                                               const int32_t *targets, /* (N) */
                                               int N, int V, real scale)
{
    for (int n = 0; n < N; n++) {
        real *row = probs + (size_t)n * V;
        row[targets[n]] -= 1;
        for (int v = 0; v < V; v++) row[v] *= scale;
    }
}
