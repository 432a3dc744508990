/* Offsets of the named views of the flat parameter buffer.
 *
 * The same layout as src/charrnn_c/layout.py, in the same order:
 *   per layer l: weight_ih (H, I_l), weight_hh (H, H), bias_ih (H), bias_hh (H)
 *                with I_0 = V and I_l = H above the first layer;
 *   then:        weight_ho (V, H), bias_o (V).
 * Gradients and optimizer state share it. */
#ifndef CHARRNN_LAYOUT_H
#define CHARRNN_LAYOUT_H

#include <stddef.h>

typedef struct {
    size_t weight_ih, weight_hh, bias_ih, bias_hh;
} layer_offsets;

static inline size_t layer_size(int V, int H, int layer)
{
    size_t input_size = layer == 0 ? (size_t)V : (size_t)H;
    return (size_t)H * input_size + (size_t)H * H + 2 * (size_t)H;
}

static inline layer_offsets rnn_layer_offsets(int V, int H, int layer)
{
    layer_offsets o;
    size_t input_size = layer == 0 ? (size_t)V : (size_t)H;
    o.weight_ih = layer == 0 ? 0 : layer_size(V, H, 0) + (size_t)(layer - 1) * layer_size(V, H, 1);
    o.weight_hh = o.weight_ih + (size_t)H * input_size;
    o.bias_ih = o.weight_hh + (size_t)H * H;
    o.bias_hh = o.bias_ih + (size_t)H;
    return o;
}

/* weight_ho; bias_o follows it at + V*H. */
static inline size_t rnn_output_offset(int V, int H, int L)
{
    return layer_size(V, H, 0) + (size_t)(L - 1) * layer_size(V, H, 1);
}

static inline size_t rnn_num_params(int V, int H, int L)
{
    return rnn_output_offset(V, H, L) + (size_t)V * H + (size_t)V;
}

#endif
