/* Sampling for both dtypes, from one template. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "random.h"
#include "sample.h"
#include "simd.h"
#include "stack.h"

#include "real_float.h"
#include "sample_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "sample_impl.h"
#include "real_undef.h"
