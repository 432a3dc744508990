"""The JavaScript sampler (charrnn_c/web/charrnn.js) in Node, against Python.

Writes the fixtures (js_fixtures.py: model files of the three cells in every
stored dtype, Python's log-probabilities and seeded samples), then runs
``node --test tests/js/`` on them: JS log-probabilities within 1e-12 of
score_samples for float64 files, 1e-5 for float32, 2e-3 for float16, and
Python's text for at least 99 of 100 seeds (tests/js/charrnn.test.mjs).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from js_fixtures import write_fixtures

import charrnn_c

TESTS = Path(__file__).parent / "js"
NODE = shutil.which("node")
MODULE = Path(charrnn_c.__file__).parent / "web" / "charrnn.js"


def node_version() -> tuple[int, ...]:
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True)
    return tuple(int(part) for part in re.findall(r"\d+", out.stdout)[:2])


def test_the_module_ships_in_the_package():
    assert MODULE.is_file()
    assert "export function loadModel" in MODULE.read_text()


@pytest.mark.skipif(NODE is None, reason="node is not installed (Node 18+ runs tests/js)")
def test_node_tests_pass_on_python_fixtures(tmp_path):
    if node_version() < (18,):
        pytest.skip(f"node {node_version()} is older than 18")
    write_fixtures(tmp_path)
    env = {**os.environ, "CHARRNN_JS_FIXTURES": str(tmp_path)}
    result = subprocess.run([NODE, "--test", str(TESTS)], capture_output=True, text=True,
                            env=env, timeout=600, cwd=TESTS.parent.parent)
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"# pass (\d+)", result.stdout).group(1) == "10"
    assert "# skipped 0" in result.stdout
