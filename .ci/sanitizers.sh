#!/usr/bin/env bash
# The Python test suite against the extension built under AddressSanitizer
# and UndefinedBehaviorSanitizer, all but the checkpoint sweeps marked slow
# (they run no C of ours, and the README's full run has covered them). Run
# after the README's test command, inside the virtual environment it made;
# any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q "Cython>=3.1" "setuptools>=77" "numpy>=2.0"
rm -rf build/sanitize
CHARRNN_SANITIZE=1 python setup.py -q build_ext --inplace --build-temp build/sanitize
trap 'rm -f src/charrnn_c/_core.*.so src/charrnn_c/_core.c' EXIT
# Make sure the tests below really run the instrumented build.
# Not `ldd | grep -q`: under pipefail, grep -q exits at its first match and
# ldd, still writing, dies of SIGPIPE, failing the check about 1 run in 6.
libraries="$(ldd src/charrnn_c/_core.*.so)"
grep -q libasan <<< "$libraries" || { echo "extension not built with ASan"; exit 1; }

# ASan must be loaded before Python itself; CPython's own allocations at exit
# are not ours to report, so leak detection stays with the C-only tests.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
CHARRNN_SANITIZE=1 PYTHONPATH=src python -m pytest -q -p no:cacheprovider -m "not slow" tests
