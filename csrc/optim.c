/* The optimizer step, both dtypes, from one template. */
#include <math.h>
#include "optim.h"
#include "simd.h"

#include "real_float.h"
#include "optim_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "optim_impl.h"
#include "real_undef.h"
