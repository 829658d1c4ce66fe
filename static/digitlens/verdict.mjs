// The verdict beside the live reading (issue #9): a port of model/judge/verdict.py's `Judge`
// for 28x28 model inputs, so the page answers `digit`, `unsure` or `not_a_digit`
// exactly when Python does for the same input.
//
// Nothing here is a number of its own: the rule (thresholds, softmax weight, loop
// rule; `Judge.rule()` in Python) comes from the page's data (ui/canvas.py
// `verdict_rule`), and the detector is the model's `<name>.ood.onnx`, published
// under its content hash beside the model's own ONNX export.
//
// rule: {method: "detector" | "max-softmax", unsure, reject, p_unsure, thing, unlike,
//        softmax_weight, max_digit_loops, loop_ink, loop_min_area, loop_penalty,
//        detectorUrl}   (the last six only for "detector")

import { SIDE, model } from "./edge.mjs";
import { percentTo, ranked } from "./words.mjs";

export { describe, readsDigits } from "./words.mjs";

const PIXELS = SIDE * SIDE;
const f32 = Math.fround;

/**
 * Closed loops in one (28*28) model input: background pockets of at least `minArea`
 * pixels that the ink (> `ink`) encloses. A port of model/judge/verdict.py `count_loops`:
 * 4-connected background (a diagonal gap closes no loop), pockets touching the border
 * are open, and a single background region counts none.
 */
export function countLoops(x, ink, minArea) {
  const level = f32(ink); // numpy compares the float32 input with a float32 level
  const bg = (i) => !(x[i] > level);
  const label = new Int32Array(PIXELS);
  const stack = new Int32Array(PIXELS);
  let pockets = 0;
  let loops = 0;
  for (let i = 0; i < PIXELS; i++) {
    if (label[i] || !bg(i)) continue;
    pockets++;
    let top = 0;
    let size = 0;
    let open = false;
    label[i] = pockets;
    stack[top++] = i;
    while (top) {
      const p = stack[--top];
      size++;
      const y = (p / SIDE) | 0;
      const xx = p - y * SIDE;
      if (y === 0 || y === SIDE - 1 || xx === 0 || xx === SIDE - 1) open = true;
      const next = [y > 0 ? p - SIDE : -1, y < SIDE - 1 ? p + SIDE : -1];
      next.push(xx > 0 ? p - 1 : -1, xx < SIDE - 1 ? p + 1 : -1);
      for (const q of next) {
        if (q >= 0 && !label[q] && bg(q)) {
          label[q] = pockets;
          stack[top++] = q;
        }
      }
    }
    if (!open && size >= minArea) loops++;
  }
  return pockets <= 1 ? 0 : loops;
}

/** -ln(max probability) of one (10,) row, in float32 like model/judge/verdict.py `posthoc_scores`. */
export function posthocScore(probs) {
  let top = 0;
  for (const p of probs) if (p > top) top = p;
  return f32(-Math.log(Math.min(Math.max(top, 1e-12), 1.0)));
}

/** A probability in whole percents, as model/judge/verdict.py `_whole` says it: "72 %",
 * "< 1 %", "> 99 %" (never "0%"; toFixed rounds as Python's format does, bar exact ties). */
const pct = (p) => percentTo(p, 0);

export class EdgeJudge {
  /** rule: as above; detector: an EdgeModel for rule.detectorUrl, or null (max-softmax). */
  constructor(rule, detector) {
    this.rule = rule;
    this.detector = rule.method === "detector" ? detector : null;
  }

  get busy() {
    return Boolean(this.detector && this.detector.busy);
  }

  /** Loops in one input, by the rule's loop constants (null for a max-softmax rule). */
  loops(x) {
    const r = this.rule;
    return this.detector ? countLoops(x, r.loop_ink, r.loop_min_area) : null;
  }

  /**
   * (N*28*28) inputs and their N probability rows -> N scores, as `Judge.scores`:
   * detector log-odds + softmax_weight * -ln(max p) (+ loop_penalty past
   * max_digit_loops), each step rounded to float32 as numpy computes it.
   */
  async scores(x, probs) {
    if (!this.detector) return probs.map(posthocScore);
    const r = this.rule;
    const flat = Float32Array.from(x);
    const logits = await this.detector.outputs(flat);
    return probs.map((p, i) => {
      const score = f32(f32(logits[i][0]) + f32(f32(r.softmax_weight) * posthocScore(p)));
      const loops = this.loops(flat.subarray(i * PIXELS, (i + 1) * PIXELS));
      return f32(score + (loops > r.max_digit_loops ? f32(r.loop_penalty) : 0));
    });
  }

  /**
   * {verdict, reason} for one score and its (10,) probabilities, as `Judge.verdict`.
   * classes: the class names, for the reason.
   */
  verdict(score, probs, classes) {
    const r = this.rule;
    const [a, b] = ranked(probs);
    const first = classes[a] ?? String(a);
    const second = classes[b] ?? String(b);
    if (score >= r.reject) {
      return {
        verdict: "not_a_digit",
        reason: this.detector
          ? `This does not look like ${r.thing}: more like ${r.unlike}.`
          : `The model finds no class that fits: this may not be ${r.thing} at all ` +
            `(its best guess, ${first}, has only ${pct(probs[a])}).`,
      };
    }
    if (this.detector && score >= r.unsure) {
      return {
        verdict: "unsure",
        reason: `This looks unusual for ${r.thing}; if it is one, it is most like ${first}.`,
      };
    }
    if (score >= r.unsure || probs[a] < r.p_unsure) {
      return {
        verdict: "unsure",
        reason:
          `It could be ${first} or ${second}: the model cannot tell them apart ` +
          `(${pct(probs[a])} against ${pct(probs[b])}).`,
      };
    }
    return { verdict: "digit", reason: null };
  }
}

/** The judge for a rule: loads its detector (relative URLs against `base`) if it has one. */
export async function judge(rule, base = document.baseURI) {
  if (rule.method !== "detector") return new EdgeJudge(rule, null);
  return new EdgeJudge(rule, await model(new URL(rule.detectorUrl, base).href));
}

/**
 * Test hook: `window.digitlens.verdicts(xs, rule?)` judges a batch of 28x28 inputs
 * with the page's model and its judge (or one built from `rule`):
 * [{verdict, score, loops, probs}].
 */
export function exposeHook(pageJudge, classes) {
  const hook = window.digitlens;
  hook.judge = pageJudge;
  hook.verdicts = async (xs, rule) => {
    const j = rule ? await judge(rule) : pageJudge;
    const flat = new Float32Array(xs.length * PIXELS);
    xs.forEach((x, i) => flat.set(x, i * PIXELS));
    const probs = await hook.probabilities(xs);
    const scores = await j.scores(flat, probs);
    return probs.map((p, i) => ({
      verdict: j.verdict(scores[i], p, classes).verdict,
      score: scores[i],
      loops: j.loops(flat.subarray(i * PIXELS, (i + 1) * PIXELS)),
      probs: p,
    }));
  };
}
