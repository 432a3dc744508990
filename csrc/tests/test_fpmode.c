/* The entry points' floating-point mode (fpmode.h, charrnn.c): subnormals
 * flushed inside a call when asked, and the caller's mode back afterwards. */
#include <float.h>

#include "charrnn.h"
#include "check.h"
#include "fpmode.h"

/* An Adagrad step from p = 0 with a subnormal float32 gradient g = 1e-39:
 * IEEE arithmetic moves p by -0.1 g / sqrt(g^2 + 1e-8) = -1e-36; with
 * subnormals read as zero, g is 0 and p stays 0. */
static float adagrad_from_zero(float g)
{
    optim_config c = {.kind = OPTIM_ADAGRAD, .learning_rate = 0.1, .clip = 5};
    float p = 0, mem = 0;
    charrnn_optimizer_step(DTYPE_F32, &c, &p, &g, &mem, NULL, 1);
    return p;
}

static void test_subnormals_flush_only_when_asked(void)
{
    float g = 1e-39f;
    CHECK(g > 0 && g < FLT_MIN, "1e-39f is not subnormal here: %g", (double)g);
    charrnn_set_flush_subnormals(0);
    float ieee = adagrad_from_zero(g);
    charrnn_set_flush_subnormals(1);
    float flushed = adagrad_from_zero(g);
    CHECK(ieee < -0.9e-36f && ieee > -1.1e-36f, "IEEE step gave %g, want -1e-36", (double)ieee);
    if (FPMODE_SUPPORTED)
        CHECK(flushed == 0, "flushed step gave %g, want 0", (double)flushed);
    else
        CHECK(flushed == ieee, "no flush mode here, yet %g != %g", (double)flushed, (double)ieee);
}

/* Whatever the caller's mode, flushing on or off, it comes back unchanged. */
static void test_the_callers_mode_comes_back(void)
{
    unsigned long original = fp_mode_get();
    unsigned long modes[] = {original & ~FPMODE_FLUSH_BITS, original | FPMODE_FLUSH_BITS};
    for (int m = 0; m < 2; m++) {
        for (int flush = 0; flush < 2; flush++) {
            fp_mode_set(modes[m]);
            charrnn_set_flush_subnormals(flush);
            (void)adagrad_from_zero(1e-39f);
            unsigned long after = fp_mode_get();
            fp_mode_set(original);
            CHECK(after == modes[m], "mode %#lx came back as %#lx (flush %d)", modes[m], after,
                  flush);
        }
    }
    charrnn_set_flush_subnormals(1);
}

void fpmode_tests(void)
{
    RUN_TEST(test_subnormals_flush_only_when_asked);
    RUN_TEST(test_the_callers_mode_comes_back);
}
