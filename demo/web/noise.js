// A seed's noise, bit for bit as ddpm/noise.py draws it (that file explains the scheme; the two must change together).
// Sprite i of seed s: draw 0 is its x_T, draw k the z of its k-th step; value j of draw d comes from counter d·768 + j.

export const PER_DRAW = 3 * 16 * 16;
const LN2 = 0.6931471805599453;
const HALF_PI = 1.5707963267948966;
const SQRT_HALF = 0.7071067811865476;
const ATANH = Array.from({length: 12}, (_, k) => 1 / (2 * k + 1));
const INV_FACTORIAL = [1.0];
for (let n = 1; n < 20; n++) INV_FACTORIAL.push(INV_FACTORIAL[n - 1] / n);
const SIN = Array.from({length: 9}, (_, k) => (k % 2 ? -1 : 1) * INV_FACTORIAL[2 * k + 1]);
const COS = Array.from({length: 10}, (_, k) => (k % 2 ? -1 : 1) * INV_FACTORIAL[2 * k]);
const POW2 = [1];  // 2^0 … 2^32, by doubling: exact
for (let k = 1; k <= 32; k++) POW2.push(POW2[k - 1] * 2);

/** lowbias32 (C. Wellons, 2018): a bijection of uint32 words. */
export function hash32(x) {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

function horner(coefficients, w) {
  let acc = coefficients[coefficients.length - 1];
  for (let k = coefficients.length - 2; k >= 0; k--) acc = acc * w + coefficients[k];
  return acc;
}

/** ln((bits + ½)/2^32), as ddpm/noise.py's _log_unit. */
function logUnit(bits) {
  const top = 32 - Math.clz32(bits);  // bits < 2^top (0 for bits = 0), as numpy's frexp
  let m = (bits + 0.5) / POW2[top];
  let e = top - 32;
  if (m < SQRT_HALF) { m = m * 2; e = e - 1; }
  const s = (m - 1) / (m + 1);
  return e * LN2 + 2 * s * horner(ATANH, s * s);
}

/** Each sprite's key of a seed: h(h(seed) ^ sprite). */
export function spriteKey(seed, sprite) {
  return hash32((hash32(seed) ^ sprite) >>> 0);
}

/** Values 0 … count − 1 of `draw` for one key, written into out[offset …] (float32, as numpy's cast rounds). */
export function normal(key, draw, count = PER_DRAW, out = new Float32Array(count), offset = 0) {
  const base = draw * count;
  for (let j = 0; j < count; j += 2) {
    const b1 = hash32((hash32(base + j) ^ key) >>> 0);
    const b2 = hash32((hash32(base + j + 1) ^ key) >>> 0);
    const radius = Math.sqrt(-2 * logUnit(b1));
    const quadrant = b2 >>> 30;
    const r = (b2 & 0x3fffffff) / POW2[30];
    const upper = r > 0.5;
    const phi = (upper ? 1 - r : r) * HALF_PI;
    const w = phi * phi;
    let s = phi * horner(SIN, w), c = horner(COS, w);
    if (upper) [s, c] = [c, s];
    const [cq, sq] = [[c, s], [-s, c], [-c, -s], [s, -c]][quadrant];
    out[offset + j] = radius * cq;
    out[offset + j + 1] = radius * sq;
  }
  return out;
}

/** Sprites of a seed drawn together, as ddpm.noise.SpriteNoise: draw() gives (sprites · 768) values; null rows draw zeros. */
export class SpriteNoise {
  constructor(seed, sprites, draws = 0) {
    this.sprites = sprites;
    this.keys = sprites.map(i => (i === null ? null : spriteKey(seed, i)));
    this.draws = draws;
  }

  draw() {
    const out = new Float32Array(this.sprites.length * PER_DRAW);
    this.keys.forEach((key, row) => { if (key !== null) normal(key, this.draws, PER_DRAW, out, row * PER_DRAW); });
    this.draws += 1;
    return out;
  }
}
