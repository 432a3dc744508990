/* The C-only tests of the core: no Python, a naive BLAS, run under
 * AddressSanitizer and UndefinedBehaviorSanitizer by run.sh.
 *
 * Prints one line per test, then "N passed, M failed"; exits non-zero when
 * any test failed. */
#include <stdio.h>

#include "check.h"
#include "naive_blas.h"

int main(void)
{
    naive_blas_install();
    naive_blas_tests();
    matmul_tests();
    rnn_tests();
    cell_tests();
    optim_tests();
    activation_tests();
    fpmode_tests();
    sample_tests();
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}
