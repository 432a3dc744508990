"""One extension: the Cython glue plus the plain C core in csrc/."""

import os
import sys
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

# No -ffast-math: it silently breaks tanh, exp and NaN checks.
# -fno-math-errno only lets sqrt vectorize (errno is never read).
if sys.platform == "win32":
    compile_args = ["/O2"]
else:
    compile_args = ["-O3", "-fno-math-errno", "-std=c99"]

core = Extension(
    "charrnn_c._core",
    sources=["src/charrnn_c/_core.pyx"] + sorted(glob("csrc/*.c")),
    include_dirs=["csrc"],
    extra_compile_args=compile_args,
)

setup(ext_modules=cythonize([core], compiler_directives={"language_level": 3}))
