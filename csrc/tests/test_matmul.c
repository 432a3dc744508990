/* The BLAS layer: the naive BLAS on hand-computed cases, then the row-major
 * matmul (blas.h) against a triple loop, in both dtypes. */
#include <math.h>
#include <stdlib.h>

#include "blas.h"
#include "check.h"
#include "naive_blas.h"

/* ---- the naive BLAS itself, since every other test trusts it ---- */

/* A = [[1, 2, 3], [4, 5, 6]] column-major, B = [[1, 0], [0, 1], [1, 1]]:
 * A B = [[4, 5], [10, 11]], so 2 A B + C with C = ones is [[9, 11], [21, 23]]. */
static void test_naive_dgemm_by_hand(void)
{
    double a[] = {1, 4, 2, 5, 3, 6};
    double b[] = {1, 0, 1, 0, 1, 1};
    double c[] = {1, 1, 1, 1};
    double alpha = 2, beta = 1;
    int m = 2, n = 2, k = 3, lda = 2, ldb = 3, ldc = 2;
    naive_dgemm("N", "N", &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
    double want[] = {9, 21, 11, 23};
    CHECK_CLOSE("2 A B + C", c, want, 4, 0, 0);

    /* beta == 0: C is output only, so NaN there must not survive. */
    double c0[] = {NAN, NAN, NAN, NAN};
    alpha = 1, beta = 0;
    naive_dgemm("N", "N", &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c0, &ldc);
    double want0[] = {4, 10, 5, 11};
    CHECK_CLOSE("A B over NaN, beta 0", c0, want0, 4, 0, 0);
}

/* The same A; x read backwards with stride -2, y written with stride 2. */
static void test_naive_dgemv_strides(void)
{
    double a[] = {1, 4, 2, 5, 3, 6};
    int m = 2, n = 3, lda = 2, incx = -2, incy = 2;
    double alpha = 1, beta = 0;

    /* x = (1, 10, 100) stored backwards: element 0 is last in memory. */
    double x[] = {100, -1, 10, -1, 1};
    double y[] = {NAN, -7, NAN};
    naive_dgemv("N", &m, &n, &alpha, a, &lda, x, &incx, &beta, y, &incy);
    double want[] = {321, -7, 654};  /* A x, and the gap left alone */
    CHECK_CLOSE("A x", y, want, 3, 0, 0);

    /* A^T (1, 10) + 2 y, with x stored backwards again. */
    double xt[] = {10, -1, 1};
    double yt[] = {1, -7, 1, -7, 1};
    beta = 2;
    naive_dgemv("T", &m, &n, &alpha, a, &lda, xt, &incx, &beta, yt, &incy);
    double want_t[] = {43, -7, 54, -7, 65};
    CHECK_CLOSE("A^T x + 2 y", yt, want_t, 5, 0, 0);
}

void naive_blas_tests(void)
{
    RUN_TEST(test_naive_dgemm_by_hand);
    RUN_TEST(test_naive_dgemv_strides);
}

/* ---- the row-major matmul against a triple loop ---- */

/* C (M, N) = alpha op(A) op(B) + beta C, every row stride `pad` longer than
 * it needs to be. */
typedef struct {
    int trans_a, trans_b, M, N, K, pad;
    double alpha, beta;
} matmul_case;

/* Marks the padding of C: matmul must leave it alone. */
#define SENTINEL (-777.0)

/* Fill a row-major (rows, cols) matrix with row stride ld: random entries,
 * rounded to float when the float32 kernel will read them, and NaN in the
 * padding, so reading it poisons the result. */
static double *random_matrix(int rows, int cols, int ld, int f32)
{
    double *m = malloc((size_t)rows * ld * sizeof(double));
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ld; j++) {
            double v = j < cols ? rng_uniform(-1, 1) : NAN;
            m[(size_t)i * ld + j] = f32 ? (double)(float)v : v;
        }
    return m;
}

/* Run one case through matmul_f32 or matmul_f64 and check every element of
 * C, padding included; stops at the first wrong one. */
static void check_matmul(int f32, matmul_case c)
{
    int a_rows = c.trans_a ? c.K : c.M, a_cols = c.trans_a ? c.M : c.K;
    int b_rows = c.trans_b ? c.N : c.K, b_cols = c.trans_b ? c.K : c.N;
    int lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
    size_t a_size = (size_t)a_rows * lda, b_size = (size_t)b_rows * ldb;
    size_t c_size = (size_t)c.M * ldc;
    double *A = random_matrix(a_rows, a_cols, lda, f32);
    double *B = random_matrix(b_rows, b_cols, ldb, f32);
    double *C = random_matrix(c.M, c.N, ldc, f32);
    double *want = malloc(c_size * sizeof(double));
    double *scale = malloc(c_size * sizeof(double));

    for (size_t i = 0; i < c_size; i++) {
        if (isnan(C[i])) C[i] = SENTINEL;
        /* With beta == 0, C is output only: NaN there must not leak in. */
        else if (c.beta == 0) C[i] = NAN;
    }

    /* The triple loop, in double, and the size of the terms it added up,
     * which bounds the rounding error any summation order can make. */
    for (int i = 0; i < c.M; i++)
        for (int j = 0; j < c.N; j++) {
            double sum = 0, size = 0;
            for (int l = 0; l < c.K; l++) {
                double a = c.trans_a ? A[(size_t)l * lda + i] : A[(size_t)i * lda + l];
                double b = c.trans_b ? B[(size_t)j * ldb + l] : B[(size_t)l * ldb + j];
                sum += a * b;
                size += fabs(a * b);
            }
            size_t ij = (size_t)i * ldc + j;
            want[ij] = c.alpha * sum + (c.beta == 0 ? 0 : c.beta * C[ij]);
            scale[ij] = fabs(c.alpha) * size + (c.beta == 0 ? 0 : fabs(c.beta * C[ij]));
        }

    if (f32) {
        float *A32 = malloc(a_size * sizeof(float)), *B32 = malloc(b_size * sizeof(float));
        float *C32 = malloc(c_size * sizeof(float));
        for (size_t i = 0; i < a_size; i++) A32[i] = (float)A[i];
        for (size_t i = 0; i < b_size; i++) B32[i] = (float)B[i];
        for (size_t i = 0; i < c_size; i++) C32[i] = (float)C[i];
        matmul_f32(c.trans_a, c.trans_b, c.M, c.N, c.K, (float)c.alpha, A32, lda,
                   B32, ldb, (float)c.beta, C32, ldc);
        for (size_t i = 0; i < c_size; i++) C[i] = C32[i];
        free(A32), free(B32), free(C32);
    } else {
        matmul_f64(c.trans_a, c.trans_b, c.M, c.N, c.K, c.alpha, A, lda, B, ldb,
                   c.beta, C, ldc);
    }

    /* float32 rounds to about 6e-8 and float64 to about 1e-16 per step;
     * with K <= 40 terms, these bounds leave a wide margin. */
    double rtol = f32 ? 1e-5 : 1e-12;
    int ok = 1;
    for (int i = 0; i < c.M && ok; i++)
        for (int j = 0; j < ldc && ok; j++) {
            size_t ij = (size_t)i * ldc + j;
            double expected = j < c.N ? want[ij] : SENTINEL;
            double tolerance = j < c.N ? rtol * scale[ij] : 0;
            ok = fabs(C[ij] - expected) <= tolerance;
            CHECK(ok, "matmul_%s(trans_a=%d, trans_b=%d, M=%d, N=%d, K=%d, "
                      "lda=%d, ldb=%d, ldc=%d, alpha=%g, beta=%g): "
                      "C[%d][%d] = %.17g, want %.17g%s",
                  f32 ? "f32" : "f64", c.trans_a, c.trans_b, c.M, c.N, c.K,
                  lda, ldb, ldc, c.alpha, c.beta, i, j, C[ij], expected,
                  j < c.N ? "" : " (padding, must stay untouched)");
        }

    free(A), free(B), free(C), free(want), free(scale);
}

/* Every shape in `shapes` (M, N, K triples) with every transpose
 * combination, tight and padded strides, and three (alpha, beta) pairs. */
static void check_matmul_shapes(int f32, const int (*shapes)[3], int n_shapes)
{
    static const double scalars[][2] = {{1, 0}, {0.5, -1.5}, {-2, 1}};
    rng_seed(42);
    for (int s = 0; s < n_shapes; s++)
        for (int trans = 0; trans < 4; trans++)
            for (int pad = 0; pad <= 3; pad += 3)
                for (int k = 0; k < 3; k++) {
                    matmul_case c = {trans >> 1, trans & 1, shapes[s][0],
                                     shapes[s][1], shapes[s][2], pad,
                                     scalars[k][0], scalars[k][1]};
                    check_matmul(f32, c);
                }
}

/* M, N, K: the gemm path (M > 1 and N > 1, including K == 1)... */
static const int gemm_shapes[][3] = {{3, 4, 5}, {4, 2, 3}, {2, 2, 2}, {2, 3, 1}};
/* ...one row of C (gemv over op(B))... */
static const int row_shapes[][3] = {{1, 4, 5}, {1, 3, 1}, {1, 1, 4}, {1, 1, 1}};
/* ...and one column of C (gemv over op(A), C read with stride ldc). */
static const int column_shapes[][3] = {{3, 1, 5}, {4, 1, 1}, {2, 1, 3}};

#define COUNT(array) ((int)(sizeof(array) / sizeof(array[0])))

static void test_matmul_f64_gemm(void) { check_matmul_shapes(0, gemm_shapes, COUNT(gemm_shapes)); }
static void test_matmul_f64_one_row_gemv(void) { check_matmul_shapes(0, row_shapes, COUNT(row_shapes)); }
static void test_matmul_f64_one_column_gemv(void) { check_matmul_shapes(0, column_shapes, COUNT(column_shapes)); }
static void test_matmul_f32_gemm(void) { check_matmul_shapes(1, gemm_shapes, COUNT(gemm_shapes)); }
static void test_matmul_f32_one_row_gemv(void) { check_matmul_shapes(1, row_shapes, COUNT(row_shapes)); }
static void test_matmul_f32_one_column_gemv(void) { check_matmul_shapes(1, column_shapes, COUNT(column_shapes)); }

/* ---- the blocks for small-matrix kernels (blas.h) ---- */

/* Tiny limits, so that small shapes get cut: calls of at most 200
 * multiply-adds, and with a transposed first operand at most m n = 16 and
 * k >= 4. Every gemm call is counted and checked against them. */
#define TEST_VOLUME 200
#define TEST_AREA 16
#define TEST_GRAIN 2

static int gemm_calls, gemm_calls_too_big;

static void count_gemm_call(const char *transa, int m, int n, int k)
{
    gemm_calls++;
    int transposed = *transa == 'T';
    if ((double)m * n * k > TEST_VOLUME ||
        (transposed && (m * n > TEST_AREA || k < 2 * TEST_GRAIN)))
        gemm_calls_too_big++;
}

static void counting_sgemm(char *transa, char *transb, int *m, int *n, int *k,
                           float *alpha, float *a, int *lda, float *b, int *ldb,
                           float *beta, float *c, int *ldc)
{
    count_gemm_call(transa, *m, *n, *k);
    naive_sgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void counting_dgemm(char *transa, char *transb, int *m, int *n, int *k,
                           double *alpha, double *a, int *lda, double *b, int *ldb,
                           double *beta, double *c, int *ldc)
{
    count_gemm_call(transa, *m, *n, *k);
    naive_dgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static int two_threads(void) { return 2; }

/* Few rows (M <= 4 grains) and more work than one call may take: cut; and
 * the last three whole: M = 9 is too many rows, (2, 3, 5) fits one call,
 * and K = 3 is shorter than a slice may be. */
static const int blocked_shapes[][3] = {
    {2, 13, 17}, {3, 7, 13}, {5, 11, 6}, {8, 9, 40}, {2, 40, 5},
    {9, 5, 20}, {2, 3, 5}, {3, 4, 3},
};

static void test_matmul_small_gemm_blocks(void)
{
    charrnn_blas_table saved = charrnn_blas;
    charrnn_blas.sgemm = counting_sgemm, charrnn_blas.dgemm = counting_dgemm;
    charrnn_blas.small_gemm_volume = TEST_VOLUME;
    charrnn_blas.small_gemm_area = TEST_AREA;
    charrnn_blas.small_gemm_grain = TEST_GRAIN;

    /* Every transpose, stride and (alpha, beta): the same products as whole. */
    check_matmul_shapes(0, blocked_shapes, COUNT(blocked_shapes));
    check_matmul_shapes(1, blocked_shapes, COUNT(blocked_shapes));

    /* The first five, A as is: cut, into calls the small kernels take. */
    for (int s = 0; s < 5; s++)
        for (int trans_b = 0; trans_b <= 1; trans_b++) {
            matmul_case c = {0, trans_b, blocked_shapes[s][0], blocked_shapes[s][1],
                             blocked_shapes[s][2], 0, 1, 0};
            gemm_calls = gemm_calls_too_big = 0;
            check_matmul(0, c);
            CHECK(gemm_calls > 1 && gemm_calls_too_big == 0,
                  "(%d, %d, %d) trans_b=%d: %d gemm calls, %d beyond the limits",
                  c.M, c.N, c.K, trans_b, gemm_calls, gemm_calls_too_big);
        }

    /* (2, 13, 17) with B transposed: blocks 2 grains (16 / (2 * 2)) = 8
     * wide; 2 * 8 * 17 > 200, so K in 3 slices of at most 8 (the power of
     * two <= 200 / 16): 2 column blocks times 3 slices. */
    matmul_case c = {0, 1, 2, 13, 17, 0, 1, 0};
    gemm_calls = 0;
    check_matmul(1, c);
    CHECK(gemm_calls == 6, "(2, 13, 17) B^T: %d gemm calls, want 6", gemm_calls);

    /* A BLAS on two threads, or one without small kernels: one call. */
    charrnn_blas.num_threads = two_threads;
    gemm_calls = 0;
    check_matmul(1, c);
    CHECK(gemm_calls == 1, "two BLAS threads: %d gemm calls, want 1", gemm_calls);
    charrnn_blas.num_threads = NULL, charrnn_blas.small_gemm_volume = 0;
    gemm_calls = 0;
    check_matmul(0, c);
    CHECK(gemm_calls == 1, "no small kernels: %d gemm calls, want 1", gemm_calls);

    charrnn_blas = saved;
}

void matmul_tests(void)
{
    RUN_TEST(test_matmul_f64_gemm);
    RUN_TEST(test_matmul_f64_one_row_gemv);
    RUN_TEST(test_matmul_f64_one_column_gemv);
    RUN_TEST(test_matmul_f32_gemm);
    RUN_TEST(test_matmul_f32_one_row_gemv);
    RUN_TEST(test_matmul_f32_one_column_gemv);
    RUN_TEST(test_matmul_small_gemm_blocks);
}
