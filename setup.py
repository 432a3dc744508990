"""One extension: the Cython glue plus the plain C core in csrc/."""

import os
import sys
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# No -ffast-math: it silently breaks tanh, exp and NaN checks. Two flags here
# change no result: errno is never read (so sqrt can vectorize) and the
# floating-point exception flags are never read (so comparisons can become
# vector selects, as in the float32 tanh's clamps).
#
# No contraction: a * b + c stays a multiply and an add, each rounded, never
# one FMA rounded once, so every SIMD clone and every platform computes the
# same bits (csrc/simd.h). GCC contracts by default outside ISO C mode (only
# -std=c99 stops it); clang contracts in every mode (-ffp-contract=on: clang 14
# fuses 765 in csrc/*.c for AVX2, and every Apple arm64 has FMA), so
# -ffp-contract=off says it for both. MSVC's /fp:precise has not contracted
# since Visual Studio 2022 (17.0); only /fp:contract or /fp:fast would.
fp_args = ["-ffp-contract=off", "-std=c99"]
if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
else:
    compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math"] + fp_args

# CHARRNN_SANITIZE=1 builds the extension under AddressSanitizer and
# UndefinedBehaviorSanitizer, for .ci/sanitizers.sh; never for a release.
link_args = []
if os.environ.get("CHARRNN_SANITIZE") == "1":
    sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer"] + fp_args + sanitizers
    link_args = sanitizers

# dladdr and dlopen (csrc/blas_probe.c) live in libdl before glibc 2.34.
libraries = ["dl"] if sys.platform.startswith("linux") else []

core = Extension(
    "charrnn_c._core",
    sources=["src/charrnn_c/_core.pyx"] + sorted(glob("csrc/*.c")),
    # NumPy's headers: the glue takes each array's data pointer with
    # PyArray_DATA, the cheapest way (a typed memoryview costs ~0.3 us each).
    include_dirs=["csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    libraries=libraries,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(ext_modules=cythonize([core], compiler_directives={"language_level": 3}))
