/* The BLAS table: plain C reaches BLAS through these pointers.
 *
 * The Cython module fills the table from scipy.linalg.cython_blas at import
 * (so the wheel bundles no BLAS of its own); the C tests fill it with a naive
 * reference implementation. Signatures are Fortran's: column-major, every
 * argument by pointer.
 */
#ifndef CHARRNN_BLAS_H
#define CHARRNN_BLAS_H

typedef void (*sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                         float *alpha, float *a, int *lda, float *b, int *ldb,
                         float *beta, float *c, int *ldc);
typedef void (*dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                         double *alpha, double *a, int *lda, double *b, int *ldb,
                         double *beta, double *c, int *ldc);
typedef void (*sgemv_fn)(char *trans, int *m, int *n, float *alpha, float *a,
                         int *lda, float *x, int *incx, float *beta, float *y,
                         int *incy);
typedef void (*dgemv_fn)(char *trans, int *m, int *n, double *alpha, double *a,
                         int *lda, double *x, int *incx, double *beta, double *y,
                         int *incy);

/* Some BLAS builds (OpenBLAS on AVX-512 cores) multiply small matrices with
 * kernels that skip the packing copy of both operands. A step of the
 * recurrence, (B, H) times the (G H, H) recurrent weight, is too big to
 * qualify, so the library packs the whole weight again at every time step;
 * cut into blocks that qualify, it runs up to 1.5x faster at B = 32.
 * small_gemm_volume is the largest m n k the small kernels take (0: the BLAS
 * has none, never cut); with op(A) transposed they also need m n at most
 * small_gemm_area and k at least 2 small_gemm_grain; block widths are
 * multiples of small_gemm_grain. (m, n, k are the column-major call's.)
 * The small kernels run on one thread, so when num_threads (the BLAS's
 * thread count, NULL if unknown: one) says more, products go whole: the
 * library's threads then beat the blocks, by 20% for B = 32 on 2 cores. */
typedef struct {
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    sgemv_fn sgemv;
    dgemv_fn dgemv;
    double small_gemm_volume;
    int small_gemm_area;
    int small_gemm_grain;
    int (*num_threads)(void);
} charrnn_blas_table;

extern charrnn_blas_table charrnn_blas;

/* Row-major C = alpha * op(A) @ op(B) + beta * C, with op(X) = X or X^T.
 * C is (M, N), op(A) is (M, K), op(B) is (K, N); lda, ldb, ldc are row strides.
 * A one-row or one-column product goes through gemv; a product with few rows
 * and a big op(B) is cut into blocks for the small-matrix kernels (above). */
/* How a product goes to BLAS: 1 with *nb and *kb set when C (M, N) = A (M, K)
 * op(B) is cut into column blocks nb wide summed over slices of K at most kb
 * long; 0 when it goes whole. (Exported so tests can see which path a shape
 * takes.) */
int blas_small_gemm_plan(int trans_b, int M, int N, int K, int *nb, int *kb);

void matmul_f32(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc);
void matmul_f64(int trans_a, int trans_b, int M, int N, int K, double alpha,
                const double *A, int lda, const double *B, int ldb, double beta,
                double *C, int ldc);

#endif
