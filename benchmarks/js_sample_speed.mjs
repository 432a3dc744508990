// Characters per second of the JavaScript sampler in Node, for one model file:
//   node benchmarks/js_sample_speed.mjs MODEL.safetensors N [SEED]
// prints one JSON line {chars, seconds, chars_per_second, text_sha256}.
// benchmarks/js_sample_speed.py runs it beside the C sampler.
import { readFileSync } from "node:fs";
import { loadModel, sha256 } from "../src/charrnn_c/web/charrnn.js";

const [path, n, seed = "0"] = process.argv.slice(2);
const model = loadModel(readFileSync(path));
model.sample({ n: Math.min(2000, Number(n)), prime: "KING.", seed: 1 });       // warm up the JIT
const start = performance.now();
const text = model.sample({ n: Number(n), prime: "KING.", temperature: 0.8, seed: Number(seed) });
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ chars: text.length, seconds, chars_per_second: text.length / seconds,
                             text_sha256: sha256(new TextEncoder().encode(text)) }));
