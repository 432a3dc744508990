/* One training step, both dtypes, from one template. */
#include <math.h>
#include <string.h>

#include "stack.h"
#include "train_step.h"

#include "real_float.h"
#include "train_step_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "train_step_impl.h"
#include "real_undef.h"
