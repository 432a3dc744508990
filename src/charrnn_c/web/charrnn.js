// charrnn.js: a charrnn-c model sampled in a browser or in Node 18+, with no dependency.
//
// loadModel(bytes) reads our safetensors file (a full checkpoint or a
// weights-only file, float64, float32 or float16) and checks it as the
// Python loader does: the header, the format entries, the sha256 of the
// contents, the weights' names, shapes and values. A corrupt or foreign file
// throws an Error saying what is wrong; every loop is bounded by the file's size.
//
// Sampling is the C sampler's procedure (csrc/sample_impl.h) with its random
// stream: xoshiro256** seeded from NumPy's SeedSequence(seed), so the same
// seed gives the same text as CharRNN.sample in Python, but where a draw
// falls within rounding of a boundary. All arithmetic is float64.
//
//   const model = loadModel(bytes);
//   model.sample({n: 500, prime: "KING.", temperature: 0.8, seed: 7});
//   for (const piece of model.generate({prime: "KING.", n: 200})) show(piece);
//   model.feed("To be"); model.probabilities(); model.reset();

const MAX_HEADER_BYTES = 100_000_000;
const FORMAT = "charrnn-c";
const FORMAT_VERSION = "1";
// safetensors dtype -> [NumPy's dtype.str, bytes per value]
const DTYPES = {
  BOOL: ["|b1", 1], U8: ["|u1", 1], I8: ["|i1", 1], I16: ["<i2", 2], U16: ["<u2", 2],
  F16: ["<f2", 2], I32: ["<i4", 4], U32: ["<u4", 4], F32: ["<f4", 4], I64: ["<i8", 8],
  U64: ["<u8", 8], F64: ["<f8", 8],
};
const FLOATS = { F16: "float16", F32: "float32", F64: "float64" };
const GATES = { rnn: 1, gru: 3, lstm: 4 };

// ---------------------------------------------------------------------------
// SHA-256, synchronous (crypto.subtle is asynchronous and absent from file:// pages
// in some browsers).

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

class Sha256 {
  constructor() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.block = new Uint8Array(64);
    this.filled = 0;
    this.length = 0;
    this.w = new Uint32Array(64);
  }

  update(bytes) {
    let i = 0;
    this.length += bytes.length;
    if (this.filled) {
      const take = Math.min(64 - this.filled, bytes.length);
      this.block.set(bytes.subarray(0, take), this.filled);
      this.filled += take;
      i = take;
      if (this.filled < 64) return this;
      this.compress(this.block, 0);
      this.filled = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.compress(bytes, i);
    this.block.set(bytes.subarray(i), 0);
    this.filled = bytes.length - i;
    return this;
  }

  compress(b, at) {
    const w = this.w, h = this.h;
    for (let t = 0; t < 16; t++) {
      const j = at + 4 * t;
      w[t] = (b[j] << 24) | (b[j + 1] << 16) | (b[j + 2] << 8) | b[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let [a, bb, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }

  hex() {
    const bits = this.length * 8;
    const tail = new Uint8Array(((this.filled + 8) >> 6) * 64 + 64 - this.filled);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 4, bits >>> 0);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    this.update(tail);
    return Array.from(this.h, (x) => x.toString(16).padStart(8, "0")).join("");
  }
}

/** The SHA-256 of ``bytes`` (a Uint8Array), as hex. */
export function sha256(bytes) {
  return new Sha256().update(bytes).hex();
}

// Python's json.dumps of a string (ensure_ascii): the checksum hashes its bytes.
function pythonJsonString(text) {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ch = text[i];
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

// ---------------------------------------------------------------------------
// NumPy's SeedSequence(seed).generate_state(4 * k, uint64), in uint32 words.

function seedWords(seed) {
  // A non-negative integer as 32-bit words, least significant first (NumPy's
  // _coerce_to_uint32_array).
  let value = BigInt(seed);
  const words = [];
  do {
    words.push(Number(value & 0xffffffffn));
    value >>= 32n;
  } while (value > 0n);
  return words;
}

function hashmix(value, hashConst) {
  value = (value ^ hashConst[0]) >>> 0;
  hashConst[0] = Math.imul(hashConst[0], 0x931e8875) >>> 0;
  value = Math.imul(value, hashConst[0]) >>> 0;
  return (value ^ (value >>> 16)) >>> 0;
}

function mix(x, y) {
  let result = (Math.imul(0xca01f9dd, x) - Math.imul(0x4973f715, y)) >>> 0;
  return (result ^ (result >>> 16)) >>> 0;
}

/** The xoshiro256** state CharRNN.sample seeds: 4 uint64 as 8 uint32 (lo, hi pairs). */
export function seedState(seed, streams = 1) {
  const entropy = seedWords(seed);
  const pool = new Uint32Array(4);
  const hashConst = [0x43b0d7e5];
  for (let i = 0; i < 4; i++) pool[i] = hashmix(i < entropy.length ? entropy[i] : 0, hashConst);
  for (let src = 0; src < 4; src++)
    for (let dst = 0; dst < 4; dst++)
      if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src], hashConst));
  for (let src = 4; src < entropy.length; src++)
    for (let dst = 0; dst < 4; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src], hashConst));
  const words = new Uint32Array(8 * streams);
  let hash = 0x8b51f9dd;
  for (let i = 0; i < words.length; i++) {
    let value = (pool[i % 4] ^ hash) >>> 0;
    hash = Math.imul(hash, 0x58f38ded) >>> 0;
    value = Math.imul(value, hash) >>> 0;
    words[i] = (value ^ (value >>> 16)) >>> 0;
  }
  return words;
}

// xoshiro256** on [lo0, hi0, lo1, hi1, ...] (csrc/random.h), uniform in [0, 1).
function mul64(lo, hi, k) {
  const low = lo * k;                             // exact: below 2**36
  const carry = Math.floor(low / 4294967296);
  return [low >>> 0, (Math.imul(hi, k) + carry) >>> 0];
}

function randomUniform(s) {
  // result = rotl(s1 * 5, 7) * 9
  let [lo, hi] = mul64(s[2], s[3], 5);
  const rlo = ((lo << 7) | (hi >>> 25)) >>> 0, rhi = ((hi << 7) | (lo >>> 25)) >>> 0;
  [lo, hi] = mul64(rlo, rhi, 9);
  // t = s1 << 17
  const tlo = (s[2] << 17) >>> 0, thi = ((s[3] << 17) | (s[2] >>> 15)) >>> 0;
  s[4] ^= s[0]; s[5] ^= s[1];                     // s2 ^= s0
  s[6] ^= s[2]; s[7] ^= s[3];                     // s3 ^= s1
  s[2] ^= s[4]; s[3] ^= s[5];                     // s1 ^= s2
  s[0] ^= s[6]; s[1] ^= s[7];                     // s0 ^= s3
  s[4] ^= tlo; s[5] ^= thi;                       // s2 ^= t
  const alo = s[6], ahi = s[7];                   // s3 = rotl(s3, 45)
  s[6] = ((ahi << 13) | (alo >>> 19)) >>> 0;
  s[7] = ((alo << 13) | (ahi >>> 19)) >>> 0;
  // The top 53 bits: hi's 32 and lo's top 21.
  return (hi * 2097152 + (lo >>> 11)) / 9007199254740992;
}

// ---------------------------------------------------------------------------
// Reading the file

function fail(message) {
  throw new Error(`not a charrnn-c model file: ${message}`);
}

function asBytes(bytes) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError(`loadModel takes the file's bytes (an ArrayBuffer or Uint8Array), ` +
                      `not ${bytes === null ? "null" : typeof bytes}`);
}

function parseContainer(bytes) {
  if (bytes.length < 8) fail(`truncated or not a safetensors file: only ${bytes.length} byte(s)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 4294967296;
  if (length > MAX_HEADER_BYTES) fail("not a safetensors file: its first 8 bytes are no header length");
  if (8 + length > bytes.length)
    fail(`truncated: the header should be ${length} bytes, but the file ends ${bytes.length - 8} bytes into it`);
  let header;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + length)));
  } catch (error) {
    fail(`not a safetensors file: its header is not JSON (${error.message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header))
    fail("not a safetensors file: its header is not a JSON object");
  const data = bytes.subarray(8 + length);
  const entries = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const ok = entry && typeof entry === "object" && entry.dtype in DTYPES &&
      Array.isArray(entry.shape) && entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
      Array.isArray(entry.data_offsets) && entry.data_offsets.length === 2 &&
      entry.data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!ok) fail(`the header's entry for tensor ${JSON.stringify(name)} is malformed`);
    const [begin, end] = entry.data_offsets;
    const size = entry.shape.reduce((a, b) => a * b, 1) * DTYPES[entry.dtype][1];
    if (end - begin !== size)
      fail(`tensor ${JSON.stringify(name)} has ${end - begin} bytes, its shape and dtype make ${size}`);
    entries.push({ name, dtype: entry.dtype, shape: entry.shape, begin, end });
  }
  // As safetensors checks: the tensors tile the data, in order, with no gap or overlap.
  let at = 0;
  for (const entry of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (entry.begin !== at) fail(`tensor ${JSON.stringify(entry.name)} does not start where the one before it ends`);
    at = entry.end;
  }
  if (at > data.length) fail(`truncated: the header promises ${at} bytes of tensor data, but the file holds only ${data.length}`);
  if (at !== data.length) fail(`${data.length - at} bytes after the last tensor`);
  const metadata = header.__metadata__ ?? {};
  if (typeof metadata !== "object" || Array.isArray(metadata) ||
      !Object.values(metadata).every((v) => typeof v === "string"))
    fail("the header's __metadata__ is not a map of strings");
  return { metadata, entries, data };
}

function checkDigest(metadata, entries, data) {
  // checkpoint._digest: a manifest (the entries but sha256, each tensor's name,
  // dtype and shape), its length first, then the tensors' bytes, by name.
  const byName = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const items = Object.keys(metadata).filter((k) => k !== "sha256").sort()
    .map((k) => `[${pythonJsonString(k)}, ${pythonJsonString(metadata[k])}]`);
  const tensors = byName.map((e) =>
    `[${pythonJsonString(e.name)}, "${DTYPES[e.dtype][0]}", [${e.shape.join(", ")}]]`);
  const manifest = new TextEncoder().encode(`[[${items.join(", ")}], [${tensors.join(", ")}]]`);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setUint32(0, manifest.length, true);
  const hash = new Sha256().update(length).update(manifest);
  for (const e of byName) hash.update(data.subarray(e.begin, e.end));
  if (hash.hex() !== metadata.sha256)
    throw new Error("corrupt model file: its contents do not match the sha256 checksum " +
                    "written with them (changed on disk or in transfer)");
}

function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const WARM_STATE = "sampling.warm_state";

function readFloats(entry, data) {
  const view = new DataView(data.buffer, data.byteOffset + entry.begin, entry.end - entry.begin);
  const count = (entry.end - entry.begin) / DTYPES[entry.dtype][1];
  // float32 and float16 values are exact in a Float32Array, at half the memory traffic.
  const out = entry.dtype === "F64" ? new Float64Array(count) : new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = entry.dtype === "F64" ? view.getFloat64(8 * i, true)
      : entry.dtype === "F32" ? view.getFloat32(4 * i, true) : halfToFloat(view.getUint16(2 * i, true));
    if (!Number.isFinite(out[i])) fail(`tensor ${JSON.stringify(entry.name)} holds ${out[i]}, which training never writes`);
  }
  return out;
}

function positiveInt(value, where) {
  if (!Number.isSafeInteger(value) || value < 1) fail(`${where} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** The model in ``bytes`` (ArrayBuffer or Uint8Array): a charrnn-c checkpoint or
 * weights-only file. Throws an Error saying what is wrong with any other.
 * options.wasm = false computes without WebAssembly (model.kernel says which). */
export function loadModel(bytes, options = {}) {
  const { metadata, entries, data } = parseContainer(asBytes(bytes));
  if (metadata.format !== FORMAT) {
    const found = "format" in metadata ? `its 'format' is ${JSON.stringify(metadata.format)}` : "its metadata has no 'format' entry";
    fail(`a foreign safetensors file: ${found}, not "${FORMAT}" (${entries.length} tensor(s))`);
  }
  if (!/^[0-9]{1,9}$/.test(metadata.format_version ?? ""))
    fail(`format_version is ${JSON.stringify(metadata.format_version)}, not a whole number`);
  if (Number(metadata.format_version) > Number(FORMAT_VERSION))
    throw new Error(`written by a newer charrnn-c (checkpoint format version ${metadata.format_version}; this reads version ${FORMAT_VERSION})`);
  if (metadata.format_version !== FORMAT_VERSION) fail(`there is no format version ${metadata.format_version}`);
  if (typeof metadata.sha256 !== "string") fail("the 'sha256' metadata entry is missing");
  let info;
  try {
    info = JSON.parse(metadata.charrnn_c);
  } catch (error) {
    fail(`the 'charrnn_c' metadata entry is missing or not JSON`);
  }
  if (info === null || typeof info !== "object") fail("the 'charrnn_c' metadata entry is not an object");
  checkDigest(metadata, entries, data);

  const params = info.params, vocabulary = info.vocabulary;
  if (!params || typeof params !== "object") fail("the metadata has no 'params' entry");
  if (!(params.cell in GATES)) fail(`params.cell must be one of rnn, gru, lstm, got ${JSON.stringify(params.cell)}`);
  const H = positiveInt(params.hidden_size, "params.hidden_size");
  const L = positiveInt(params.num_layers, "params.num_layers");
  if (!vocabulary || !["chars", "bytes"].includes(vocabulary.mode) || !Array.isArray(vocabulary.symbols) || vocabulary.symbols.length === 0)
    fail("the vocabulary is missing or malformed");
  const top = vocabulary.mode === "bytes" ? 255 : 0x10ffff;
  vocabulary.symbols.forEach((code, i) => {
    if (!Number.isSafeInteger(code) || code < 0 || code > top || (i && code <= vocabulary.symbols[i - 1]))
      fail(`vocabulary symbol ${i} is ${JSON.stringify(code)}: symbols are increasing code points`);
  });
  const V = vocabulary.symbols.length, G = GATES[params.cell];
  const byName = new Map(entries.map((e) => [e.name, e]));
  const shapes = [];
  for (let l = 0; l < L; l++) {
    if (shapes.length > entries.length) break;    // a num_layers the file cannot hold
    shapes.push([`weight_ih_l${l}`, [G * H, l ? H : V]], [`weight_hh_l${l}`, [G * H, H]],
                [`bias_ih_l${l}`, [G * H]], [`bias_hh_l${l}`, [G * H]]);
  }
  shapes.push(["weight_ho", [V, H]], ["bias_o", [V]]);
  const weights = {};
  let stored = null;
  for (const [name, shape] of shapes) {
    const entry = byName.get(name);
    if (!entry) fail(`tensor '${name}' is missing (params: ${L} x ${H} ${params.cell}, ${V} symbols)`);
    if (entry.shape.join(",") !== shape.join(","))
      fail(`tensor '${name}' has shape [${entry.shape}], but params and the vocabulary make it [${shape}]`);
    if (!(entry.dtype in FLOATS)) fail(`tensor '${name}' is ${entry.dtype}, not a float`);
    stored ??= entry.dtype;
    if (entry.dtype !== stored) fail(`tensor '${name}' is ${FLOATS[entry.dtype]}, the others ${FLOATS[stored]}`);
    weights[name] = readFloats(entry, data);
  }
  // The state an unprimed sample starts from (CharRNN's, after the training
  // text's first lines), where the file has one: (L, H), or (2, L, H) for the LSTM.
  let warm = null;
  const warmEntry = byName.get(WARM_STATE);
  if (warmEntry) {
    const shape = params.cell === "lstm" ? [2, L, H] : [L, H];
    if (warmEntry.shape.join(",") !== shape.join(","))
      fail(`tensor '${WARM_STATE}' has shape [${warmEntry.shape}], but params make it [${shape}]`);
    if (!(warmEntry.dtype in FLOATS)) fail(`tensor '${WARM_STATE}' is ${warmEntry.dtype}, not a float`);
    warm = Float64Array.from(readFloats(warmEntry, data));
  }
  return new Model({ cell: params.cell, V, H, L, weights, vocabulary, wasm: options.wasm ?? true,
                     dtype: FLOATS[stored], weightsOnly: info.weights_only === true, params, warm });
}

// ---------------------------------------------------------------------------
// y = W x + b, where the time goes: WebAssembly's f64x2 where there is
// WebAssembly, else plain JavaScript. Both take and give JavaScript arrays.

// src/charrnn_c/wasm_kernel.py assembles it: matvec(out, W, x, bias, rows, cols)
// and matvec_f32 (W in float32), byte addresses into its exported memory.
const MATVEC_WASM = "AGFzbQEAAAABCgFgBn9/f39/fwADAwIAAAUDAQABByADBm1hdHZlYwAACm1hdHZlY19mMzIAAQZtZW1vcnkCAArBBQLaAgMFfwF8BHsgBUF4cUEDdCEIIAEhCQJAA0AgBiAETw0BRAAAAAAAAAAA/RQhDEQAAAAAAAAAAP0UIQ1EAAAAAAAAAAD9FCEORAAAAAAAAAAA/RQhDyACIQogAiAIaiEHAkADQCAKIAdPDQEgDCAJ/QAEACAK/QAEAP3yAf3wASEMIA0gCf0ABBAgCv0ABBD98gH98AEhDSAOIAn9AAQgIAr9AAQg/fIB/fABIQ4gDyAJ/QAEMCAK/QAEMP3yAf3wASEPIAlBwABqIQkgCkHAAGohCgwACwsgDCAN/fABIQwgDiAP/fABIQ4gDCAO/fABIQwgDP0hACAM/SEBoCELIAIgBUEDdGohBwJAA0AgCiAHTw0BIAsgCSsDACAKKwMAoqAhCyAJQQhqIQkgCkEIaiEKDAALCyAAIAZBA3RqIAsgAyAGQQN0aisDAKA5AwAgBkEBaiEGDAALCwviAgMFfwF8BHsgBUF4cUEDdCEIIAEhCQJAA0AgBiAETw0BRAAAAAAAAAAA/RQhDEQAAAAAAAAAAP0UIQ1EAAAAAAAAAAD9FCEORAAAAAAAAAAA/RQhDyACIQogAiAIaiEHAkADQCAKIAdPDQEgDCAJ/V0DAP1fIAr9AAQA/fIB/fABIQwgDSAJ/V0DCP1fIAr9AAQQ/fIB/fABIQ0gDiAJ/V0DEP1fIAr9AAQg/fIB/fABIQ4gDyAJ/V0DGP1fIAr9AAQw/fIB/fABIQ8gCUEgaiEJIApBwABqIQoMAAsLIAwgDf3wASEMIA4gD/3wASEOIAwgDv3wASEMIAz9IQAgDP0hAaAhCyACIAVBA3RqIQcCQANAIAogB08NASALIAkqAgC7IAorAwCioCELIAlBBGohCSAKQQhqIQoMAAsLIAAgBkEDdGogCyADIAZBA3RqKwMAoDkDACAGQQFqIQYMAAsLCw==";

function jsProducts(weights) {
  return (out, W, x, b, rows, cols) => matvec(out, weights[W], x, weights[b], rows, cols, false);
}

// Every matrix a product reads (all but weight_ih_l0, which a step gathers a
// column of) copied into the module's memory once: a float64 file's as f64, a
// float32 or float16 file's as f32 (exact; half the bytes to read), biases as
// f64. Each row is padded with zeros to a multiple of 8 columns, the kernel's
// step, so that no row ends in a column-by-column tail (+0 changes no sum).
// x and y pass through a buffer there (H and G H values: little beside the
// G H^2 product).
function wasmProducts(weights, H, maxRows) {
  if (typeof WebAssembly !== "object") return null;
  const padded = Math.ceil(H / 8) * 8;
  const names = Object.keys(weights).filter((name) => name !== "weight_ih_l0");
  let kernel;
  try {
    kernel = new WebAssembly.Instance(new WebAssembly.Module(
      Uint8Array.from(atob(MATVEC_WASM), (c) => c.charCodeAt(0)))).exports;
    let bytes = 8 * (padded + maxRows);
    for (const name of names) bytes += 8 * (weights[name].length / H) * padded;
    kernel.memory.grow(Math.ceil(bytes / 65536));
  } catch {
    return null;                                  // no SIMD here, or no memory for it
  }
  const buffer = kernel.memory.buffer, at = {}, single = {};
  let offset = 0;                                 // in bytes, kept a multiple of 8
  for (const name of names) {
    const array = weights[name];
    if (name.startsWith("bias")) {
      new Float64Array(buffer, offset, array.length).set(array);
      at[name] = offset;
      offset += 8 * array.length;
      continue;
    }
    const f32 = array instanceof Float32Array, rows = array.length / H;
    const heap = f32 ? new Float32Array(buffer, offset, rows * padded)
      : new Float64Array(buffer, offset, rows * padded);
    for (let r = 0; r < rows; r++) heap.set(array.subarray(r * H, (r + 1) * H), r * padded);
    at[name] = offset;
    single[name] = f32;
    offset += 8 * Math.ceil((rows * padded * (f32 ? 4 : 8)) / 8);
  }
  const x = new Float64Array(buffer, offset, padded), xAt = offset;   // its padding stays 0
  offset += 8 * padded;
  const y = new Float64Array(buffer, offset, maxRows), yAt = offset;
  const heads = new Map();                        // y's first rows, a view per size, made once
  return (out, W, input, b, rows) => {
    x.set(input);
    (single[W] ? kernel.matvec_f32 : kernel.matvec)(yAt, at[W], xAt, at[b], rows, padded);
    let head = heads.get(rows);
    if (!head) heads.set(rows, (head = y.subarray(0, rows)));
    out.set(head);
  };
}

// ---------------------------------------------------------------------------
// The model

function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

// out[r] = bias[r] + sum_c W[r, c] x[c], W (rows, cols) row-major; four sums at once.
function matvec(out, W, x, bias, rows, cols, add) {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0;
    for (; c + 3 < cols; c += 4) {
      s0 += W[base + c] * x[c];
      s1 += W[base + c + 1] * x[c + 1];
      s2 += W[base + c + 2] * x[c + 2];
      s3 += W[base + c + 3] * x[c + 3];
    }
    for (; c < cols; c++) s0 += W[base + c] * x[c];
    const s = (s0 + s1) + (s2 + s3) + bias[r];
    out[r] = add ? out[r] + s : s;
  }
}

class Model {
  constructor({ cell, V, H, L, weights, vocabulary, dtype, weightsOnly, params, wasm, warm = null }) {
    Object.assign(this, { cell, vocabSize: V, hiddenSize: H, numLayers: L, dtype, weightsOnly, warm });
    const G = GATES[cell];
    const fast = wasm ? wasmProducts(weights, H, Math.max(G * H, V)) : null;
    this.product = fast ?? jsProducts(weights);
    this.kernel = fast ? "wasm" : "js";
    this.layers = Array.from({ length: L }, (_, l) => ({
      ih: `weight_ih_l${l}`, hh: `weight_hh_l${l}`, bih: `bias_ih_l${l}`, bhh: `bias_hh_l${l}` }));
    this.params = params;
    this.mode = vocabulary.mode;
    this.codes = vocabulary.symbols;
    this.symbols = this.mode === "bytes" ? this.codes.slice() : this.codes.map((c) => String.fromCodePoint(c));
    this.index = new Map(this.codes.map((code, i) => [code, i]));
    this.w = weights;
    // Layer 0's input side for each symbol, W_ih[:, x] + b_ih, summed once here.
    const Wih = weights.weight_ih_l0, bih = weights.bias_ih_l0;
    this.columns = Array.from({ length: V }, (_, x) =>
      Float64Array.from(bih, (b, r) => Wih[r * V + x] + b));
    this.xSide = new Float64Array(G * H);
    this.hSide = new Float64Array(G * H);
    this.logitsBuffer = new Float64Array(V);
    this.p = new Float64Array(V);
    this.ranked = Array.from({ length: V }, () => ({ p: 0, index: 0 }));
    this.state = this.zeroState();
    this.fed = false;
  }

  zeroState() {
    const states = this.cell === "lstm" ? 2 : 1;
    return Array.from({ length: states * this.numLayers }, () => new Float64Array(this.hiddenSize));
  }

  // Where a sample starts: the warm state without a prime, as CharRNN.sample.
  startState(unprimed) {
    const state = this.zeroState(), H = this.hiddenSize;
    if (unprimed && this.warm) state.forEach((s, i) => s.set(this.warm.subarray(i * H, (i + 1) * H)));
    return state;
  }

  /** Symbol indices of ``text`` (bytes models take its UTF-8); an Error names unknown ones. */
  encode(text, argument = "text") {
    if (typeof text !== "string") throw new TypeError(`${argument} must be a string, not ${typeof text}`);
    const codes = this.mode === "bytes" ? Array.from(new TextEncoder().encode(text))
      : Array.from(text, (ch) => ch.codePointAt(0));
    const unknown = [...new Set(codes.filter((c) => !this.index.has(c)))];
    if (unknown.length) {
      const shown = unknown.slice(0, 10).map((c) => JSON.stringify(this.mode === "bytes" ? c : String.fromCodePoint(c)));
      throw new RangeError(`${argument} holds ${unknown.length} character(s) not in the model's vocabulary: ${shown.join(", ")}`);
    }
    return codes.map((c) => this.index.get(c));
  }

  decode(indices) {
    if (this.mode === "bytes") return new TextDecoder().decode(Uint8Array.from(indices, (i) => this.codes[i]));
    return indices.map((i) => this.symbols[i]).join("");
  }

  // One step of the stack for symbol x from state (replaced in place); the
  // logits only when asked (the prime's steps but its last need none).
  step(state, x, logits) {
    const { cell, hiddenSize: H, numLayers: L, vocabSize: V, w } = this;
    const hs = this.hSide, G = GATES[cell];
    for (let l = 0; l < L; l++) {
      const h = state[l], names = this.layers[l];
      let xs = this.xSide;
      if (l === 0) xs = this.columns[x];          // W_ih one_hot(x) + b_ih
      else this.product(xs, names.ih, state[l - 1], names.bih, G * H, H);
      this.product(hs, names.hh, h, names.bhh, G * H, H);
      if (cell === "rnn") {
        for (let j = 0; j < H; j++) h[j] = Math.tanh(xs[j] + hs[j]);
      } else if (cell === "gru") {
        for (let j = 0; j < H; j++) {
          const r = sigmoid(xs[j] + hs[j]);
          const z = sigmoid(xs[H + j] + hs[H + j]);
          const n = Math.tanh(xs[2 * H + j] + r * hs[2 * H + j]);
          h[j] = (1 - z) * n + z * h[j];
        }
      } else {
        const c = state[L + l];
        for (let j = 0; j < H; j++) {
          const i = sigmoid(xs[j] + hs[j]), f = sigmoid(xs[H + j] + hs[H + j]);
          const g = Math.tanh(xs[2 * H + j] + hs[2 * H + j]), o = sigmoid(xs[3 * H + j] + hs[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * Math.tanh(c[j]);
        }
      }
    }
    if (logits) this.product(logits, "weight_ho", state[L - 1], "bias_o", V, H);
  }

  // csrc/sample_impl.h's draw, value for value.
  draw(logits, rng, temperature, topK, topP) {
    const V = this.vocabSize, p = this.p, ranked = this.ranked;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    if (temperature <= 0) return best;
    let total = 0;
    const top = logits[best];
    for (let v = 0; v < V; v++) {
      const z = (logits[v] - top) / temperature;
      total += p[v] = z < -708 ? 0 : Math.exp(z);
    }
    if (!((topK > 0 && topK < V) || topP < 1)) {
      // The whole vocabulary, in index order: C's ranking before any sort.
      const u = randomUniform(rng) * total;
      let cumulative = 0;
      for (let v = 0; v < V; v++) {
        cumulative += p[v];
        if (u < cumulative) return v;
      }
      return V - 1;                               // u rounded up to the total
    }
    for (let v = 0; v < V; v++) {
      ranked[v].p = p[v];
      ranked[v].index = v;
    }
    let count = V;
    {
      ranked.sort((a, b) => (a.p !== b.p ? (a.p > b.p ? -1 : 1) : a.index - b.index));
      if (topK > 0 && topK < V) count = topK;
      if (topP < 1) {
        let mass = 0, kept = 0;
        for (let v = 0; v < count; v++) mass += ranked[v].p;
        for (let v = 0; v < count; v++) {
          kept += ranked[v].p;
          if (kept >= topP * mass) { count = v + 1; break; }
        }
      }
      total = 0;
      for (let v = 0; v < count; v++) total += ranked[v].p;
    }
    const u = randomUniform(rng) * total;
    let cumulative = 0;
    for (let v = 0; v < count; v++) {
      cumulative += ranked[v].p;
      if (u < cumulative) return ranked[v].index;
    }
    return ranked[count - 1].index;               // u rounded up to the total
  }

  options({ n = 500, prime = "", temperature = 1, topK = null, topP = null, stop = "", seed } = {}, unbounded = false) {
    if (!(unbounded && n === Infinity) && !(Number.isSafeInteger(n) && n >= 0 && n <= 2 ** 31 - 1))
      throw new RangeError(`n must be a whole number from 0 to 2147483647, got ${n}`);
    if (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature))
      throw new RangeError(`temperature must be a finite number >= 0, got ${temperature}`);
    if (topK !== null && topK !== undefined && !(Number.isSafeInteger(topK) && topK >= 1))
      throw new RangeError(`topK must be a positive integer or null, got ${topK}`);
    if (topP !== null && topP !== undefined && !(typeof topP === "number" && topP > 0 && topP <= 1))
      throw new RangeError(`topP must be in (0, 1] or null, got ${topP}`);
    if (seed === undefined || seed === null) seed = Math.floor(Math.random() * 2 ** 53);
    if (!((typeof seed === "bigint" && seed >= 0n) || (Number.isSafeInteger(seed) && seed >= 0)))
      throw new RangeError(`seed must be a whole number >= 0 (a BigInt beyond 2**53), got ${seed}`);
    // No prime: a line break where the vocabulary has one (as CharRNN.sample).
    let primed = prime === "" || prime === null || prime === undefined ? null : this.encode(prime, "prime");
    const unprimed = primed === null;
    if (unprimed) primed = [this.index.has(10) ? this.index.get(10) : 0];
    return {
      n, prime: primed, unprimed, temperature, seed,
      topK: topK ? Math.min(topK, this.vocabSize) : 0, topP: topP ?? 1,
      stop: stop ? this.encode(stop, "stop") : [],
    };
  }

  // The indices drawn one at a time, as the C sampler draws them.
  *drawing(o) {
    const rng = seedState(o.seed).subarray(0, 8);
    const state = this.startState(o.unprimed), logits = new Float64Array(this.vocabSize);
    o.prime.forEach((x, i) => this.step(state, x, i === o.prime.length - 1 ? logits : null));
    const recent = [];
    for (let i = 0; i < o.n; i++) {
      const x = this.draw(logits, rng, o.temperature, o.topK, o.topP);
      yield x;
      if (o.stop.length) {
        recent.push(x);
        if (recent.length > o.stop.length) recent.shift();
        if (recent.length === o.stop.length && recent.every((v, j) => v === o.stop[j])) return;
      }
      if (i + 1 < o.n) this.step(state, x, logits);
    }
  }

  /** ``n`` characters after ``prime`` (not repeated): CharRNN.sample's text for the same seed. */
  sample(options = {}) {
    return this.decode([...this.drawing(this.options(options))]);
  }

  /** The same characters as sample, yielded one at a time as they are drawn (n may be Infinity). */
  *generate(options = {}) {
    const o = this.options({ n: Infinity, ...options }, true);
    const decoder = this.mode === "bytes" ? new TextDecoder() : null;
    for (const x of this.drawing(o)) {
      const piece = decoder ? decoder.decode(new Uint8Array([this.codes[x]]), { stream: true }) : this.symbols[x];
      if (piece) yield piece;
    }
    const rest = decoder ? decoder.decode() : "";  // a character cut short at the end
    if (rest) yield rest;
  }

  /** log p(text[i + 1] | text[..i]) for every i, from a zero state: CharRNN.score_samples. */
  scoreSamples(text) {
    const indices = this.encode(text);
    if (indices.length < 2) throw new RangeError("scoring needs at least two characters (the first is only context)");
    const state = this.zeroState(), logits = this.logitsBuffer, out = new Float64Array(indices.length - 1);
    for (let i = 0; i + 1 < indices.length; i++) {
      this.step(state, indices[i], logits);
      let max = -Infinity, sum = 0;
      for (const z of logits) max = Math.max(max, z);
      for (const z of logits) sum += Math.exp(z - max);
      out[i] = logits[indices[i + 1]] - max - Math.log(sum);
    }
    return out;
  }

  /** Feed ``text`` through the model's own state (for probabilities()). */
  feed(text) {
    const indices = this.encode(text);
    indices.forEach((x, i) => this.step(this.state, x, i === indices.length - 1 ? this.logitsBuffer : null));
    if (indices.length) this.fed = true;
    return this;
  }

  /** [{symbol, probability}] of the next character after what was fed, in vocabulary order. */
  probabilities({ temperature = 1 } = {}) {
    if (!this.fed) throw new Error("feed(text) first: there is no character yet to predict after");
    if (!(typeof temperature === "number" && temperature > 0 && Number.isFinite(temperature)))
      throw new RangeError(`temperature must be a finite number > 0, got ${temperature}`);
    const logits = this.logitsBuffer;
    let max = -Infinity, sum = 0;
    for (const z of logits) max = Math.max(max, z);
    const p = Array.from(logits, (z) => Math.exp((z - max) / temperature));
    for (const x of p) sum += x;
    return p.map((x, i) => ({ symbol: this.symbols[i], probability: x / sum }));
  }

  /** Back to the zero state, nothing fed. */
  reset() {
    this.state = this.zeroState();
    this.fed = false;
    return this;
  }
}
