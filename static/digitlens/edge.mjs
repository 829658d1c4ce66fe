// DigitLens in the browser ("edge"): the model's ONNX export on ONNX Runtime Web
// (WASM, one thread: Streamlit sets up no cross-origin isolation) and a port of
// model/input/preprocessing.py's canvas path and a small camera path.
//
// Everything is served by the app itself (Streamlit static serving, /app/static/):
// nothing comes from a CDN. Differences from the Python pipeline (documented in the
// README): no Gaussian pre-blur or top-hat (the canvas path in Python takes the alpha
// channel as ink and skips both too). On the canvas, a pen far outside MNIST's stroke
// width is thinned or thickened as Python does (`restroked`); the camera path keeps the
// pen as seen (`fromFrame`).
// The "too small to read" rule (a tap, a short tick) is ported with Python's
// constants (`tooSmall`); the verdict beside each answer lives in verdict.mjs.

const STATIC = new URL("../", import.meta.url); // .../app/static/
const ORT_DIR = new URL("vendor/onnxruntime-web/", STATIC).href;

/** MNIST recipe: the digit is fitted into a 20x20 box, then centred by mass in 28x28. */
export const SIDE = 28;
export const MNIST_BOX = 20;
/** Ink below this strength is background (model/input/preprocessing.py `ink_mask`). */
export const INK_THRESHOLD = 0.2;
/** Components smaller than this fraction of the largest are specks. */
export const SPECK_FRACTION = 0.04;
/** Fewer ink pixels than this is a blank drawing. */
export const MIN_INK_PIXELS = 4;

/** MNIST's stroke width band and target, in pixels of the 20x20 box, and the scale the
 * pen is measured and changed at (model/input/preprocessing.py `normalise_stroke`). */
export const STROKE_BAND = [1.7, 3.9];
export const STROKE_TARGET = 2.5;
export const STROKE_OVERSAMPLE = 4;

// numpy compares float32 maps with a float32 threshold (NEP 50): so do we.
const THRESHOLD32 = Math.fround(INK_THRESHOLD);
const STROKE_LEVEL32 = Math.fround(0.35); // ink that counts as pen (`STROKE_LEVEL`)
const TRIM_LEVEL32 = Math.fround(0.05); // a changed pen is re-trimmed to this (`TRIM_LEVEL`)

let ortPromise = null;

/** The ONNX Runtime Web module, loaded once from the vendored files. */
export function runtime() {
  if (!ortPromise) {
    ortPromise = Promise.all([import(ORT_DIR + "ort.wasm.bundle.min.mjs"), wasmBinary()]).then(
      ([ort, wasm]) => {
        // The bundle has the Emscripten glue inlined; the binary is handed over, so
        // ONNX Runtime fetches nothing itself.
        ort.env.wasm.wasmBinary = wasm;
        ort.env.wasm.numThreads = 1; // threads need cross-origin isolation
        ort.env.wasm.proxy = false;
        return ort;
      },
    );
  }
  return ortPromise;
}

/**
 * The runtime's WebAssembly binary, stored gzipped (3.7 MB instead of 14.2 MB: the
 * app's static serving does not compress) and inflated here by the browser.
 */
async function wasmBinary() {
  const r = await fetch(ORT_DIR + "ort-wasm-simd-threaded.wasm.gz");
  if (!r.ok) throw new Error(`ONNX Runtime's wasm: HTTP ${r.status}`);
  return new Response(r.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
}

const models = new Map();

/** A model (by URL) with one-at-a-time inference: `busy` tells callers to skip a frame. */
export function model(url) {
  if (!models.has(url)) {
    models.set(
      url,
      (async () => {
        const t0 = performance.now();
        const ort = await runtime();
        const session = await ort.InferenceSession.create(url, {
          executionProviders: ["wasm"],
          graphOptimizationLevel: "all",
        });
        const m = new EdgeModel(ort, session, performance.now() - t0);
        await m.probabilities(new Float32Array(SIDE * SIDE)); // warm up
        return m;
      })(),
    );
  }
  return models.get(url);
}

export class EdgeModel {
  constructor(ort, session, loadMs) {
    this.ort = ort;
    this.session = session;
    this.loadMs = loadMs;
    this.busy = false;
    this.input = session.inputNames[0];
    this.output = session.outputNames[0];
  }

  /** (28*28) or (N*28*28) Float32Array in [0, 1] -> array of N Float32Array(10). */
  probabilities(x) {
    return this.outputs(x);
  }

  /** (N*28*28) inputs -> the model's N output rows (a detector's: Float32Array(1)). */
  async outputs(x) {
    const n = x.length / (SIDE * SIDE);
    const tensor = new this.ort.Tensor("float32", Float32Array.from(x), [n, SIDE, SIDE, 1]);
    this.busy = true;
    try {
      const out = await this.session.run({ [this.input]: tensor });
      const data = out[this.output].data;
      const k = data.length / n;
      return Array.from({ length: n }, (_, i) => data.slice(i * k, (i + 1) * k));
    } finally {
      this.busy = false;
    }
  }
}

// ------------------------------------------------------------------ resizing
// A port of Pillow's separable resampling (Resample.c, `precompute_coeffs`) for
// single-channel float images: BOX when shrinking, BILINEAR when enlarging, as
// model/input/preprocessing.py's `_resize` asks Pillow for.

function boxFilter(x) {
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}
function triangleFilter(x) {
  x = Math.abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

function coeffs(inSize, outSize, filter, support) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const sup = support * filterscale;
  const ss = 1.0 / filterscale;
  const bounds = [];
  const weights = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.max(Math.trunc(center - sup + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + sup + 0.5), inSize) - xmin;
    const w = new Float64Array(xmax);
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = filter((x + xmin - center + 0.5) * ss);
      total += w[x];
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) w[x] /= total;
    bounds.push(xmin);
    weights.push(w);
  }
  return { bounds, weights };
}

/** Resize a (h, w) float map to (oh, ow) like Pillow's "F" mode resize. */
export function resize(src, h, w, oh, ow) {
  const down = oh < h || ow < w;
  const [filter, support] = down ? [boxFilter, 0.5] : [triangleFilter, 1.0];
  let cur = src;
  let cw = w;
  if (ow !== w) {
    const { bounds, weights } = coeffs(w, ow, filter, support);
    const out = new Float32Array(h * ow);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const b = bounds[xx];
        const k = weights[xx];
        let s = 0;
        for (let x = 0; x < k.length; x++) s += cur[y * cw + b + x] * k[x];
        out[y * ow + xx] = s;
      }
    }
    cur = out;
    cw = ow;
  }
  if (oh !== h) {
    const { bounds, weights } = coeffs(h, oh, filter, support);
    const out = new Float32Array(oh * cw);
    for (let yy = 0; yy < oh; yy++) {
      const b = bounds[yy];
      const k = weights[yy];
      for (let x = 0; x < cw; x++) {
        let s = 0;
        for (let y = 0; y < k.length; y++) s += cur[(b + y) * cw + x] * k[y];
        out[yy * cw + x] = s;
      }
    }
    cur = out;
  }
  return cur === src ? Float32Array.from(src) : cur;
}

// ------------------------------------------------------------------ ink and geometry

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Label 8-connected components of a bool mask; keep those >= SPECK_FRACTION of the largest. */
export function keepComponents(mask, h, w, largestOnly = false) {
  const labels = new Int32Array(h * w);
  const sizes = [0];
  const stack = new Int32Array(h * w);
  let n = 0;
  for (let i = 0; i < h * w; i++) {
    if (!mask[i] || labels[i]) continue;
    n++;
    let top = 0;
    let size = 0;
    stack[top++] = i;
    labels[i] = n;
    while (top) {
      const p = stack[--top];
      size++;
      const py = (p / w) | 0;
      const px = p - py * w;
      for (let dy = -1; dy <= 1; dy++) {
        const y = py + dy;
        if (y < 0 || y >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const x = px + dx;
          if (x < 0 || x >= w) continue;
          const q = y * w + x;
          if (mask[q] && !labels[q]) {
            labels[q] = n;
            stack[top++] = q;
          }
        }
      }
    }
    sizes.push(size);
  }
  const biggest = Math.max(...sizes);
  const keep = sizes.map((s, i) =>
    i > 0 && (largestOnly ? s === biggest : s >= SPECK_FRACTION * biggest),
  );
  const out = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = keep[labels[i]] ? 1 : 0;
  return out;
}

/** What `toModelInput` returns for a mark Python refuses as too small to read. */
export class TooSmall {
  constructor(kind) {
    // "dot" (a dot, a tap or a short tick), "stroke" (one short stroke) or "blob" (a
    // large filled area: no strokes to read either)
    this.kind = kind;
  }
}

/**
 * Is the kept ink too small to read? A port of model/input/preprocessing.py `_check_size`,
 * with its constants from Python (`rule`, ui/canvas.py `size_rule`): mask is the
 * (h*w) 0/1 kept ink, box its [y0, y1, x0, x1) bounding box, side the image's
 * longest side. Returns "dot", "stroke", "blob" (a large filled area) or null.
 */
export function tooSmall(mask, w, box, side, rule) {
  const [y0, y1, x0, x1] = box;
  const bh = y1 - y0;
  const bw = x1 - x0;
  // scipy's binary_erosion on the box: 4 neighbours, outside the box counts as empty.
  const at = (y, x) => y >= 0 && y < bh && x >= 0 && x < bw && mask[(y0 + y) * w + x0 + x] === 1;
  const { area, width } = strokeWidth(bh, bw, at);
  const extent = Math.max(bh, bw);
  const strokes = extent / Math.max(width, 1);
  const fraction = extent / side;
  // (a model of filled things, `rule.pen` false, reads a large filled area)
  const pen = rule.pen !== false;
  if (pen && strokes < rule.min_extent_strokes && fraction >= rule.short_mark_fraction) {
    return "blob";
  }
  if (
    (pen && strokes < rule.min_extent_strokes) ||
    fraction < rule.min_extent_fraction ||
    (fraction < rule.short_mark_fraction && strokes < rule.short_mark_strokes)
  ) {
    return "dot";
  }
  if (fraction >= rule.short_stroke_fraction) return null;
  // `straight_spread`: the ink's spread across its principal axis, in stroke widths
  // (the smaller eigenvalue of the pixel positions' covariance, ddof = 1; 0 under 3 pixels).
  let spread = 0;
  if (area >= 3) {
    let sy = 0, sx = 0, syy = 0, sxx = 0, sxy = 0;
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        if (!at(y, x)) continue;
        sy += y;
        sx += x;
        syy += y * y;
        sxx += x * x;
        sxy += x * y;
      }
    }
    const vy = (syy - (sy * sy) / area) / (area - 1);
    const vx = (sxx - (sx * sx) / area) / (area - 1);
    const c = (sxy - (sx * sy) / area) / (area - 1);
    const minor = (vy + vx) / 2 - Math.hypot((vy - vx) / 2, c);
    spread = Math.sqrt(Math.max(minor, 0)) / Math.max(width, 1);
  }
  return spread < rule.straight_spread ? "stroke" : null;
}

/**
 * `stroke_width`: the mean stroke width of the ink `inked(y, x)` marks in an h x w field,
 * 2 * area / boundary, the boundary what a 4-neighbour erosion takes off (`inked` says
 * nothing is beyond the edges). {area, width}.
 */
function strokeWidth(h, w, inked) {
  let area = 0, boundary = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!inked(y, x)) continue;
      area++;
      if (!(inked(y - 1, x) && inked(y + 1, x) && inked(y, x - 1) && inked(y, x + 1))) boundary++;
    }
  }
  return { area, width: (2 * area) / Math.max(boundary, 1) };
}

/**
 * Ink map (h*w floats in [0, 1]) -> the 28x28 model input, or null when blank.
 * The steps of model/input/preprocessing.py after the ink map: mask and specks, crop
 * with a 1-pixel halo, fit (20x20 MNIST, 28x28 fashion), centre (by mass, MNIST).
 * With `sizeRule`, a mark Python calls too small to read gives a TooSmall instead.
 */
export function toModelInput(
  ink,
  h,
  w,
  recipe = "mnist",
  largestOnly = false,
  sizeRule = null,
  restroke = true,
) {
  const raw = new Uint8Array(h * w);
  let count = 0;
  for (let i = 0; i < h * w; i++) {
    raw[i] = ink[i] > THRESHOLD32 ? 1 : 0;
    count += raw[i];
  }
  if (!count) return null;
  const mask = keepComponents(raw, h, w, largestOnly);
  let y0 = h, y1 = -1, x0 = w, x1 = -1, kept = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      kept++;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
    }
  }
  if (kept < MIN_INK_PIXELS) return null;
  y1 += 1;
  x1 += 1;
  if (sizeRule) {
    const small = tooSmall(mask, w, [y0, y1, x0, x1], Math.max(h, w), sizeRule);
    if (small) return new TooSmall(small);
  }
  const ch = y1 - y0;
  const cw = x1 - x0;
  // Soft ink inside the kept components, with a 1-pixel halo (3x3 max filter on the box).
  const crop = new Float32Array(ch * cw);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      let near = 0;
      for (let dy = -1; dy <= 1 && !near; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= ch) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < cw && mask[(y0 + yy) * w + x0 + xx]) {
            near = 1;
            break;
          }
        }
      }
      crop[y * cw + x] = near ? ink[(y0 + y) * w + x0 + x] : 0;
    }
  }
  const side = recipe === "mnist" ? MNIST_BOX : SIDE;
  const { a: fitted, h: fh, w: fw } =
    (recipe === "mnist" && restroke && restroked(crop, ch, cw, side)) || fit(crop, ch, cw, side);
  let peak = 0;
  for (const v of fitted) peak = Math.max(peak, v);
  if (peak > 0) for (let i = 0; i < fitted.length; i++) fitted[i] /= peak;

  let oy, ox;
  let mass = 0, my = 0, mx = 0;
  for (let y = 0; y < fh; y++) {
    for (let x = 0; x < fw; x++) {
      const v = fitted[y * fw + x];
      mass += v;
      my += v * y;
      mx += v * x;
    }
  }
  if (recipe === "mnist" && mass > 0) {
    oy = roundHalfEven(SIDE / 2 - my / mass - 0.5);
    ox = roundHalfEven(SIDE / 2 - mx / mass - 0.5);
  } else {
    oy = Math.floor((SIDE - fh) / 2);
    ox = Math.floor((SIDE - fw) / 2);
  }
  oy = Math.min(Math.max(oy, 0), SIDE - fh);
  ox = Math.min(Math.max(ox, 0), SIDE - fw);
  const x = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < fh; y++) {
    for (let xx = 0; xx < fw; xx++) x[(oy + y) * SIDE + ox + xx] = fitted[y * fw + xx];
  }
  return x;
}

/** `_fit`: resized so that its longest side is `side`, keeping the aspect ratio. */
function fit(src, h, w, side) {
  const s = side / Math.max(h, w);
  const fh = Math.max(roundHalfEven(h * s), 1);
  const fw = Math.max(roundHalfEven(w * s), 1);
  return { a: resize(src, h, w, fh, fw), h: fh, w: fw };
}

/**
 * `normalise_stroke` and `refit`: where the pen, measured on the crop oversampled
 * (`oversampled`: fitted to side x STROKE_OVERSAMPLE, its peak brought to 1, an eighth of
 * that as margin), is outside MNIST's band, the crop with its pen eroded or dilated by a
 * disk to STROKE_TARGET, re-trimmed and fitted to `side`; null where the pen is left as
 * it is (then the crop itself is fitted). A small drawing's pen is thick for its size:
 * without this the page read such a 7 as a 9 where the server read a 7.
 */
export function restroked(crop, ch, cw, side) {
  const over = side * STROKE_OVERSAMPLE;
  const { a: big, h: bh, w: bw } = fit(crop, ch, cw, over);
  let peak = 0;
  for (const v of big) peak = Math.max(peak, v);
  const norm = Math.fround(Math.max(peak, 1e-6));
  const pad = Math.floor(over / 8);
  const h = bh + 2 * pad;
  const w = bw + 2 * pad;
  const pen = new Float32Array(h * w);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) pen[(y + pad) * w + x + pad] = big[y * bw + x] / norm;
  }
  const inked = (y, x) => y >= 0 && y < h && x >= 0 && x < w && pen[y * w + x] > STROKE_LEVEL32;
  const measured = strokeWidth(h, w, inked);
  if (!measured.area) return null;
  const perPx = side / over;
  const width = measured.width * perPx;
  if (width >= STROKE_BAND[0] && width <= STROKE_BAND[1]) return null;
  const radius = roundHalfEven(Math.abs(STROKE_TARGET - width) / perPx / 2);
  if (radius < 1) return null;
  const out = morph(pen, h, w, radius, width < STROKE_TARGET);
  let y0 = h, y1 = -1, x0 = w, x1 = -1, any = false;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = out[y * w + x];
      if (v > STROKE_LEVEL32) any = true;
      if (!(v > TRIM_LEVEL32)) continue;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
    }
  }
  if (!any) return null;
  const th = y1 + 1 - y0;
  const tw = x1 + 1 - x0;
  const trimmed = new Float32Array(th * tw);
  for (let y = 0; y < th; y++) trimmed.set(out.subarray((y0 + y) * w + x0, (y0 + y) * w + x1 + 1), y * tw);
  return fit(trimmed, th, tw, side);
}

/**
 * OpenCV's grey dilation (grow) or erosion of a float map by a disk of `radius`
 * (x^2 + y^2 <= r^2 + r/2, `_disk`), the nearest pixel beyond the edges
 * (BORDER_REPLICATE): each row of the disk is a horizontal run, so the map's running
 * max (min) over each run's width is taken once and the rows combined.
 */
function morph(src, h, w, radius, grow) {
  const pick = grow ? Math.max : Math.min;
  const half = [];
  for (let dy = -radius; dy <= radius; dy++) {
    let k = 0;
    while ((k + 1) ** 2 + dy * dy <= radius * radius + radius * 0.5) k++;
    half.push(k);
  }
  const runs = new Map(); // half-width -> the map's extreme over x - k .. x + k
  for (const k of new Set(half)) {
    const r = new Float32Array(h * w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = src[y * w + x];
        for (let dx = -k; dx <= k; dx++) {
          const xx = Math.min(Math.max(x + dx, 0), w - 1);
          v = pick(v, src[y * w + xx]);
        }
        r[y * w + x] = v;
      }
    }
    runs.set(k, r);
  }
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = grow ? -Infinity : Infinity;
      for (let i = 0; i < half.length; i++) {
        const yy = Math.min(Math.max(y + i - radius, 0), h - 1);
        v = pick(v, runs.get(half[i])[yy * w + x]);
      }
      out[y * w + x] = v;
    }
  }
  return out;
}

/**
 * The canvas path: RGBA ImageData of strokes on a transparent field -> 28x28, null
 * (blank) or, with `sizeRule`, a TooSmall.
 */
export function fromCanvas(imageData, recipe = "mnist", sizeRule = null) {
  const { width: w, height: h, data } = imageData;
  const ink = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) ink[i] = data[4 * i + 3] / 255;
  return toModelInput(ink, h, w, recipe, false, sizeRule);
}

/**
 * The camera path: an RGBA frame (already scaled down) -> 28x28, null or, with
 * `sizeRule`, a TooSmall (a mark Python refuses as too small to read).
 * Polarity from the border (dark ink on paper, or light on dark), ink as contrast
 * above the background level, an Otsu threshold, and only the largest ink region.
 */
export function fromFrame(imageData, minContrast = 0.12, sizeRule = null) {
  const { width: w, height: h, data } = imageData;
  const gray = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    gray[i] = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
  }
  const border = [];
  for (let x = 0; x < w; x++) border.push(gray[x], gray[(h - 1) * w + x]);
  for (let y = 0; y < h; y++) border.push(gray[y * w], gray[y * w + w - 1]);
  border.sort((a, b) => a - b);
  const bg = border[border.length >> 1];
  const darkOnLight = bg > 0.5;
  const ink = new Float32Array(w * h);
  let peak = 0;
  for (let i = 0; i < w * h; i++) {
    const v = darkOnLight ? bg - gray[i] : gray[i] - bg;
    ink[i] = v > 0 ? v : 0;
    if (ink[i] > peak) peak = ink[i];
  }
  if (peak < minContrast) return null;
  // Otsu on the positive contrast values: split ink from paper grain and shadows.
  const bins = 64;
  const hist = new Float64Array(bins);
  for (const v of ink) if (v > 0) hist[Math.min(bins - 1, Math.floor((v / peak) * bins))]++;
  let total = 0, sum = 0;
  for (let i = 0; i < bins; i++) {
    total += hist[i];
    sum += i * hist[i];
  }
  let w0 = 0, s0 = 0, best = 0, t = bins / 2;
  for (let i = 0; i < bins; i++) {
    w0 += hist[i];
    s0 += i * hist[i];
    const w1 = total - w0;
    if (!w0 || !w1) continue;
    const between = w0 * w1 * (s0 / w0 - (sum - s0) / w1) ** 2;
    if (between > best) {
      best = between;
      t = i;
    }
  }
  const floor = Math.max(((t + 0.5) / bins) * peak * 0.5, 0.25 * peak);
  for (let i = 0; i < w * h; i++) {
    ink[i] = Math.min(Math.max((ink[i] - floor) / Math.max(peak - floor, 1e-6), 0), 1);
  }
  // The pen as seen, not re-stroked: thickened, a thin pen's small loops close up (a
  // three-loop scribble on paper was read as an 8, as Python's photo path reads it; as
  // seen, it is "not a digit").
  return toModelInput(ink, h, w, "mnist", true, sizeRule, false);
}

/** Test hook: `window.digitlens.probabilities(xs)` runs a batch of 28x28 inputs. */
export function exposeHook(url) {
  window.digitlens = {
    url,
    ready: model(url).then(() => true),
    async probabilities(xs) {
      const m = await model(url);
      const flat = new Float32Array(xs.length * SIDE * SIDE);
      xs.forEach((x, i) => flat.set(x, i * SIDE * SIDE));
      return (await m.probabilities(flat)).map((p) => Array.from(p));
    },
    /**
     * The canvas path on an alpha channel given as base64 bytes (h*w): the input, null
     * (blank) or, with `sizeRule`, {tooSmall: "dot" | "stroke" | "blob"}.
     */
    preprocessAlpha(b64, w, h, recipe = "mnist", sizeRule = null) {
      const alpha = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new Uint8ClampedArray(w * h * 4);
      alpha.forEach((v, i) => (data[4 * i + 3] = v));
      const x = fromCanvas({ width: w, height: h, data }, recipe, sizeRule);
      if (x instanceof TooSmall) return { tooSmall: x.kind };
      return x && Array.from(x);
    },
  };
}
