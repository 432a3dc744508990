/* The harness of check.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

int tests_passed, tests_failed;

/* Failed checks in the running test. */
static int failures;

void check_fail(const char *file, int line, const char *cond,
                const char *fmt, ...)
{
    va_list args;
    failures++;
    fprintf(stdout, "    %s:%d: check failed: %s: ", file, line, cond);
    va_start(args, fmt);
    vfprintf(stdout, fmt, args);
    va_end(args);
    fputc('\n', stdout);
}

int check_close(const char *file, int line, const char *what,
                const double *got, const double *want, size_t n,
                double rtol, double atol)
{
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double error = fabs(got[i] - want[i]);
        /* Written so that NaN in either array counts as not close. */
        if (!(error <= rtol * fabs(want[i]) + atol)) {
            if (bad++ == 0) first = i;
            if (!(error <= worst)) worst = error;
        }
    }
    if (bad)
        check_fail(file, line, what,
                   "%zu of %zu not within rtol %g, atol %g; first [%zu]: "
                   "got %.17g, want %.17g; worst abs error %.3g",
                   bad, n, rtol, atol, first, got[first], want[first], worst);
    return bad == 0;
}

void run_test(const char *name, test_fn fn)
{
    failures = 0;
    fn();
    /* Flushed per test, so output stays in order if a sanitizer stops us. */
    printf("%s %s\n", failures ? "FAIL" : "ok  ", name);
    fflush(stdout);
    if (failures) tests_failed++;
    else tests_passed++;
}

static uint64_t rng_state = 1;

void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;  /* xorshift must not start at 0 */
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

double rng_uniform(double lo, double hi)
{
    /* The top 53 bits give a double in [0, 1). */
    double u = (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

int rng_int(int n)
{
    return (int)(rng_next() % (uint64_t)n);
}
