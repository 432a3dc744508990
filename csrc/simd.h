/* VECTOR_CLONES: compile a function of elementwise loops several times, for
 * AVX-512, AVX2 and baseline x86-64, and pick the widest the CPU has when the
 * library loads (GCC's target_clones, an ifunc: glibc on x86-64 only, so not
 * musl, macOS or Windows; there it is nothing and the baseline build runs).
 *
 * The wheel is built for baseline x86-64, where these loops run 4 floats
 * wide; the activations and the optimizer's sqrt and divide are 8 to 16 wide
 * on the CPUs that have it. Every clone computes the same bits: the loops are
 * elementwise (no reductions to reassociate), and -ffp-contract=off (setup.py,
 * every compiler) keeps a * b + c from becoming one FMA, so results do not
 * depend on the machine. */
#ifndef CHARRNN_SIMD_H
#define CHARRNN_SIMD_H

#include <stdlib.h>   /* defines __GLIBC__ where the C library is glibc */

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) \
    && defined(__GLIBC__) && !defined(CHARRNN_NO_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

#endif
