"""`charrnn export web`: the page's files, its classic script in Node, and the
page itself in headless Chromium opened from the file system, generating the
text Python draws for the same seed."""

import base64
import html
import os
import re
import shutil
import subprocess
import sys

import pytest

from charrnn_c import CharRNN
from charrnn_c.export_web import classic_script, export_web

from conftest import small

NODE = shutil.which("node")
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                 "google-chrome") if shutil.which(name)), None)
OPTIONS = dict(n=300, prime="KING.", temperature=0.8, seed=7)


@pytest.fixture(scope="module")
def page(tmp_path_factory, shakespeare):
    model = small(hidden_size=40, num_layers=2, cell="lstm", seed=5,
                  optimizer="adam").fit(shakespeare[:20000], iterations=80, progress=False)
    directory = tmp_path_factory.mktemp("page")
    paths = export_web(model, directory, dtype="float16")
    return directory, paths


def test_the_page_and_its_files(page, tmp_path):
    directory, paths = page
    assert [path.name for path in paths] == ["index.html", "model.js", "charrnn-page.js",
                                             "charrnn.js", "model.safetensors"]
    page_html = (directory / "index.html").read_text()
    for control in ('id="prime"', 'id="temperature"', 'id="n"', 'id="seed"', 'id="generate"'):
        assert control in page_html
    # Opened from the disk: classic scripts only, nothing fetched, no module imported.
    assert "fetch(" not in page_html and 'type="module"' not in page_html
    encoded = re.search(r'var CHARRNN_MODEL = "([^"]+)";', (directory / "model.js").read_text())
    data = base64.b64decode(encoded.group(1))
    assert data == (directory / "model.safetensors").read_bytes()
    (tmp_path / "copy.safetensors").write_bytes(data)
    assert CharRNN.load(tmp_path / "copy.safetensors").dtype == "float32"   # float16 stored


def test_classic_script_exports_what_the_module_does():
    source = "export function a() {}\nconst b = 1;\nexport function c() {}\n"
    script = classic_script(source)
    assert "export" not in script.replace("exports", "")
    assert "return { a, c };" in script


def expected_text(directory):
    return CharRNN.load(directory / "model.safetensors").sample(**OPTIONS)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_script_samples_in_node(page):
    directory, _ = page
    program = (
        "const fs = require('fs'), vm = require('vm');"
        f"for (const f of ['model.js', 'charrnn-page.js']) vm.runInThisContext("
        f"fs.readFileSync({str(directory)!r} + '/' + f, 'utf8'));"
        "const model = charrnn.loadModel(Buffer.from(CHARRNN_MODEL, 'base64'));"
        "process.stdout.write(model.sample({n: 300, prime: 'KING.', temperature: 0.8, seed: 7}));")
    out = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected_text(directory)


def chromium(*args, profile):
    # Not under .ci/sanitizers.sh's preloaded ASan: the browser is none of our
    # C, and hangs with it.
    env = {name: value for name, value in os.environ.items()
           if name not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    return subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox",
                           f"--user-data-dir={profile}", "--virtual-time-budget=30000", *args],
                          capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get "
                                             "install chromium; .ci/run installs it)")
def test_chromium_opens_the_page_from_disk_and_generates(page, tmp_path):
    directory, _ = page
    url = ((directory / "index.html").as_uri() + "?" + "&".join(
        f"{key}={value}" for key, value in OPTIONS.items()) + "&autorun=1")
    result = chromium("--dump-dom", url, profile=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="output" data-done="true">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stdout[-3000:]
    assert html.unescape(found.group(1)) == expected_text(directory)
    status = re.search(r'<p id="status">(.*?)</p>', result.stdout).group(1)
    assert status.startswith("300 characters, ")
    # A phone-sized screenshot of it: a PNG with something drawn.
    shot = tmp_path / "page.png"
    result = chromium(f"--screenshot={shot}", "--window-size=390,844", url,
                      profile=tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_command_line_exports(tmp_path, page):
    directory, _ = page
    out = subprocess.run([sys.executable, "-m", "charrnn_c", "export", "web",
                          str(directory / "model.safetensors"), str(tmp_path / "site"),
                          "--dtype", "float32"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert "float32" in (tmp_path / "site" / "index.html").read_text()
