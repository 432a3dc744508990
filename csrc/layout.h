/* Offsets of the named views of the flat parameter buffer.
 *
 * The same layout as src/charrnn_c/spec.py (ModelSpec.param_views), in the
 * same order, for a cell with G gate blocks (G = 1 tanh RNN, 3 GRU, 4 LSTM):
 *   per layer l: weight_ih (G*H, I_l), weight_hh (G*H, H), bias_ih (G*H), bias_hh (G*H)
 *                with I_0 = V and I_l = H above the first layer;
 *   then:        weight_ho (V, H), bias_o (V).
 * Gradients and optimizer state share it. */
#ifndef CHARRNN_LAYOUT_H
#define CHARRNN_LAYOUT_H

#include <stddef.h>

/* The cells' numbers; the Python side reads them from here (_core.pxd). */
enum { CELL_RNN = 0, CELL_GRU = 1, CELL_LSTM = 2 };

/* Gate blocks per cell: rows of W_ih and W_hh are G*H. */
static inline int cell_gates(int cell)
{
    return cell == CELL_LSTM ? 4 : cell == CELL_GRU ? 3 : 1;
}

typedef struct {
    size_t weight_ih, weight_hh, bias_ih, bias_hh;
} layer_offsets;

static inline size_t gated_layer_size(int G, int V, int H, int layer)
{
    size_t input_size = layer == 0 ? (size_t)V : (size_t)H, GH = (size_t)G * H;
    return GH * input_size + GH * H + 2 * GH;
}

static inline layer_offsets gated_layer_offsets(int G, int V, int H, int layer)
{
    layer_offsets o;
    size_t input_size = layer == 0 ? (size_t)V : (size_t)H, GH = (size_t)G * H;
    o.weight_ih = layer == 0 ? 0 : gated_layer_size(G, V, H, 0)
                                   + (size_t)(layer - 1) * gated_layer_size(G, V, H, 1);
    o.weight_hh = o.weight_ih + GH * input_size;
    o.bias_ih = o.weight_hh + GH * H;
    o.bias_hh = o.bias_ih + GH;
    return o;
}

/* weight_ho; bias_o follows it at + V*H. */
static inline size_t gated_output_offset(int G, int V, int H, int L)
{
    return gated_layer_size(G, V, H, 0) + (size_t)(L - 1) * gated_layer_size(G, V, H, 1);
}

static inline size_t gated_num_params(int G, int V, int H, int L)
{
    return gated_output_offset(G, V, H, L) + (size_t)V * H + (size_t)V;
}

/* The tanh RNN's (G = 1), as before the gated cells came. */
static inline layer_offsets rnn_layer_offsets(int V, int H, int layer)
{
    return gated_layer_offsets(1, V, H, layer);
}

static inline size_t rnn_output_offset(int V, int H, int L)
{
    return gated_output_offset(1, V, H, L);
}

static inline size_t rnn_num_params(int V, int H, int L)
{
    return gated_num_params(1, V, H, L);
}

#endif
