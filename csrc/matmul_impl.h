/* Template: row-major matmul on top of column-major BLAS (see blas.h).
 *
 * A row-major (M, N) matrix is the column-major (N, M) matrix, so
 * C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: swap the operands and
 * the sizes, keep the transpose flags. This swap is written here, once. */

void FN(matmul)(int trans_a, int trans_b, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta,
                real *C, int ldc)
{
    int one = 1;
    if (M == 1) {
        /* c (N) = alpha * op(B)^T a + beta * c. Row-major B (K, N) is the
         * column-major (N, K) matrix B^T, so op(B)^T a needs gemv 'N' on it
         * when B is not transposed. */
        char t = trans_b ? 'T' : 'N';
        int rows = trans_b ? K : N, cols = trans_b ? N : K;
        int inc_a = trans_a ? lda : 1;
        GEMV(&t, &rows, &cols, &alpha, (real *)B, &ldb, (real *)A, &inc_a,
             &beta, C, &one);
        return;
    }
    if (N == 1) {
        /* c (M) = alpha * op(A) b + beta * c, c read with stride ldc. */
        char t = trans_a ? 'N' : 'T';
        int rows = trans_a ? M : K, cols = trans_a ? K : M;
        int inc_b = trans_b ? 1 : ldb;
        GEMV(&t, &rows, &cols, &alpha, (real *)A, &lda, (real *)B, &inc_b,
             &beta, C, &ldc);
        return;
    }
    char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
    int nb, kb;
    if (!trans_a && blas_small_gemm_plan(trans_b, M, N, K, &nb, &kb)) {
        /* Columns j..j+n of C, summed over slices l..l+k of K, as equal as
         * can be: the first slice applies beta, the others add to what it
         * wrote. */
        int slices = (K + kb - 1) / kb;
        for (int j = 0; j < N; j += nb) {
            int n = N - j < nb ? N - j : nb;
            for (int s = 0, l = 0, k; s < slices; s++, l += k) {
                k = K / slices + (s < K % slices);
                real beta_l = l == 0 ? beta : 1;
                const real *B_lj = trans_b ? B + (size_t)j * ldb + l : B + (size_t)l * ldb + j;
                GEMM(&tb, &ta, &n, &M, &k, &alpha, (real *)B_lj, &ldb, (real *)(A + l), &lda,
                     &beta_l, C + j, &ldc);
            }
        }
        return;
    }
    GEMM(&tb, &ta, &N, &M, &K, &alpha, (real *)B, &ldb, (real *)A, &lda,
         &beta, C, &ldc);
}
