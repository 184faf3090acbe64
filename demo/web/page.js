// The page's side of a run computed in this browser (demo/browser_run.py is the server's side). app.py's Run press calls
// run(args) before its Python handler: with a plan asking for the browser, it walks the plan here (sampler.js), shows each
// kept frame on the stage as it comes, and hands the frames to the handler, which keeps them for scrubbing and the files.
// Without a usable runtime it leaves the run to the server.
import {denoiser, walk} from './sampler.js';
import {SpriteNoise} from './noise.js';

const VENDOR = new URL('./vendor/onnxruntime-web/', import.meta.url).href;
const FPS = 25;  // frames a second the stage is redrawn at most: each is two PNGs made in this tab
let stage = null;  // the stage's props (gr.HTML's js_on_load): setting .value re-renders it
let runtime = null;  // per model: the promise of {ort, nets, threads} or of an error, and the weak nets' sessions by address
let stopRequested = false;
const FALLBACK = 'fallback';  // the frames' box when this browser cannot compute (demo/browser_run.py's FALLBACK)
const CHOSE = 'chose:';  // the frames' box, with both estimates, when auto chose the server (demo/browser_run.py's CHOSE)
const measured = new Map();  // this page's seconds a step, by batch and nets, measured once (browserSeconds)

/** Called by the stage's js_on_load: the element to draw into. */
export function attach(props) { stage = props; }

export function stop() { stopRequested = true; }

function fmt(template, values) {
  return template.replace(/\{(\w+)(?::\.(\d)f)?\}/g, (_, name, digits) =>
    (digits === undefined ? String(values[name]) : Number(values[name]).toFixed(Number(digits))));
}

// The status line is Gradio's element: a run writes into its text nodes only, and puts them back as they were before
// the handler's own line arrives, since Gradio redraws the element only when its value changes.
function statusTexts() {
  const box = document.querySelector('#status .prose') || document.querySelector('#status');
  const texts = [];
  if (!box) return texts;
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) texts.push([walker.currentNode, walker.currentNode.nodeValue]);
  return texts;
}

let savedStatus = null;

function setStatus(text) {
  const texts = statusTexts();
  savedStatus ??= texts;
  texts.forEach(([node], k) => { node.nodeValue = k === 0 ? text : ''; });
}

function restoreStatus() {
  (savedStatus || []).forEach(([node, value]) => { node.nodeValue = value; });
  savedStatus = null;
}

async function load(plan) {
  const ort = await import(VENDOR + 'ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = VENDOR;
  // Threads need a cross-origin isolated page (demo/isolation.py); without it, one thread still computes.
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const nets = {main: await sessions(ort, plan.model)};
  // The self-check: ε̂ of a few fixed inputs against the server's eager fp32 torch (x from noise.js, as the server drew it).
  const check = plan.check;
  const rows = check.t.length;
  const x = new SpriteNoise(0, Array.from({length: rows}, (_, i) => i)).draw();
  const out = await (await nets.main(rows)).run({
    x: new ort.Tensor('float32', x, [rows, 3, 16, 16]),
    t: new ort.Tensor('int64', BigInt64Array.from(check.t.map(BigInt)), [rows]),
    c: new ort.Tensor('float32', Float32Array.from(check.c.flat()), [rows, plan.n_cfeat]),
  });
  const worst = out.eps.data.reduce((m, v, k) => Math.max(m, Math.abs(v - check.eps[k])), 0);
  if (!(worst <= check.tolerance)) throw new Error(`self-check: ε̂ differs from the server's by ${worst.toExponential(1)}`);
  return {ort, nets, threads: ort.env.wasm.numThreads};
}

/** A net as `rows => session`: one session a batch size, made on first use, since a session whose batch is fixed
 * (freeDimensionOverrides) runs about a fifth faster than one for any batch (docs/performance.md, "In the browser"). */
async function sessions(ort, url) {
  const model = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const made = new Map();
  return (rows) => {
    if (!made.has(rows)) {
      made.set(rows, ort.InferenceSession.create(model, {
        executionProviders: ['wasm'], graphOptimizationLevel: 'all', freeDimensionOverrides: {batch: rows},
      }));
    }
    return made.get(rows);
  };
}

async function ready(plan) {
  if (!runtime || runtime.model !== plan.model) {
    runtime = {model: plan.model, weak: new Map(), promise: load(plan).then(r => r, e => ({error: e}))};
  }
  const rt = await runtime.promise;
  if (rt.error || !plan.weak) return rt;
  // The weak net for autoguidance, fetched the first time a plan asks for it.
  const weak = runtime.weak;
  if (!weak.has(plan.weak)) weak.set(plan.weak, sessions(rt.ort, plan.weak).then(r => r, e => ({error: e})));
  const net = await weak.get(plan.weak);
  return net.error ? {error: net.error} : {...rt, nets: {...rt.nets, weak: net}};
}

/** One arm's chosen view as a PNG data URL: the grid of all sprites (1 px white gaps), or one sprite. */
function picture(views, plan, arm, view, sprite) {
  const images = views[view];
  const one = (k) => images.subarray((arm * plan.n + k) * 768, (arm * plan.n + k + 1) * 768);
  const chosen = sprite === null ? null : Math.min(sprite, plan.n - 1);
  const ncol = chosen === null ? Math.ceil(Math.sqrt(plan.n)) : 1;
  const count = chosen === null ? plan.n : 1;
  const nrow = Math.ceil(count / ncol);
  const pad = chosen === null ? 1 : 0;
  const w = ncol * (16 + pad) + pad, h = nrow * (16 + pad) + pad;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  img.data.fill(255);
  for (let k = 0; k < count; k++) {
    const src = one(chosen === null ? k : chosen);
    const r = Math.floor(k / ncol), c = k % ncol;
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
      const at = ((pad + r * (16 + pad) + y) * w + pad + c * (16 + pad) + x) * 4;
      img.data.set(src.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3), at);
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toDataURL('image/png');
}

function show(frame, plan, view, sprite) {
  if (!stage) return;
  stage.value = {
    left: picture(frame.views, plan, 0, view, sprite),
    right: plan.arms > 1 ? picture(frame.views, plan, 1, view, sprite) : null,
    captions: plan.captions,
  };
}

function status(frame, plan, elapsed) {
  const lines = plan.lines;
  if (frame.done === 0) return fmt(lines.start, {t: frame.t});
  const rate = elapsed > 0 ? frame.done / elapsed : Infinity;
  const tail = frame.done === plan.steps ? lines.done : fmt(lines.left, {seconds: (plan.steps - frame.done) / rate});
  return fmt(lines.step, {t: frame.t, done: frame.done, total: plan.steps, rate, tail});
}

/** The frames for the server: gzip of [header length, header JSON, each frame's arms × views × sprites bytes], in base64. */
async function pack(frames, plan, where, stopped) {
  const header = new TextEncoder().encode(JSON.stringify({
    n: plan.n, arms: plan.arms, total: plan.steps, stopped, where,
    frames: frames.map(f => [f.t, f.done, f.elapsed]),
  }));
  const size = new Uint32Array([header.length]);
  const parts = [new Uint8Array(size.buffer), header];
  for (const f of frames) for (let arm = 0; arm < plan.arms; arm++) for (const v of f.views) {
    parts.push(v.subarray(arm * plan.n * 768, (arm + 1) * plan.n * 768));
  }
  const gz = new Blob(parts).stream().pipeThrough(new CompressionStream('gzip'));
  const bytes = new Uint8Array(await new Response(gz).arrayBuffer());
  let text = '';
  for (let k = 0; k < bytes.length; k += 0x8000) text += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  return btoa(text);
}

/** What a measurement of this browser's step is kept by: the batch and the nets. */
function stepKey(plan) {
  return `${plan.arms * plan.n}|${plan.guidance > 0 && plan.context ? 2 : 1}|${plan.weak}|${plan.model}`;
}

/** Seconds a step of the plan's denoiser, warm, in this browser: [with the weak net, without], as a promise kept from
 * the first ask, so that a later run awaits a measurement under way. Measured once a page for each batch and nets, at
 * the run's own batch (a session's speed depends on it), after the runtime's self-check. */
function stepSeconds(rt, plan) {
  const key = stepKey(plan);
  if (!measured.has(key)) measured.set(key, measure(rt, plan));
  return measured.get(key);
}

/** Measure this browser's step for `plan` once `after` ms have passed, the runtime loaded then too (not to compete with a
 * server run where the browser shares the server's cores); a failure leaves it unmeasured. */
function measureLater(plan, after) {
  const key = stepKey(plan);
  const later = new Promise(r => setTimeout(r, after)).then(() => ready(plan)).then(rt => {
    if (rt.error) throw rt.error;
    return measure(rt, plan);
  });
  measured.set(key, later);
  later.catch(() => measured.delete(key));
}

async function measure(rt, plan) {
  const rows = plan.arms * plan.n;
  const eps = denoiser(rt.ort, rt.nets, plan);
  const x = new Float32Array(rows * 768), c = new Float32Array(rows * plan.n_cfeat);
  const time = async (t) => {
    await eps(x, t, c, rows);  // warm: the session for this batch is made on its first call
    const start = performance.now();
    await eps(x, t, c, rows);
    return (performance.now() - start) / 1000;
  };
  const ag = plan.autoguidance;  // a t outside its interval, if there is one, calls the main net alone
  const outside = !ag ? 500 : ag.interval[0] > 1 ? 1 : ag.interval[1] < 500 ? 500 : null;
  const guided = ag ? await time(ag.interval[0]) : null;
  const alone = outside === null ? guided : await time(outside);
  return [guided ?? alone, alone];
}

/** This browser's estimate for the whole run, in seconds: each step at its measured cost, guided or not. */
async function browserSeconds(rt, plan) {
  const [guided, alone] = await stepSeconds(rt, plan);
  const ag = plan.autoguidance, tModel = plan.schedule.t_model;
  let total = 0;
  for (let i = plan.steps; i >= 1; i--) total += ag && tModel[i] >= ag.interval[0] && tModel[i] <= ag.interval[1] ? guided : alone;
  return total;
}

/** The Run press's preprocessing: `args` are the handler's inputs, the plan and the frames' box last. */
export async function run(args) {
  const plan = args[args.length - 2];
  const out = [...args];
  out[out.length - 1] = '';
  if (!plan || plan.compute === 'server') return out;
  const auto = plan.compute === 'auto' && plan.server && plan.server.seconds != null;
  if (auto && plan.server.ahead === 0 && !measured.has(stepKey(plan))) {
    // A free server and this browser not yet measured: the server now, without waiting for the runtime or the
    // measurement, which are made once this run is about done.
    measureLater(plan, 1000 * plan.server.seconds + 500);
    out[out.length - 1] = CHOSE + JSON.stringify({server: plan.server.seconds, browser: null, ahead: 0});
    return out;
  }
  const rt = await ready(plan);
  if (rt.error) {  // the server computes instead, and says so at the end of its status line
    console.warn('ddpm: computing on the server:', rt.error);
    out[out.length - 1] = FALLBACK;
    return out;
  }
  let why = null;  // with compute=auto, the estimates weighed: the browser where it is within plan.slack of the server
  if (auto) {
    why = {server: plan.server.seconds, browser: await browserSeconds(rt, plan), ahead: plan.server.ahead};
    if (why.browser > plan.slack * why.server) {
      out[out.length - 1] = CHOSE + JSON.stringify(why);
      return out;
    }
  }
  const where = {backend: 'WASM', threads: rt.threads, why};
  stopRequested = false;
  const frames = [];
  const start = performance.now();
  const pace = plan.pace;  // null: as computed; else seconds to play the run over
  let shown = -1, lastDraw = 0;
  const draw = (force) => {
    const now = performance.now();
    const due = pace ? Math.max(0, ...frames.map((f, k) => (f.done / plan.steps) * pace * 1000 <= now - start ? k : 0)) : frames.length - 1;
    if (due === shown || (!force && now - lastDraw < 1000 / FPS)) return;
    shown = due;
    lastDraw = now;
    const frame = frames[due];
    show(frame, plan, plan.view, plan.sprite);
    setStatus(status(frame, plan, frame.elapsed));
  };
  for await (const f of walk(rt.ort, rt.nets, plan, () => stopRequested)) {
    frames.push({...f, elapsed: (performance.now() - start) / 1000});
    draw(f.done === 0);
    await new Promise(r => setTimeout(r, 0));  // let the page paint and Stop be pressed
  }
  while (pace && !stopRequested && shown < frames.length - 1) {  // slow motion: play the rest at the pace
    await new Promise(r => setTimeout(r, 1000 / FPS));
    draw(false);
  }
  draw(true);
  const stopped = stopRequested;
  if (stopped) setStatus(`${status(frames[shown], plan, frames[shown].elapsed)} · ${plan.lines.stopped}`);
  out[out.length - 1] = await pack(frames, plan, where, stopped);
  if (!stopped) restoreStatus();  // a stopped run's line stays: Stop may cancel the handler that would replace it
  return out;
}

window.ddpmPage = {attach, run, stop};
