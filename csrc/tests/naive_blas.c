/* The naive BLAS of naive_blas.h, for both dtypes from one template. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "blas.h"
#include "naive_blas.h"

/* 0 for 'N', 1 for 'T' (or 'C': the same for real matrices), -1 otherwise. */
static int naive_blas_flag(char flag)
{
    switch (flag) {
    case 'N': case 'n': return 0;
    case 'T': case 't': case 'C': case 'c': return 1;
    default: return -1;
    }
}

static int naive_blas_max1(int n) { return n > 1 ? n : 1; }

/* The reference BLAS's xerbla: report the bad parameter (1-based) and stop. */
static void naive_blas_error(const char *routine, int parameter)
{
    fprintf(stderr, "naive BLAS: parameter %d of %s had an illegal value\n",
            parameter, routine);
    abort();
}

/* Where element i of a strided vector of length len lives. With a negative
 * stride the vector runs backwards, so element 0 is the last one in memory. */
static size_t naive_blas_offset(int i, int len, int inc)
{
    return inc > 0 ? (size_t)i * inc : (size_t)(len - 1 - i) * (size_t)(-inc);
}

/* The routine's own name, for the error message. */
#define NAIVE_STRINGIFY(name) #name
#define NAIVE_NAME(name) NAIVE_STRINGIFY(name)

#include "real_float.h"
#define NAIVE_GEMM naive_sgemm
#define NAIVE_GEMV naive_sgemv
#include "naive_blas_impl.h"
#undef NAIVE_GEMM
#undef NAIVE_GEMV
#include "real_undef.h"

#include "real_double.h"
#define NAIVE_GEMM naive_dgemm
#define NAIVE_GEMV naive_dgemv
#include "naive_blas_impl.h"
#undef NAIVE_GEMM
#undef NAIVE_GEMV
#include "real_undef.h"

void naive_blas_install(void)
{
    /* Assigning checks at compile time that the signatures match blas.h. */
    charrnn_blas.sgemm = naive_sgemm;
    charrnn_blas.dgemm = naive_dgemm;
    charrnn_blas.sgemv = naive_sgemv;
    charrnn_blas.dgemv = naive_dgemv;
}
