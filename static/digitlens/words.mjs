// What a reading says, in words: the Draw pad's and the Camera page's digit slot and the
// line beside it, for a verdict (model/judge/verdict.py). No imports: the pad loads it in
// every mode, also where the model runs on the server and the page loads no model.

/** Classes by falling probability (ties: the lower index first). */
export function ranked(probs) {
  return Array.from(probs, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
}

/** Whether a model's classes are the ten digits, in order (Python's `Classifier.reads_digits`
 * and `DIGIT_CLASSES`; none sent: a digit model): whose words a verdict is said in. */
export function readsDigits(classes) {
  return !classes.length || (classes.length === 10 && classes.every((c, i) => c === String(i)));
}

/** A probability as model/judge/percent.py `format_probability(p, decimals)` says it, in
 * the same words and by the same rule: "87.3 %", never "100.0 %" or "0.0 %" ("> 99.9 %",
 * "< 0.1 %"; in whole percents "> 99 %", "< 1 %"). */
export function percentTo(p, decimals) {
  const step = 10 ** -(decimals + 2); // the smallest change shown, as a probability
  if (p >= 1 - step / 2) return `> ${(100 - 100 * step).toFixed(decimals)} %`;
  if (p < step / 2) return `< ${(100 * step).toFixed(decimals)} %`;
  return `${(100 * p).toFixed(decimals)} %`;
}

/** `percentTo(p, 1)`. The pad's "99.6%" stood beside the server's "99.6 % sure" (a user
 * test). */
export function percent(p) {
  return percentTo(p, 1);
}

/**
 * What a live reading says for a verdict, as the Draw pad shows it: {big, line}, the
 * text of the digit slot and of the line beside it. Only a `digit` gets its label (and
 * its probability, as `percent` says it); `unsure` is "7?" with why, torn between
 * two classes ("unsure: 7 or 1?": post-hoc doubt, or the top probability under
 * p_unsure) or unusual for a digit ("unsure: most like 7"); `not_a_digit` is words.
 * probs: (10,) probabilities; rule: the page's rule (for its method and p_unsure).
 */
export function describe(verdict, probs, classes, rule) {
  const [a, b] = ranked(probs);
  const name = (i) => classes[i] ?? String(i);
  const detector = rule.method === "detector";
  if (verdict === "unsure") {
    const torn = !detector || probs[a] < rule.p_unsure;
    const why = torn ? `${name(a)} or ${name(b)}?` : `most like ${name(a)}`;
    return { big: `${name(a)}?`, line: `unsure: ${why}` };
  }
  if (verdict === "not_a_digit") {
    // (a digit model's words; any other model's as Python's header says them)
    const digits = readsDigits(classes);
    const unlike = digits ? "a letter, shape or scribble?" : "a digit, letter, shape or scribble?";
    const what = detector ? unlike : "no class fits it";
    return { big: digits ? "not a digit?" : "not one it knows?", line: what };
  }
  return { big: name(a), line: percent(probs[a]) };
}
