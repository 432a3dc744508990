// The JavaScript sampler (src/charrnn_c/web/charrnn.js) against Python.
//
// The fixtures (tests/js_fixtures.py) come from tests/test_js_sampler.py, which
// writes them and runs `node --test tests/js/` with CHARRNN_JS_FIXTURES set to
// their directory; without it, only the tests that need no Python run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { loadModel, seedState, sha256 } from "../../src/charrnn_c/web/charrnn.js";

const directory = process.env.CHARRNN_JS_FIXTURES;
const fixtures = directory ? JSON.parse(readFileSync(join(directory, "fixtures.json"), "utf8")) : null;
const needs = { skip: directory ? false : "CHARRNN_JS_FIXTURES is not set (tests/test_js_sampler.py sets it)" };
// The tolerance on log-probabilities per stored dtype: JS computes in float64.
const TOLERANCE = { float64: 1e-12, float32: 1e-5, float16: 2e-3 };

function bytesOf(name) {
  return readFileSync(join(directory, fixtures.files[name].file));
}

test("seedState is NumPy's SeedSequence(seed).generate_state(4 k, uint64)", needs, () => {
  for (const [seed, words] of fixtures.seed_states) {
    const big = BigInt(seed);
    assert.deepEqual(Array.from(seedState(big, words.length / 8)), words, `seed ${seed}`);
    if (big < 2n ** 53n) assert.deepEqual(Array.from(seedState(Number(big))), words.slice(0, 8));
  }
});

test("the checksum's SHA-256 is the standard one", () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 1000, 100_003]) {
    const data = new Uint8Array(size).map((_, i) => (i * 7919) % 251);
    assert.equal(sha256(data), createHash("sha256").update(data).digest("hex"), `size ${size}`);
  }
});

test("log-probabilities equal Python's score_samples", needs, () => {
  for (const [name, file] of Object.entries(fixtures.files)) {
    const model = loadModel(bytesOf(name));
    assert.equal(model.cell, file.cell);
    assert.equal(model.dtype, file.stored);
    const ours = model.scoreSamples(fixtures.held_out);
    assert.equal(ours.length, file.log_probs.length);
    let worst = 0, worstUnrounded = 0;
    ours.forEach((x, i) => {
      worst = Math.max(worst, Math.abs(x - file.log_probs[i]));
      worstUnrounded = Math.max(worstUnrounded, Math.abs(x - file.log_probs_unrounded[i]));
    });
    console.log(`# ${name}: |JS - Python| <= ${worst.toExponential(2)} (the loaded file), ` +
                `${worstUnrounded.toExponential(2)} (the model before saving)`);
    assert.ok(worst <= TOLERANCE[file.stored], `${name}: ${worst}`);
    assert.ok(worstUnrounded <= TOLERANCE[file.stored], `${name}: ${worstUnrounded}`);
  }
});

test("the same seed gives Python's text", needs, () => {
  for (const [name, file] of Object.entries(fixtures.files)) {
    const model = loadModel(bytesOf(name));
    let same = 0;
    file.samples.forEach((text, seed) => {
      if (model.sample({ ...fixtures.sample, seed }) === text) same += 1;
    });
    console.log(`# ${name}: ${same} of ${file.samples.length} seeds give Python's text`);
    assert.ok(same >= 0.99 * file.samples.length, `${name}: ${same}`);
    let variants = 0;
    for (const { options, seed, text } of file.variants) {
      const { top_k: topK, top_p: topP, ...rest } = options;
      if (model.sample({ ...rest, topK, topP, seed }) === text) variants += 1;
    }
    assert.ok(variants >= file.variants.length - 1, `${name} variants: ${variants} of ${file.variants.length}`);
  }
});

test("generate yields sample's text one character at a time", needs, () => {
  const model = loadModel(bytesOf("lstm_full_float64"));
  const pieces = [...model.generate({ ...fixtures.sample, seed: 11 })];
  assert.equal(pieces.length, 500);
  assert.ok(pieces.every((p) => p.length === 1));
  assert.equal(pieces.join(""), model.sample({ ...fixtures.sample, seed: 11 }));
  const endless = model.generate({ prime: "KING.", seed: 1 });        // n: Infinity
  for (let i = 0; i < 1000; i++) assert.equal(endless.next().done, false);
});

test("feed, probabilities and reset are the model's own state", needs, () => {
  const model = loadModel(bytesOf("gru_full_float64"));
  assert.throws(() => model.probabilities(), /feed\(text\) first/);
  const text = fixtures.held_out.slice(0, 40);
  model.feed(text.slice(0, 20)).feed(text.slice(20, 39));
  const p = model.probabilities();
  assert.equal(p.length, model.vocabSize);
  assert.ok(Math.abs(p.reduce((a, b) => a + b.probability, 0) - 1) < 1e-12);
  const next = p.find((e) => e.symbol === text[39]).probability;
  const scored = model.scoreSamples(text);
  assert.ok(Math.abs(Math.log(next) - scored[38]) < 1e-12);
  model.reset();
  assert.throws(() => model.probabilities(), /feed\(text\) first/);
  model.feed(text.slice(0, 39));
  assert.equal(model.probabilities().find((e) => e.symbol === text[39]).probability, next);
});

test("bad arguments get an error naming them", needs, () => {
  const model = loadModel(bytesOf("rnn_full_float64"));
  for (const [options, message] of [
    [{ n: -1 }, /n must be/], [{ n: 1.5 }, /n must be/], [{ temperature: -1 }, /temperature/],
    [{ temperature: NaN }, /temperature/], [{ topK: 0 }, /topK/], [{ topP: 1.5 }, /topP/],
    [{ seed: -3 }, /seed/], [{ prime: "KING\u{1F600}" }, /prime holds 1 character/],
    [{ stop: "\u00e9" }, /stop holds/], [{ prime: 5 }, /prime must be a string/],
  ]) assert.throws(() => model.sample(options), message, JSON.stringify(options));
});

test("a corrupt or foreign file gets a clear error", needs, () => {
  const good = new Uint8Array(bytesOf("gru_weights_float16"));
  const headerLength = new DataView(good.buffer).getUint32(0, true);
  const cases = [
    [new Uint8Array(0), /only 0 byte/],
    [good.slice(0, 5), /only 5 byte/],
    [good.slice(0, 100), /truncated: the header should be/],
    [good.slice(0, good.length - 10), /truncated: the header promises/],
    [new TextEncoder().encode("hello world, this is a text file"), /no header length|not JSON/],
  ];
  const flipped = good.slice();
  flipped[flipped.length - 3] ^= 1;                       // one bit of a tensor
  cases.push([flipped, /sha256 checksum/]);
  const header = good.slice();
  header[8 + headerLength - 20] = 0x7b;                    // "{" inside the JSON
  cases.push([header, /not JSON|malformed|checksum|not an object/]);
  // A foreign safetensors file: no charrnn-c format entry.
  const json = new TextEncoder().encode(JSON.stringify({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }));
  const foreign = new Uint8Array(8 + json.length + 4);
  new DataView(foreign.buffer).setUint32(0, json.length, true);
  foreign.set(json, 8);
  cases.push([foreign, /foreign safetensors file/]);
  for (let i = 0; i < 200; i++) {                          // random bytes: an error, never a hang
    const junk = good.slice();
    junk[(i * 104729) % junk.length] ^= 1 + (i % 255);
    cases.push([junk, /./]);
  }
  for (const [bytes, message] of cases) assert.throws(() => loadModel(bytes), message);
  assert.throws(() => loadModel("a string"), /ArrayBuffer or Uint8Array/);
});

test("the WebAssembly and plain JavaScript products agree", needs, () => {
  for (const name of ["rnn_full_float64", "gru_weights_float16", "lstm_full_float32"]) {
    const fast = loadModel(bytesOf(name)), plain = loadModel(bytesOf(name), { wasm: false });
    assert.equal(fast.kernel, "wasm");                 // Node 18+ has WebAssembly SIMD
    assert.equal(plain.kernel, "js");
    const a = fast.scoreSamples(fixtures.held_out), b = plain.scoreSamples(fixtures.held_out);
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-12, `${name} at ${i}`));
    assert.equal(plain.sample({ ...fixtures.sample, seed: 5 }), fast.sample({ ...fixtures.sample, seed: 5 }));
  }
});

test("a file with a right checksum but no model in it is refused", needs, () => {
  // num_layers 10**6 and hidden_size 10**9 are checked against the tensors
  // present before anything is allocated: refused, not a hang or a crash.
  for (const [file, message] of fixtures.hostile)
    assert.throws(() => loadModel(readFileSync(join(directory, file))),
                  (error) => error.message.includes(message), file);
});
