/* A tiny test harness of our own: checks, a test runner, a seeded random
 * generator and a closeness check for arrays. */
#ifndef CHARRNN_TESTS_CHECK_H
#define CHARRNN_TESTS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CHECK_PRINTF(fmt_index, first_arg) \
    __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CHECK_PRINTF(fmt_index, first_arg)
#endif

/* CHECK(condition, printf-style message, ...): on failure print where and
 * why, and fail the running test; the test goes on, so one run shows every
 * broken check. */
#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) check_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)

void check_fail(const char *file, int line, const char *cond,
                const char *fmt, ...) CHECK_PRINTF(4, 5);

/* Elementwise |got - want| <= rtol * |want| + atol (NaN is never close).
 * On failure reports the first bad element, the count and the worst error,
 * under the name `what`. Returns 1 when all are close. */
int check_close(const char *file, int line, const char *what,
                const double *got, const double *want, size_t n,
                double rtol, double atol);
#define CHECK_CLOSE(what, got, want, n, rtol, atol) \
    check_close(__FILE__, __LINE__, what, got, want, n, rtol, atol)

/* Run one test, print one line for it ("ok" or "FAIL") and tally it. */
typedef void (*test_fn)(void);
void run_test(const char *name, test_fn fn);
#define RUN_TEST(fn) run_test(#fn, fn)

/* Tallies over every test run so far. */
extern int tests_passed, tests_failed;

/* A small seeded generator (xorshift64*), so every run sees the same numbers. */
void rng_seed(uint64_t seed);
double rng_uniform(double lo, double hi);
int rng_int(int n); /* in [0, n) */

/* The suites, one per file; each runs its tests with RUN_TEST. */
void naive_blas_tests(void);
void matmul_tests(void);
void rnn_tests(void);
void cell_tests(void);
void optim_tests(void);
void activation_tests(void);
void fpmode_tests(void);
void sample_tests(void);

#endif
