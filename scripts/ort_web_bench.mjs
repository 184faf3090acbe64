// The U-Net's step on onnxruntime-web's WASM backend in Node, for any batch and for a fixed one (information only):
//   node scripts/ort_web_bench.mjs [threads] [rows]      (docs/performance.md, "In the browser")
import {readFileSync} from 'node:fs';
import * as ort from '../demo/web/vendor/onnxruntime-web/ort.wasm.min.mjs';

const here = new URL('.', import.meta.url);
ort.env.wasm.wasmPaths = new URL('../demo/web/vendor/onnxruntime-web/', here).pathname;
ort.env.wasm.numThreads = Number(process.argv[2] || 1);
const rows = Number(process.argv[3] || 32);
const model = new Uint8Array(readFileSync(new URL('../weights/sprites.onnx', here)));
const feeds = {
  x: new ort.Tensor('float32', new Float32Array(rows * 768).fill(0.1), [rows, 3, 16, 16]),
  t: new ort.Tensor('int64', BigInt64Array.from({length: rows}, () => 250n), [rows]),
  c: new ort.Tensor('float32', new Float32Array(rows * 5), [rows, 5]),
};
for (const [name, overrides] of [['any batch', undefined], ['batch fixed', {batch: rows}]]) {
  const session = await ort.InferenceSession.create(model, {executionProviders: ['wasm'], graphOptimizationLevel: 'all',
                                                            freeDimensionOverrides: overrides});
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) await session.run(feeds);
  console.log(`${name}: ${((performance.now() - t0) / 20).toFixed(1)} ms a step, ${rows} rows, ${ort.env.wasm.numThreads} thread(s)`);
}
process.exit(0);
