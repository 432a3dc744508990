"""charrnn.js's WebAssembly kernel is the one wasm_kernel.py assembles (its
numbers are tested in Node: tests/js, the WebAssembly and JavaScript products)."""

import re
from pathlib import Path

import charrnn_c
from charrnn_c import wasm_kernel


def test_the_module_embeds_the_assembled_kernel():
    source = (Path(charrnn_c.__file__).parent / "web" / "charrnn.js").read_text()
    embedded = re.search(r'const MATVEC_WASM = "([^"]+)";', source).group(1)
    assert embedded == wasm_kernel.module_base64()


def test_leb128():
    assert wasm_kernel.uleb(624485) == bytes([0xE5, 0x8E, 0x26])
    assert wasm_kernel.leb(-123456) == bytes([0xC0, 0xBB, 0x78])
    assert wasm_kernel.leb(64) == bytes([0xC0, 0x00])
    assert wasm_kernel.leb(-8) == bytes([0x78])
