/* A naive column-major BLAS for the C tests: the four routines the core uses,
 * with the Fortran signatures of blas.h, written to be read, not to be fast.
 *
 * Like the reference BLAS, each routine checks its arguments (a bad flag,
 * a negative size, a leading dimension too small, a zero stride) and aborts
 * with the number of the bad parameter, so a wrong call from the core fails
 * a test loudly instead of reading the wrong memory. */
#ifndef CHARRNN_TESTS_NAIVE_BLAS_H
#define CHARRNN_TESTS_NAIVE_BLAS_H

void naive_sgemm(char *transa, char *transb, int *m, int *n, int *k,
                 float *alpha, float *a, int *lda, float *b, int *ldb,
                 float *beta, float *c, int *ldc);
void naive_dgemm(char *transa, char *transb, int *m, int *n, int *k,
                 double *alpha, double *a, int *lda, double *b, int *ldb,
                 double *beta, double *c, int *ldc);
void naive_sgemv(char *trans, int *m, int *n, float *alpha, float *a, int *lda,
                 float *x, int *incx, float *beta, float *y, int *incy);
void naive_dgemv(char *trans, int *m, int *n, double *alpha, double *a,
                 int *lda, double *x, int *incx, double *beta, double *y,
                 int *incy);

/* Point the core's BLAS table (charrnn_blas) at the routines above. */
void naive_blas_install(void);

#endif
