/* Flush-to-zero for the length of one compute call, and the caller's mode back.
 *
 * A subnormal operand costs an Intel core a microcode assist of ~100 cycles
 * (AMD's barely notice): an LSTM of 2 x 512 whose N(0, 0.01^2) weights let
 * its gradients go subnormal trained 10x slower on a Xeon. Flushing subnormal
 * results to zero (FTZ) and reading subnormal inputs as zero (DAZ) removes
 * that; the values lost are below 1.2e-38 (float32) or 2.2e-308 (float64).
 *
 * The mode is per thread, and it is the caller's: each entry point (charrnn.c)
 * sets it on the way in and puts the caller's back on the way out. BLAS runs
 * on the calling thread inside our calls (threads.py keeps its pool at one),
 * so the products are flushed too.
 *
 *   x86-64:   MXCSR bits FTZ (15) and DAZ (6)
 *   aarch64:  FPCR bit FZ (24), which does both
 *   elsewhere nothing: fp_mode_enter returns a state fp_mode_exit ignores */
#ifndef CHARRNN_FPMODE_H
#define CHARRNN_FPMODE_H

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define FPMODE_FLUSH_BITS 0x8040u
static inline unsigned long fp_mode_get(void) { return _mm_getcsr(); }
static inline void fp_mode_set(unsigned long mode) { _mm_setcsr((unsigned int)mode); }
#define FPMODE_SUPPORTED 1
#elif defined(__aarch64__) && defined(__GNUC__)
#define FPMODE_FLUSH_BITS (1ul << 24)
static inline unsigned long fp_mode_get(void)
{
    unsigned long mode;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(mode));
    return mode;
}
static inline void fp_mode_set(unsigned long mode)
{
    __asm__ __volatile__("msr fpcr, %0" : : "r"(mode));
}
#define FPMODE_SUPPORTED 1
#else
#define FPMODE_FLUSH_BITS 0ul
static inline unsigned long fp_mode_get(void) { return 0; }
static inline void fp_mode_set(unsigned long mode) { (void)mode; }
#define FPMODE_SUPPORTED 0
#endif

/* With flush set, turn flushing on; returns the caller's mode for fp_mode_exit. */
static inline unsigned long fp_mode_enter(int flush)
{
    unsigned long caller = fp_mode_get();
    if (flush && (caller & FPMODE_FLUSH_BITS) != FPMODE_FLUSH_BITS)
        fp_mode_set(caller | FPMODE_FLUSH_BITS);
    return caller;
}

static inline void fp_mode_exit(unsigned long caller)
{
    if (fp_mode_get() != caller) fp_mode_set(caller);
}

#endif
