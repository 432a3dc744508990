"""`charrnn export web CKPT DIR`: a static page that samples the model in the browser.

The directory holds

    index.html        the page: prime, temperature, length, seed, a Generate
                      button, and the text streaming in as it is drawn
    model.js          the weights-only file, base64 in a classic script
    charrnn-page.js   web/charrnn.js as a classic script (window.charrnn)
    charrnn.js        web/charrnn.js itself, the ES module, for other pages and apps
    model.safetensors the weights-only file, for those

Opened straight from the disk (file://), a page may fetch nothing and import
no module (Chrome refuses both there), so the page reads only classic
scripts; the same files work from any static host. Query parameters fill the
form (?prime=KING.&temperature=0.8&n=500&seed=7), and &autorun=1 generates
on load, which is how the browser test drives it.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .safetensors_file import checkpoint_bytes
from . import weights_file

if TYPE_CHECKING:
    from .model import CharRNN

MODULE = Path(__file__).parent / "web" / "charrnn.js"
EXPORTS = re.compile(r"^export (function|class|const) ", re.MULTILINE)


def classic_script(module_source: str) -> str:
    """The ES module as a classic script: its exports become window.charrnn."""
    names = re.findall(r"^export (?:function|class|const) (\w+)", module_source, re.MULTILINE)
    body = EXPORTS.sub(r"\1 ", module_source)
    return (f"// web/charrnn.js as a classic script, for pages opened from the disk.\n"
            f"var charrnn = (function () {{\n\"use strict\";\n{body}\n"
            f"return {{ {', '.join(names)} }};\n}})();\n")


def export_web(model: CharRNN, directory: str | os.PathLike[str],
               dtype: str = "float16") -> list[Path]:
    """Write the page for ``model`` into ``directory`` (made if missing), its
    weights stored in ``dtype``. Returns the paths written, index.html first."""
    data = checkpoint_bytes(*weights_file.contents(model._fitted_params(), model.vocab_,
                                                   model.spec_, model._state, dtype))
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    source = MODULE.read_text(encoding="utf-8")
    title = (f"charrnn-c: a {model.num_layers} x {model.hidden_size} {model.cell}, "
             f"{model.params_.size:,} weights in {dtype}")
    files = {
        "index.html": PAGE.replace("{title}", html.escape(title)),
        "model.js": (f"// The model's weights-only file ({len(data):,} bytes), base64.\n"
                     f"var CHARRNN_MODEL = {json.dumps(base64.b64encode(data).decode())};\n"),
        "charrnn-page.js": classic_script(source),
        "charrnn.js": source,
    }
    paths = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        paths.append(out / name)
    (out / "model.safetensors").write_bytes(data)
    paths.append(out / "model.safetensors")
    return paths


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 48rem; padding: 1rem; }
  form { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; }
  label { display: flex; flex-direction: column; font-size: .85rem; color: #444; }
  input, button { font: inherit; padding: .4rem; min-height: 2.5rem; box-sizing: border-box; }
  button { background: #245; color: white; border: 0; border-radius: .3rem; }
  #output { white-space: pre-wrap; font: 15px/1.45 ui-monospace, monospace; background: #f6f6f3;
            padding: 1rem; border-radius: .3rem; min-height: 12rem; overflow-wrap: anywhere; }
  #status { color: #666; font-size: .85rem; }
</style>
</head>
<body>
<h1 style="font-size:1.2rem">{title}</h1>
<form id="form">
  <label>Prime <input id="prime" value="KING."></label>
  <label>Temperature <input id="temperature" type="number" value="0.8" min="0" step="0.1"></label>
  <label>Length <input id="n" type="number" value="500" min="0" max="100000" step="1"></label>
  <label>Seed <input id="seed" type="number" value="7" min="0" step="1"></label>
  <button id="generate" type="submit">Generate</button>
</form>
<p id="status"></p>
<pre id="output"></pre>
<script src="model.js"></script>
<script src="charrnn-page.js"></script>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const output = $("output"), status = $("status");
let model, run = 0;
try {
  model = charrnn.loadModel(Uint8Array.from(atob(CHARRNN_MODEL), (c) => c.charCodeAt(0)));
  status.textContent = "model loaded (" + model.kernel + ")";
} catch (error) {
  status.textContent = "could not load the model: " + error.message;
}
const query = new URLSearchParams(location.search);
for (const id of ["prime", "temperature", "n", "seed"]) if (query.has(id)) $(id).value = query.get(id);

function generate() {
  const mine = ++run;                         // a new Generate stops the one before
  output.textContent = "";
  output.dataset.done = "false";
  let pieces;
  try {
    const seed = $("seed").value === "" ? undefined : Number($("seed").value);
    pieces = model.generate({ prime: $("prime").value, temperature: Number($("temperature").value),
                              n: Number($("n").value), seed });
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  const started = performance.now();
  let count = 0;
  function some() {
    if (mine !== run) return;
    const until = performance.now() + 30;      // draw for 30 ms, then let the page paint
    let text = "", piece;
    try {
      while (performance.now() < until && !(piece = pieces.next()).done) text += piece.value;
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    count += text.length;
    output.textContent += text;
    if (piece && piece.done) {
      output.dataset.done = "true";
      status.textContent = count + " characters, " +
        Math.round(count / ((performance.now() - started) / 1000)) + " per second";
    } else {
      status.textContent = count + " characters...";
      setTimeout(some, 0);
    }
  }
  some();
}
$("form").addEventListener("submit", (event) => { event.preventDefault(); if (model) generate(); });
if (model && query.get("autorun") === "1") generate();
</script>
</body>
</html>
"""
