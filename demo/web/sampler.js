// The page's own sampler: ddpm/sampler.py's DDPM and DDIM loops, step for step, with the U-Net on onnxruntime-web.
// A plan from the server (demo/browser_run.py) gives the walk: the respaced schedule, the context rows, the guidance,
// the steps whose frames are kept. Noise comes from noise.js, bit for bit the server's.
import {PER_DRAW, SpriteNoise} from './noise.js';

/** ε̂(x_t, t, c) for `rows` sprites from a net: `net(rows)` gives its ONNX session for that batch (ddpm/web_model.py's inputs). */
export async function epsilon(ort, net, x, t, c, rows, nCfeat) {
  const session = await net(rows);
  const feeds = {
    x: new ort.Tensor('float32', x, [rows, 3, 16, 16]),
    t: new ort.Tensor('int64', BigInt64Array.from({length: rows}, () => BigInt(t)), [rows]),
    c: new ort.Tensor('float32', c, [rows, nCfeat]),
  };
  const out = await session.run(feeds);
  return out.eps.data;
}

/** The denoiser the plan asks for, as ddpm.guidance builds it: guide(autoguide(main, weak, ω), w, c). */
export function denoiser(ort, nets, plan) {
  const ag = plan.autoguidance;  // null: the net alone; else ω and the interval of t it guides (ddpm.guidance.autoguidance)
  const net = async (x, t, c, rows) => {
    const main = await epsilon(ort, nets.main, x, t, c, rows, plan.n_cfeat);
    if (!ag || t < ag.interval[0] || t > ag.interval[1]) return main;  // a plan with autoguidance needs nets.weak
    // ε̃ = ε̂_weak + ω·(ε̂_main − ε̂_weak)   (Karras et al. 2024, eq. 2), on the interval only (Kynkäänniemi et al. 2024)
    const weak = await epsilon(ort, nets.weak, x, t, c, rows, plan.n_cfeat);
    return main.map((m, k) => weak[k] + ag.strength * (m - weak[k]));
  };
  if (!(plan.guidance > 0 && plan.context)) return net;
  return async (x, t, c, rows) => {
    // One call on [x, x] with [c, ∅]; ε̃ = (1 + w)·ε̂(c) − w·ε̂(∅), written cond + w·(cond − uncond)   (Ho & Salimans 2022, eq. 6)
    const both = new Float32Array(2 * x.length);
    both.set(x);
    both.set(x, x.length);
    const contexts = new Float32Array(2 * c.length);
    contexts.set(c);
    const eps = await net(both, t, contexts, 2 * rows);
    const half = x.length;
    const out = new Float32Array(half);
    for (let k = 0; k < half; k++) out[k] = eps[k] + plan.guidance * (eps[k] - eps[half + k]);
    return out;
  };
}

/** The (rows, n_cfeat) context of every call: the plan's rows for each arm, or all-zero ("no class"). */
function contextRows(plan, rows) {
  const c = new Float32Array(rows * plan.n_cfeat);
  if (plan.context) plan.context.forEach((row, k) => { for (let arm = 0; arm < plan.arms; arm++) c.set(row, (arm * plan.n + k) * plan.n_cfeat); });
  return c;
}

/** Each arm's views of a batch as uint8 sprites (n, 16, 16, 3), as demo/frames.py's views: x, ε̂·½, x̂0. */
export function views(plan, x, eps, x0) {
  const make = (values, scale) => {
    const out = new Uint8Array(values.length);
    for (let row = 0; row < plan.arms * plan.n; row++) {
      for (let ch = 0; ch < 3; ch++) for (let p = 0; p < 256; p++) {
        let v = Math.fround(values[row * PER_DRAW + ch * 256 + p] * scale);
        v = Math.min(1, Math.max(-1, v));
        out[row * PER_DRAW + p * 3 + ch] = roundHalfEven(Math.fround(Math.fround(v + 1) * 127.5));  // to_uint8, CHW → HWC
      }
    }
    return out;
  };
  return [make(x, 1), make(eps, 0.5), make(x0, 1)];
}

function roundHalfEven(v) {
  const r = Math.round(v);
  return (r - v === 0.5 && r % 2 !== 0) ? r - 1 : r;  // torch.round: ties to even
}

/** Walk the plan's schedule: yields {done, t, views} for x_T and after each kept step; `stopped()` ends it within a step. */
export async function* walk(ort, nets, plan, stopped) {
  const {n, arms, steps} = plan;
  const {ab, s1, s2, s3, t_model: tModel} = plan.schedule;
  const rows = arms * n;
  const noise = new SpriteNoise(plan.seed, Array.from({length: n}, (_, i) => i));
  const xT = noise.draw();
  let x = new Float32Array(rows * PER_DRAW);
  for (let arm = 0; arm < arms; arm++) x.set(xT, arm * xT.length);
  const streams = new SpriteNoise(plan.seed, [...Array.from({length: n}, (_, i) => i), ...Array(rows - n).fill(null)], 1);
  const scale = Array.from({length: rows}, (_, r) => (r < n ? plan.noise_scale : 0));  // the z = 0 arm adds none
  const addsNoise = plan.kind === 'ddpm' && scale.some(s => s !== 0);
  const c = contextRows(plan, rows);
  const eps = denoiser(ort, nets, plan);
  const kept = new Set(plan.kept);
  const blank = new Float32Array(rows * PER_DRAW);
  yield {done: 0, t: tModel[steps], views: views(plan, x, blank, blank)};
  for (let i = steps, done = 1; i >= 1; i--, done++) {
    if (stopped()) return;
    // 1. ε̂ = ε_θ(x_t, t): the network's estimate of the noise in x_t (Algorithm 2, line 4).
    const e = await eps(x, tModel[i], c, rows);
    // 2. x̂0 = (x_t − √(1 − ᾱ_t)·ε̂)/√ᾱ_t (Ho et al. eq. 15).
    const a = Math.fround(Math.sqrt(ab[i])), b = Math.fround(Math.sqrt(1 - ab[i]));
    const x0 = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) x0[k] = (x[k] - b * e[k]) / a;
    const next = new Float32Array(x.length);
    if (plan.kind === 'ddpm') {
      // 3. z ~ N(0, I) for t > 1, else 0 (Algorithm 2, line 3), each sprite's own stream, scaled by λ.
      const z = i > 1 && addsNoise ? streams.draw() : null;
      // 4. x_{t−1} = s1·(x_t − s2·ε̂) + s3·λ·z.
      for (let k = 0; k < x.length; k++) {
        const zs = z ? Math.fround(z[k] * scale[Math.floor(k / PER_DRAW)]) : 0;
        next[k] = s1[i] * Math.fround(x[k] - Math.fround(s2[i] * e[k])) + Math.fround(s3[i] * zs);
      }
    } else {
      // DDIM (η = 0): x_{t'} = √ᾱ_{t'}·x̂0 + √(1 − ᾱ_{t'})·ε̂ (Song et al. 2021, eq. 12).
      const ap = Math.fround(Math.sqrt(ab[i - 1])), bp = Math.fround(Math.sqrt(1 - ab[i - 1]));
      for (let k = 0; k < x.length; k++) next[k] = ap * x0[k] + bp * e[k];
    }
    x = next;
    if (kept.has(done)) yield {done, t: tModel[i - 1], views: views(plan, x, e, x0)};
  }
}
