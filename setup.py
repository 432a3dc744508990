"""One extension: the Cython glue plus the plain C core in csrc/."""

import os
import sys
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

# No -ffast-math: it silently breaks tanh, exp and NaN checks. The two flags
# here change no result: errno is never read (so sqrt can vectorize) and the
# floating-point exception flags are never read (so comparisons can become
# vector selects, as in the float32 tanh's clamps).
if sys.platform == "win32":
    compile_args = ["/O2"]
else:
    compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-std=c99"]

# CHARRNN_SANITIZE=1 builds the extension under AddressSanitizer and
# UndefinedBehaviorSanitizer, for .ci/sanitizers.sh; never for a release.
link_args = []
if os.environ.get("CHARRNN_SANITIZE") == "1":
    sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", "-std=c99"] + sanitizers
    link_args = sanitizers

# dladdr and dlopen (csrc/blas_probe.c) live in libdl before glibc 2.34.
libraries = ["dl"] if sys.platform.startswith("linux") else []

core = Extension(
    "charrnn_c._core",
    sources=["src/charrnn_c/_core.pyx"] + sorted(glob("csrc/*.c")),
    include_dirs=["csrc"],
    libraries=libraries,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(ext_modules=cythonize([core], compiler_directives={"language_level": 3}))
