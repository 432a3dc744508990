/* Template: the stack of layers of any cell, its output layer and loss;
 * forward, BPTT and one step (see stack.h).
 *
 * Everything that does not depend on the previous step is done for all T
 * steps at once: each layer's input side W_ih x + b_ih (a column gather of
 * W_ih at layer 0, where x is one-hot; one gemm above it), the output layer,
 * and in backward every weight gradient (one gemm each, summed over time)
 * and the gradient flowing to the layer below. The cells (rnn_impl.h,
 * gru_impl.h, lstm_impl.h) do the step-by-step recurrence. */

static size_t FN(cell_cache_size)(int cell, int T, int B, int H)
{
    switch (cell) {
    case CELL_GRU: return FN(gru_cache_size)(T, B, H);
    case CELL_LSTM: return FN(lstm_cache_size)(T, B, H);
    default: return 0;
    }
}

/* The forward pass's buffers, carved from one workspace. With keep set
 * (training), every layer has its own gates and cache, which backward reads;
 * without it (evaluation, sampling) the layers share one of each. */
typedef struct {
    real *hs;           /* (L, T + 1, B, H) every layer's h, its h0 first */
    real *gates;        /* (L or 1, T, B, G H) */
    real *cache;        /* (L or 1, cache_size) */
    real *dropped;      /* (L - 1, T, B, H) layer inputs after dropout, or NULL */
    size_t cache_size;
    int keep;
} FN(stack_buffers);

/* Values the forward buffers take; carve them from workspace when it is not NULL. */
static size_t FN(stack_buffers_carve)(FN(stack_buffers) *buffers, real *workspace, int cell,
                                      int H, int L, int T, int B, int keep, int masked)
{
    const size_t TB = (size_t)T * B, GH = (size_t)cell_gates(cell) * H;
    const size_t cache_size = FN(cell_cache_size)(cell, T, B, H);
    const size_t copies = keep ? (size_t)L : 1;
    const size_t hs_size = (size_t)L * (T + 1) * B * H, gates_size = copies * TB * GH;
    const size_t dropped_size = masked ? (size_t)(L - 1) * TB * H : 0;
    if (workspace) {
        buffers->hs = workspace;
        buffers->gates = buffers->hs + hs_size;
        buffers->cache = buffers->gates + gates_size;
        buffers->dropped = masked ? buffers->cache + copies * cache_size : NULL;
        buffers->cache_size = cache_size;
        buffers->keep = keep;
    }
    return hs_size + gates_size + copies * cache_size + dropped_size;
}

/* The input side of every step: gates = W_ih x_t + b_ih. At layer 0
 * (below == NULL) x_t is one_hot(inputs[t]), so W_ih x_t is a column of W_ih. */
VECTOR_CLONES
static void FN(input_side)(real *gates,              /* (T * B, G H) */
                           const real *below,        /* (T * B, H) or NULL */
                           const int32_t *inputs,    /* (T * B) */
                           const real *w_ih,         /* (G H, V or H) */
                           const real *b_ih,         /* (G H) */
                           int GH, int V, int H, size_t TB)
{
    if (!below) {
        for (size_t n = 0; n < TB; n++) {
            const real *column = w_ih + inputs[n];
            real *row = gates + n * GH;
            for (int k = 0; k < GH; k++) row[k] = column[(size_t)k * V] + b_ih[k];
        }
        return;
    }
    for (size_t n = 0; n < TB; n++) memcpy(gates + n * GH, b_ih, GH * sizeof(real));
    FN(matmul)(0, 1, (int)TB, GH, H, 1, below, H, w_ih, H, 1, gates, GH);
}

static void FN(stack_forward)(const FN(stack_buffers) *buffers,
                              real *logits,             /* (T, B, V) */
                              real *state_last,         /* (S, L, B, H); may be state0 */
                              const real *params,       /* (P) */
                              const int32_t *inputs,    /* (T, B) */
                              const real *state0,       /* (S, L, B, H) */
                              const real *mask,         /* (L - 1, T, B, H) or NULL */
                              int cell, int V, int H, int L, int T, int B)
{
    const int G = cell_gates(cell), GH = G * H;
    const size_t BH = (size_t)B * H, TB = (size_t)T * B, LBH = (size_t)L * BH;
    const size_t layer_states = (size_t)(T + 1) * BH;
    for (int l = 0; l < L; l++) {
        layer_offsets o = gated_layer_offsets(G, V, H, l);
        const real *w_hh = params + o.weight_hh, *b_hh = params + o.bias_hh;
        real *h = buffers->hs + l * layer_states;
        real *gates = buffers->gates + (buffers->keep ? l : 0) * TB * GH;
        real *cache = buffers->cache + (buffers->keep ? l : 0) * buffers->cache_size;
        memcpy(h, state0 + l * BH, BH * sizeof(real));

        const real *below = l == 0 ? NULL : h - layer_states + BH;
        if (below && mask) {
            real *dropped = buffers->dropped + (l - 1) * TB * H;
            const real *m = mask + (l - 1) * TB * H;
            for (size_t i = 0; i < TB * H; i++) dropped[i] = below[i] * m[i];
            below = dropped;
        }
        FN(input_side)(gates, below, inputs, params + o.weight_ih, params + o.bias_ih,
                       GH, V, H, TB);

        switch (cell) {
        case CELL_GRU:
            FN(gru_forward)(h, gates, cache, w_hh, b_hh, T, B, H);
            break;
        case CELL_LSTM:
            FN(lstm_forward)(h, gates, cache, state_last + LBH + l * BH, state0 + LBH + l * BH,
                             w_hh, b_hh, T, B, H);
            break;
        default:
            FN(rnn_forward)(h, gates, w_hh, b_hh, T, B, H);
        }
        memcpy(state_last + l * BH, h + T * BH, BH * sizeof(real));
    }

    const size_t out = gated_output_offset(G, V, H, L);
    const real *w_ho = params + out, *b_o = params + out + (size_t)V * H;
    const real *top = buffers->hs + (L - 1) * layer_states + BH;   /* (T * B, H) */
    for (size_t n = 0; n < TB; n++) memcpy(logits + n * V, b_o, V * sizeof(real));
    FN(matmul)(0, 1, (int)TB, V, H, 1, top, H, w_ho, H, 1, logits, V);
}

/* sums (width) += the sum of the rows (N, width). */
VECTOR_CLONES
static void FN(add_column_sums)(real *sums, const real *rows, size_t N, int width)
{
    for (size_t n = 0; n < N; n++)
        for (int k = 0; k < width; k++) sums[k] += rows[n * width + k];
}

/* Values in the workspace of stack_forward_backward (with_grads: 0 when
 * grads is NULL) or, with with_grads = 0 and masked = 0, stack_target_log_probs.
 *
 * The forward buffers, the output probabilities, and for backward the
 * gradients flowing down (dH) and into the gates, on the input side (dx) and,
 * where it differs (GRU), the hidden side; the LSTM's dc (B, H). */
static inline size_t FN(stack_workspace_values)(int cell, int V, int H, int L, int T, int B,
                                                int with_grads, int masked)
{
    const size_t TB = (size_t)T * B, GH = (size_t)cell_gates(cell) * H;
    FN(stack_buffers) unused;
    size_t size = FN(stack_buffers_carve)(&unused, NULL, cell, H, L, T, B, with_grads, masked);
    size += TB * V;
    if (with_grads) {
        size += TB * H + TB * GH;
        size += cell == CELL_GRU ? TB * GH : cell == CELL_LSTM ? (size_t)B * H : 0;
    }
    return size;
}

void FN(stack_forward_backward)(int cell, real *grads, real *state_last, double *loss,
                                const real *params, const int32_t *inputs,
                                const int32_t *targets, const real *state0,
                                const real *mask, real *workspace,
                                int V, int H, int L, int T, int B)
{
    const int G = cell_gates(cell), GH = G * H;
    const size_t BH = (size_t)B * H, TB = (size_t)T * B;
    const size_t layer_states = (size_t)(T + 1) * BH;
    const int keep = grads != NULL;

    FN(stack_buffers) buffers;
    size_t forward_size = FN(stack_buffers_carve)(&buffers, workspace, cell, H, L, T, B, keep,
                                                  mask != NULL);
    real *probs = workspace + forward_size;     /* (T, B, V) */
    real *dH = probs + TB * V;                  /* (T, B, H) */
    real *dx = dH + TB * H;                     /* (T, B, G H) */
    real *scratch = dx + TB * GH;               /* GRU: dh (T, B, 3H); LSTM: dc (B, H) */

    /* ---- forward ---- */
    FN(stack_forward)(&buffers, probs, state_last, params, inputs, state0, mask,
                      cell, V, H, L, T, B);
    *loss = FN(softmax_cross_entropy)(probs, NULL, targets, (int)TB, V) / B;
    if (!grads) return;

    /* ---- backward: the output layer ---- */
    const size_t out = gated_output_offset(G, V, H, L);
    const real *top = buffers.hs + (L - 1) * layer_states + BH;   /* (T * B, H) */
    FN(softmax_cross_entropy_backward)(probs, targets, (int)TB, V, (real)1 / B);
    FN(matmul)(1, 0, V, H, (int)TB, 1, probs, V, top, H, 1, grads + out, H);
    FN(add_column_sums)(grads + out + (size_t)V * H, probs, TB, V);
    FN(matmul)(0, 0, (int)TB, H, V, 1, probs, V, params + out, H, 0, dH, H);

    /* ---- backward: the layers, top down ---- */
    for (int l = L - 1; l >= 0; l--) {
        layer_offsets o = gated_layer_offsets(G, V, H, l);
        const real *w_ih = params + o.weight_ih, *w_hh = params + o.weight_hh;
        const real *h = buffers.hs + l * layer_states;
        const real *gates = buffers.gates + l * TB * GH;
        const real *cache = buffers.cache + l * buffers.cache_size;

        /* Back through time; dh is the gradient on W_hh's side. */
        real *dh = dx;
        switch (cell) {
        case CELL_GRU:
            dh = scratch;
            FN(gru_backward)(dx, dh, dH, h, gates, cache, w_hh, T, B, H);
            break;
        case CELL_LSTM:
            FN(lstm_backward)(dx, dH, scratch, gates, cache, w_hh, T, B, H);
            break;
        default:
            FN(rnn_backward)(dx, dH, h, w_hh, T, B, H);
        }

        /* Weight gradients sum over time: one gemm each, over all steps. */
        FN(matmul)(1, 0, GH, H, (int)TB, 1, dh, GH, h, H, 1, grads + o.weight_hh, H);
        FN(add_column_sums)(grads + o.bias_hh, dh, TB, GH);
        FN(add_column_sums)(grads + o.bias_ih, dx, TB, GH);
        if (l > 0) {
            const real *below = mask ? buffers.dropped + (l - 1) * TB * H
                                     : buffers.hs + (l - 1) * layer_states + BH;
            FN(matmul)(1, 0, GH, H, (int)TB, 1, dx, GH, below, H, 1, grads + o.weight_ih, H);
            FN(matmul)(0, 0, (int)TB, H, GH, 1, dx, GH, w_ih, H, 0, dH, H);
            if (mask) {
                const real *m = mask + (l - 1) * TB * H;
                for (size_t i = 0; i < TB * H; i++) dH[i] *= m[i];
            }
        } else {
            /* The transpose of the gather: scatter-add into W_ih's columns. */
            real *g_ih = grads + o.weight_ih;
            for (size_t n = 0; n < TB; n++) {
                real *column = g_ih + inputs[n];
                const real *row = dx + n * GH;
                for (int k = 0; k < GH; k++) column[(size_t)k * V] += row[k];
            }
        }
    }
}

void FN(stack_target_log_probs)(int cell, double *log_probs, real *state_last,
                                const real *params, const int32_t *inputs,
                                const int32_t *targets, const real *state0,
                                real *workspace, int V, int H, int L, int T, int B)
{
    FN(stack_buffers) buffers;
    size_t forward_size = FN(stack_buffers_carve)(&buffers, workspace, cell, H, L, T, B, 0, 0);
    real *logits = workspace + forward_size;
    FN(stack_forward)(&buffers, logits, state_last, params, inputs, state0, NULL,
                      cell, V, H, L, T, B);
    FN(softmax_cross_entropy)(logits, log_probs, targets, (int)T * B, V);
}

void FN(stack_step)(int cell, real *state, real *logits, real *workspace,
                    const real *params, const int32_t *x, int V, int H, int L, int B)
{
    FN(stack_buffers) buffers;
    FN(stack_buffers_carve)(&buffers, workspace, cell, H, L, 1, B, 0, 0);
    FN(stack_forward)(&buffers, logits, state, params, x, state, NULL, cell, V, H, L, 1, B);
}
