#!/usr/bin/env bash
# Build the C core (csrc/*.c, without the Cython glue) with the C tests and
# the naive BLAS, under AddressSanitizer and UndefinedBehaviorSanitizer, and
# run them. No Python needed. Usage, from anywhere: bash csrc/tests/run.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
mkdir -p csrc/tests/bin

# -O1 keeps the sanitizers' reports readable; no -ffast-math, which would
# break the NaN checks. -fno-sanitize-recover makes any UB stop the run.
# -ffp-contract=off as in setup.py: no a * b + c fused into one FMA.
gcc -std=c99 -ffp-contract=off -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Werror -Icsrc \
    csrc/*.c csrc/tests/*.c -lm -ldl -o csrc/tests/bin/test_kernels

# LeakSanitizer works here (it needs ptrace-like access to the process; if a
# sandbox forbids that it dies with "LeakSanitizer has encountered a fatal
# error", and detect_leaks=0 is the way out).
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
exec csrc/tests/bin/test_kernels
