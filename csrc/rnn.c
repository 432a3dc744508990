/* The tanh RNN stack for both dtypes, from one template. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "blas.h"
#include "rnn.h"

#include "real_float.h"
#include "softmax_impl.h"
#include "rnn_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "softmax_impl.h"
#include "rnn_impl.h"
#include "real_undef.h"
