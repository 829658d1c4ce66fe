// The DigitLens live camera (Streamlit components v2): getUserMedia frames read by
// the in-browser pipeline (static/digitlens/edge.mjs). A frame that arrives while
// the model is still busy with the previous one is dropped, never queued, so the
// answer always belongs to a recent frame; the page shows frames read per second
// and frames dropped. Frames never leave the browser.
//
// Every reading carries the verdict Python would give the same 28x28 input (issue #9),
// as on the Draw pad: the model's detector and Python's rule judge it
// (static/digitlens/verdict.mjs), and only a `digit` is shown as a large digit;
// `unsure` is a small grey "7?" with why, `not_a_digit` is words. A mark Python
// refuses as too small to read (a dot, a short tick) is refused here too.
//
// A screen reader hears a reading once it has held for STEADY_MS (a visually hidden
// aria-live="polite" status, issue #24), not each of the ~10 reads a second.
//
// data (from Python): {modelUrl, staticUrl, classes, side, verdict (the rule of
//                      ui/canvas.py `verdict_rule`), tooSmall (the size rule)}

const app = new WeakMap();
/** A reading is announced once it has been the same for this long. */
const STEADY_MS = 1000;

export default function (component) {
  const { data, parentElement } = component;
  let cam = app.get(parentElement);
  if (!cam) {
    cam = createCamera(parentElement);
    app.set(parentElement, cam);
  }
  cam.update(data);
  return cam.destroy;
}

function el(parent, tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  parent.appendChild(e);
  return e;
}

function createCamera(root) {
  const cam = {
    data: null, edge: null, model: null, judge: null, verdicts: null, stream: null,
    running: false, busy: false,
    // label: the class read; verdict, score: its judgement; x: the (28*28) input read.
    stats: {
      read: 0, dropped: 0, frames: 0, label: null, verdict: null, score: null, x: null,
      fps: 0, ms: 0,
    },
    times: [], // when each of the last second's reads finished
  };
  const box = el(root, "div", "dl-cam");
  const view = el(box, "div", "dl-cam-view");
  const video = el(view, "video", "dl-cam-video");
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  const panel = el(box, "div", "dl-cam-side");
  const digit = el(panel, "div", "dl-live-digit", "–");
  const said = el(panel, "div", "dl-sr");
  said.setAttribute("role", "status");
  said.setAttribute("aria-live", "polite");
  said.setAttribute("aria-atomic", "true");
  const heard = { text: null, since: 0 };
  const sure = el(panel, "div", "dl-live-sure", "starting the camera…");
  const input = el(panel, "canvas", "dl-cam-input");
  input.width = input.height = 28;
  const stats = el(panel, "div", "dl-stats", "");
  const toggle = el(panel, "button", "dl-btn", "Stop");
  toggle.type = "button";
  const work = document.createElement("canvas");
  const wctx = work.getContext("2d", { willReadFrequently: true });
  const ictx = input.getContext("2d");
  window.digitlens = window.digitlens || {};
  window.digitlens.camera = cam.stats;

  /** Say `text` once it has held for STEADY_MS and differs from what was said last. */
  function announce(text) {
    const now = performance.now();
    if (text !== heard.text) Object.assign(heard, { text, since: now });
    else if (now - heard.since >= STEADY_MS && said.textContent !== text) said.textContent = text;
  }

  function showInput(x) {
    const img = ictx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = x ? Math.round(x[i] * 255) : 0;
      img.data.set([v, v, v, 255], 4 * i);
    }
    ictx.putImageData(img, 0, 0);
  }

  function showStats() {
    const s = cam.stats;
    stats.textContent =
      `${s.fps.toFixed(1)} frames/s read · ${s.dropped} dropped of ${s.frames}` +
      ` · ${s.ms.toFixed(1)} ms/read`;
  }

  async function read() {
    const frameSide = cam.data.side;
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh) return;
    const s = frameSide / Math.max(vw, vh);
    work.width = Math.round(vw * s);
    work.height = Math.round(vh * s);
    wctx.drawImage(video, 0, 0, work.width, work.height);
    const t0 = performance.now();
    const frame = wctx.getImageData(0, 0, work.width, work.height);
    const x = cam.edge.fromFrame(frame, undefined, cam.data.tooSmall);
    if (!x || x instanceof cam.edge.TooSmall) {
      showInput(null);
      const said = x?.kind === "blob" ? "a filled area, not strokes" : "too small to read";
      showNothing(x ? said : "no digit in view", x ? "too_small" : null);
      return;
    }
    showInput(x);
    // The judge reads the very input the model reads: the verdict Python gives it.
    const [probs] = await cam.model.probabilities(x);
    const [score] = await cam.judge.scores(x, [probs]);
    if (!cam.running) return; // stopped while it read: no reading of a frame that is gone
    const classes = cam.data.classes || [];
    const { verdict, reason } = cam.judge.verdict(score, probs, classes);
    const { big, line } = cam.verdicts.describe(verdict, probs, classes, cam.data.verdict);
    digit.textContent = big;
    // A class name answered ("Ankle boot", fashion-cnn): smaller than a digit's 72 px.
    panel.toggleAttribute("data-words", verdict === "digit" && [...big].length > 2);
    sure.textContent = verdict === "digit" ? `${line} sure` : line;
    announce(verdict === "digit" ? big : `${big} ${line}`); // no percentage: it moves each read
    panel.title = reason || "";
    panel.dataset.verdict = verdict;
    Object.assign(cam.stats, { label: name(argmax(probs)), verdict, score, x });
    cam.stats.ms = performance.now() - t0;
  }

  /** No reading: nothing in view, or a mark too small to read (verdict "too_small"). */
  function showNothing(words, verdict) {
    digit.textContent = "–";
    sure.textContent = words;
    announce(words);
    panel.title = "";
    panel.removeAttribute("data-words");
    if (verdict) panel.dataset.verdict = verdict;
    else delete panel.dataset.verdict;
    Object.assign(cam.stats, { label: null, verdict, score: null, x: null });
  }

  const name = (i) => (cam.data.classes || [])[i] ?? String(i);

  function argmax(probs) {
    let best = 0;
    probs.forEach((p, i) => {
      if (p > probs[best]) best = i;
    });
    return best;
  }

  function onFrame() {
    if (!cam.running) return;
    schedule();
    if (!cam.model || !cam.judge) return; // still loading: nothing to read with yet
    cam.stats.frames++;
    if (cam.busy) {
      cam.stats.dropped++; // dropped, not queued
      return;
    }
    cam.busy = true;
    read()
      .catch((e) => {
        sure.textContent = String(e);
      })
      .finally(() => {
        cam.busy = false;
        const now = performance.now();
        const t = cam.times;
        t.push(now);
        while (t.length && now - t[0] > 1000) t.shift();
        cam.stats.read++;
        cam.stats.fps = t.length;
        if (cam.running) showStats(); // (Stop cleared the rate: a late read keeps it clear)
      });
  }

  function schedule() {
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
    else requestAnimationFrame(onFrame);
  }

  async function start() {
    try {
      cam.stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "environment" },
        audio: false,
      });
    } catch (e) {
      // In words, not the browser's error name ("no camera: NotFoundError"); Start tries again.
      const why = {
        NotFoundError: "No camera was found on this device.",
        NotAllowedError: "The browser was not allowed to use the camera (see its site settings).",
        NotReadableError: "The camera is in use by another program.",
        SecurityError: "The camera needs a secure page (https, or localhost).",
      }[e?.name];
      showNothing(why || `The camera could not be started (${e?.name || e}).`, null);
      video.srcObject = null;
      toggle.textContent = "Try again";
      return;
    }
    video.srcObject = cam.stream;
    await video.play();
    cam.running = true;
    toggle.textContent = "Stop";
    sure.textContent = "looking for a digit…";
    schedule();
  }

  function stop() {
    cam.running = false;
    cam.stream?.getTracks().forEach((t) => t.stop());
    cam.stream = null;
    toggle.textContent = "Start";
    // No reading of a frame that is gone: the last answer, its input and its rate go too.
    showNothing("camera off", null);
    showInput(null);
    stats.textContent = "";
  }

  toggle.addEventListener("click", () => (cam.running ? stop() : start()));

  cam.update = (d) => {
    const first = !cam.data;
    cam.data = d;
    if (!d.modelUrl || !d.verdict) {
      sure.textContent = "this model has no ONNX export: the camera needs one";
      return;
    }
    const url = new URL(d.modelUrl, document.baseURI).href;
    if (url === cam.url) return;
    cam.url = url;
    cam.model = cam.judge = null;
    const base = new URL(d.staticUrl, document.baseURI);
    Promise.all([
      import(new URL("digitlens/edge.mjs", base).href),
      import(new URL("digitlens/verdict.mjs", base).href),
    ]).then(async ([edge, verdicts]) => {
      // The model and its judge: the camera shows no reading it cannot judge.
      const [m, j] = await Promise.all([edge.model(url), verdicts.judge(d.verdict)]);
      if (cam.url !== url) return;
      Object.assign(cam, { edge, verdicts, model: m, judge: j });
      box.dataset.ready = "1";
    });
    if (first) start();
  };

  cam.destroy = () => {
    stop();
    app.delete(root);
  };
  return cam;
}
