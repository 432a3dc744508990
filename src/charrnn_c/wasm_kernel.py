"""The JavaScript sampler's matrix-vector product, as WebAssembly bytes assembled here.

web/charrnn.js spends its time in y = W x + b (every layer, every character),
and plain JavaScript does that at about 0.5 GFLOP/s; WebAssembly's 128-bit
SIMD (f64x2, in every current browser and in Node 16.4+) does it several
times faster, still in float64. The module is small enough to write out by
hand, so no compiler is needed: this file assembles it, and charrnn.js holds
the result as base64 (tests/test_wasm_kernel.py checks the two agree). Its
one function, with byte addresses into its exported memory:

    matvec(out, W, x, bias, rows, cols)
        out[r] = bias[r] + sum_c W[r, c] x[c]   for r < rows; W (rows, cols) row-major, f64
    matvec_f32(out, W, x, bias, rows, cols)
        the same with W in float32 (a float32 or float16 file's weights, exact
        there), each promoted to float64 as it is read: half the bytes to read

Eight columns a step in four f64x2 accumulators, one pointer compared per
step, then the columns left one at a time. (Eight accumulators measured no
faster, on a busy machine.)

Run ``python -m charrnn_c.wasm_kernel`` to print the base64.
"""

from __future__ import annotations

import base64

I32, F64, V128 = 0x7F, 0x7C, 0x7B
# The function's parameters and locals, by index.
OUT, W, X, BIAS, ROWS, COLS = range(6)
R, C, COLS_BLOCK, WP, XP, S, ACC = 6, 7, 8, 9, 10, 11, 12     # ACC..ACC+LANES-1: v128
LANES = 4


def leb(value: int) -> bytes:
    """Signed LEB128 (unsigned values below 64 encode the same)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def section(code: int, body: bytes) -> bytes:
    return bytes([code]) + uleb(len(body)) + body


def get(i: int) -> bytes:
    return b"\x20" + uleb(i)


def put(i: int) -> bytes:
    return b"\x21" + uleb(i)


def const(n: int) -> bytes:
    return b"\x41" + leb(n)


def simd(op: int, *immediates: int) -> bytes:
    return b"\xfd" + uleb(op) + bytes(immediates)


V128_LOAD, F64X2_SPLAT, F64X2_EXTRACT_LANE, F64X2_ADD, F64X2_MUL = 0x00, 0x14, 0x21, 0xF0, 0xF2
V128_LOAD64_ZERO, F64X2_PROMOTE = 0x5D, 0x5F        # f64x2.promote_low_f32x4
F32_LOAD, F64_PROMOTE = b"\x2a\x02\x00", b"\xbb"
I32_ADD, I32_AND, I32_GE_U, I32_SHL = b"\x6a", b"\x71", b"\x4f", b"\x74"
F64_ADD, F64_MUL, F64_LOAD, F64_STORE = b"\xa0", b"\xa2", b"\x2b\x03\x00", b"\x39\x03\x00"
BLOCK, LOOP, END = b"\x02\x40", b"\x03\x40", b"\x0b"


def br(depth: int) -> bytes:
    return b"\x0c" + uleb(depth)


def br_if(depth: int) -> bytes:
    return b"\x0d" + uleb(depth)


def add_to(local: int, amount: int) -> bytes:
    return get(local) + const(amount) + I32_ADD + put(local)


def matvec_body(single: bool) -> bytes:
    """matvec's code; ``single``: W holds float32, each promoted to float64 as it
    is read (half the bytes to read, the sum still in float64)."""
    zero = b"\x44" + bytes(8) + simd(F64X2_SPLAT)
    size = 4 if single else 8                               # bytes per weight

    def pair(offset: int) -> bytes:                        # two weights, as f64x2
        if single:
            return get(WP) + simd(V128_LOAD64_ZERO, 3) + uleb(offset) + simd(F64X2_PROMOTE)
        return get(WP) + simd(V128_LOAD, 4) + uleb(offset)

    accumulate = b"".join(
        get(ACC + k) + pair(2 * size * k)
        + get(XP) + simd(V128_LOAD, 4) + uleb(16 * k) + simd(F64X2_MUL) + simd(F64X2_ADD)
        + put(ACC + k) for k in range(LANES))
    one = get(WP) + (F32_LOAD + F64_PROMOTE if single else F64_LOAD)
    # A pairwise sum of the accumulators, into ACC.
    lanes = b""
    for step in (1, 2, 4)[:LANES.bit_length() - 1]:
        lanes += b"".join(get(ACC + k) + get(ACC + k + step) + simd(F64X2_ADD) + put(ACC + k)
                          for k in range(0, LANES, 2 * step))
    code = (
        get(COLS) + const(-2 * LANES) + I32_AND + const(3) + I32_SHL + put(COLS_BLOCK)
        + get(W) + put(WP)
        + BLOCK + LOOP                                          # each row
        + get(R) + get(ROWS) + I32_GE_U + br_if(1)
        + b"".join(zero + put(ACC + k) for k in range(LANES))
        + get(X) + put(XP) + get(X) + get(COLS_BLOCK) + I32_ADD + put(C)      # x's end
        + BLOCK + LOOP                                          # 2 LANES columns at a time
        + get(XP) + get(C) + I32_GE_U + br_if(1)
        + accumulate
        + add_to(WP, 2 * size * LANES) + add_to(XP, 16 * LANES)
        + br(0) + END + END
        + lanes + get(ACC) + simd(F64X2_EXTRACT_LANE, 0)
        + get(ACC) + simd(F64X2_EXTRACT_LANE, 1) + F64_ADD + put(S)
        + get(X) + get(COLS) + const(3) + I32_SHL + I32_ADD + put(C)          # x's end
        + BLOCK + LOOP                                          # the columns left
        + get(XP) + get(C) + I32_GE_U + br_if(1)
        + get(S) + one + get(XP) + F64_LOAD + F64_MUL + F64_ADD + put(S)
        + add_to(WP, size) + add_to(XP, 8)
        + br(0) + END + END
        + get(OUT) + get(R) + const(3) + I32_SHL + I32_ADD      # out + 8 r
        + get(S) + get(BIAS) + get(R) + const(3) + I32_SHL + I32_ADD + F64_LOAD + F64_ADD
        + F64_STORE
        + add_to(R, 1)
        + br(0) + END + END
        + END)
    locals = vec([uleb(5) + bytes([I32]), uleb(1) + bytes([F64]), uleb(LANES) + bytes([V128])])
    body = locals + code
    return uleb(len(body)) + body


def module() -> bytes:
    """The whole .wasm file: matvec (W in float64), matvec_f32 (W in float32) and
    one memory, all exported."""
    functype = b"\x60" + vec([bytes([I32])] * 6) + vec([])
    return (b"\x00asm\x01\x00\x00\x00"
            + section(1, vec([functype]))
            + section(3, vec([uleb(0), uleb(0)]))
            + section(5, vec([b"\x00" + uleb(1)]))                # memory: 1 page to start
            + section(7, vec([uleb(6) + b"matvec" + b"\x00" + uleb(0),
                              uleb(10) + b"matvec_f32" + b"\x00" + uleb(1),
                              uleb(6) + b"memory" + b"\x02" + uleb(0)]))
            + section(10, vec([matvec_body(False), matvec_body(True)])))


def module_base64() -> str:
    return base64.b64encode(module()).decode("ascii")


if __name__ == "__main__":
    print(module_base64())
