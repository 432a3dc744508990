/* The recurrent stack, every cell, both dtypes, from one set of templates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "blas.h"
#include "simd.h"
#include "stack.h"

#include "real_float.h"
#include "softmax_impl.h"
#include "rnn_impl.h"
#include "gru_impl.h"
#include "lstm_impl.h"
#include "stack_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "softmax_impl.h"
#include "rnn_impl.h"
#include "gru_impl.h"
#include "lstm_impl.h"
#include "stack_impl.h"
#include "real_undef.h"

/* Sizes count values, the same for both dtypes. */
size_t stack_workspace_size(int cell, int V, int H, int L, int T, int B, int with_grads,
                            int masked)
{
    return stack_workspace_values_f64(cell, V, H, L, T, B, with_grads, masked);
}

size_t stack_step_workspace_size(int cell, int V, int H, int L, int B)
{
    stack_buffers_f64 unused;
    (void)V;
    return stack_buffers_carve_f64(&unused, NULL, cell, H, L, 1, B, 0, 0);
}
