/* What a model is, for the C core: its cell, dtype and sizes.
 *
 * Built once on the Python side from charrnn_c.spec.ModelSpec (its `core`
 * tuple) and passed to every entry point (entry.h), which dispatches on the
 * dtype once and hands the sizes down. */
#ifndef CHARRNN_SPEC_H
#define CHARRNN_SPEC_H

#include "layout.h"

/* The dtypes' numbers; the Python side reads them from here (_core.pxd). */
enum { DTYPE_F32 = 0, DTYPE_F64 = 1 };

typedef struct {
    int cell;    /* CELL_RNN, CELL_GRU or CELL_LSTM */
    int dtype;   /* DTYPE_F32 or DTYPE_F64 */
    int V, H, L; /* vocabulary, hidden units, layers */
} model_spec;

#endif
