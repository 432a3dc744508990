/* Template: naive gemm and gemv for one dtype (see naive_blas.h).
 * Include after real_float.h or real_double.h, with NAIVE_GEMM and
 * NAIVE_GEMV defined to the names to give the two routines.
 *
 * Matrices are column-major: element (i, j) of A is a[i + j * lda].
 * Two rules of the reference BLAS are kept on purpose, because the core may
 * rely on them: beta == 0 means C (or y) is output only and is never read,
 * so garbage or NaN there cannot leak into the result; and alpha == 0 means
 * A and B are never read. */

/* C = alpha * op(A) op(B) + beta * C, with C (m, n), op(A) (m, k), op(B) (k, n). */
void NAIVE_GEMM(char *transa, char *transb, int *m, int *n, int *k,
                real *alpha, real *a, int *lda, real *b, int *ldb,
                real *beta, real *c, int *ldc)
{
    int ta = naive_blas_flag(*transa), tb = naive_blas_flag(*transb);
    int rows_a = ta ? *k : *m, rows_b = tb ? *n : *k;  /* as stored */
    int bad = 0;
    if (ta < 0) bad = 1;
    else if (tb < 0) bad = 2;
    else if (*m < 0) bad = 3;
    else if (*n < 0) bad = 4;
    else if (*k < 0) bad = 5;
    else if (*lda < naive_blas_max1(rows_a)) bad = 8;
    else if (*ldb < naive_blas_max1(rows_b)) bad = 10;
    else if (*ldc < naive_blas_max1(*m)) bad = 13;
    if (bad) naive_blas_error(NAIVE_NAME(NAIVE_GEMM), bad);

    /* The reference BLAS returns early here, leaving C untouched. */
    if (*m == 0 || *n == 0 || ((*alpha == 0 || *k == 0) && *beta == 1)) return;

    for (int j = 0; j < *n; j++) {
        for (int i = 0; i < *m; i++) {
            real sum = 0;
            if (*alpha != 0) {
                for (int l = 0; l < *k; l++) {
                    real a_il = ta ? a[l + (size_t)i * *lda] : a[i + (size_t)l * *lda];
                    real b_lj = tb ? b[j + (size_t)l * *ldb] : b[l + (size_t)j * *ldb];
                    sum += a_il * b_lj;
                }
            }
            real *c_ij = &c[i + (size_t)j * *ldc];
            *c_ij = *alpha * sum + (*beta == 0 ? 0 : *beta * *c_ij);
        }
    }
}

/* y = alpha * op(A) x + beta * y, with A (m, n) as stored; x and y are read
 * with strides incx and incy (a negative stride walks the vector backwards). */
void NAIVE_GEMV(char *trans, int *m, int *n, real *alpha, real *a, int *lda,
                real *x, int *incx, real *beta, real *y, int *incy)
{
    int t = naive_blas_flag(*trans);
    int bad = 0;
    if (t < 0) bad = 1;
    else if (*m < 0) bad = 2;
    else if (*n < 0) bad = 3;
    else if (*lda < naive_blas_max1(*m)) bad = 6;
    else if (*incx == 0) bad = 8;
    else if (*incy == 0) bad = 11;
    if (bad) naive_blas_error(NAIVE_NAME(NAIVE_GEMV), bad);

    /* The reference BLAS returns early here, leaving y untouched, even when
     * only the inner dimension is empty and beta != 1. */
    if (*m == 0 || *n == 0 || (*alpha == 0 && *beta == 1)) return;

    int len_x = t ? *m : *n, len_y = t ? *n : *m;
    for (int i = 0; i < len_y; i++) {
        real sum = 0;
        if (*alpha != 0) {
            for (int j = 0; j < len_x; j++) {
                real a_ij = t ? a[j + (size_t)i * *lda] : a[i + (size_t)j * *lda];
                sum += a_ij * x[naive_blas_offset(j, len_x, *incx)];
            }
        }
        real *y_i = &y[naive_blas_offset(i, len_y, *incy)];
        *y_i = *alpha * sum + (*beta == 0 ? 0 : *beta * *y_i);
    }
}
