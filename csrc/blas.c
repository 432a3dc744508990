/* The BLAS table and the row-major matmul, for both dtypes. */
#include <stddef.h>

#include "blas.h"

charrnn_blas_table charrnn_blas;

/* The largest power of two that is at most limit (limit >= 1). */
static int power_of_two_below(double limit)
{
    int p = 1;
    while (2.0 * p <= limit) p *= 2;
    return p;
}

/* How to cut C (M, N) = A (M, K) op(B) for the small-matrix kernels: column
 * blocks nb wide, each a sum over slices of K at most kb long (matmul makes
 * the slices equal to within one). Returns 0 when the product goes to BLAS
 * whole: the BLAS has no such kernels, the product already qualifies, M is
 * too big for blocks to pay (from M = 96 on, whole products ran faster with
 * OpenBLAS 0.3.30 on Zen 4), or the BLAS runs on more than one thread
 * (blas.h).
 *
 * The widths are what measured fastest there. op(B) transposed (the
 * forward's h W_hh^T) is the call's transposed first operand, so a block's
 * nb M must stay within the area limit: nb = 32 at M = 32. Otherwise (the
 * backward's dG W_hh) blocks 4 grains wide with slices of K up to 32 grains
 * ran best. The slice limit kb is at least 2 grains: the transposed kernels
 * need K >= 32. */
int blas_small_gemm_plan(int trans_b, int M, int N, int K, int *nb, int *kb)
{
    double volume = charrnn_blas.small_gemm_volume;
    int area = charrnn_blas.small_gemm_area, grain = charrnn_blas.small_gemm_grain;
    if (volume <= 0 || M > 4 * grain || K < 2 * grain) return 0;
    if (charrnn_blas.num_threads && charrnn_blas.num_threads() > 1) return 0;
    if ((double)M * N * K <= volume && (!trans_b || M * N <= area)) return 0;

    if (trans_b) {
        *nb = grain * (area / (M * grain));
    } else {
        *nb = 4 * grain;
        while (*nb > grain && (double)M * *nb * 2 * grain > volume) *nb -= grain;
    }
    if (*nb < grain) return 0;
    if (*nb > N) *nb = N;

    double longest = volume / ((double)M * *nb);
    if (!trans_b && longest > 32 * grain) longest = 32 * grain;
    *kb = K <= longest ? K : power_of_two_below(longest);
    return *kb >= 2 * grain;
}

#include "real_float.h"
#include "matmul_impl.h"
#include "real_undef.h"

#include "real_double.h"
#include "matmul_impl.h"
#include "real_undef.h"
