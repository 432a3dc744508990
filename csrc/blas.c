/* The BLAS table and the row-major matmul, for both dtypes. */
#include "blas.h"

charrnn_blas_table charrnn_blas;

#include "real_float.h"
#include "matmul_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "matmul_impl.h"
#include "real_undef.h"
