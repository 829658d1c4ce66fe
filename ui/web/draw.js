// The DigitLens drawing pad (Streamlit components v2, no build step).
//
// Pointer events (mouse, touch, pen) draw on a fixed-resolution canvas; the page
// never scrolls under the pen (`touch-action: none`). While the pen moves, the
// model runs in the page (ONNX Runtime Web, static/digitlens/edge.mjs) once per
// animation frame, skipping frames while it is busy; or, in server mode, the
// drawing goes to Python with at most one request in flight. When a stroke ends
// the drawing goes to Python at once, from the event handler itself (no debounce;
// a value set while the component mounts can be lost, streamlit#16732).
//
// Every live answer carries its verdict (issue #9): in the page, the model's detector
// and Python's rule (static/digitlens/verdict.mjs) judge the same input the model
// reads; from the server, Python's own. Only a `digit` is shown as a large digit;
// `unsure` is small and grey with "unsure", `not_a_digit` is words, no digit. Those words
// are `describe`, from static/digitlens/words.mjs: ui/canvas.py sets that file before this
// one in the component's module, so the pad and the Camera page say a verdict alike.
//
// A tap or a short tick is "too small to read", as Python refuses it (the size rule
// of model/input/preprocessing.py, ported in edge.mjs).
//
// Number mode (mode "number", a wider pad: width x height): nothing is read in the page (its
// model reads one digit); the server reads each finished stroke as a number and its answer
// carries `text` (the number, "4?2") instead of one label.
//
// Keyboard and screen readers (issue #24): the canvas, Undo, Clear and the pen width are
// in the Tab order, each with a name; Ctrl+Z (Cmd+Z) undoes and Delete (or Backspace)
// clears while focus is in the pad. The answer and its verdict are announced politely
// (a visually hidden aria-live="polite" status) once the pen is up, never each frame,
// and nothing here ever moves the focus.
//
// data (from Python): {size, width, height, pen, penMin, penMax, mode, modelUrl, verdict,
//                      tooSmall (the size rule), recipe, classes, readsDigits, staticUrl,
//                      command: {op, id},
//                      server: {seq, label, probs, verdict, reason, ms[, text]},
//                      key (the pad's: this tab keeps each pad's last strokes by it)}
// state (to Python):  drawing = {png: data URL or null, seq, final, strokes}

const app = new WeakMap();
/** A server-mode read not answered within this long was lost (its run was dropped). */
const STALE_MS = 2000;

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let pad = app.get(parentElement);
  if (!pad) {
    pad = createPad(parentElement);
    app.set(parentElement, pad);
  }
  pad.setStateValue = setStateValue;
  pad.update(data);
  return pad.destroy;
}

/** Each pad's last finished strokes in this tab, by the pad's key (gone with a reload;
 * not under window.digitlens, which edge.mjs makes anew with each model). */
function keptHere() {
  window.digitlensKept = window.digitlensKept || {};
  return window.digitlensKept;
}

/** Strokes copied point by point (the pad goes on drawing into its own). */
function copied(strokes) {
  return strokes.map((s) => ({ w: s.w, pts: s.pts.map(([x, y]) => [x, y]) }));
}

function el(parent, tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  parent.appendChild(e);
  return e;
}

function createPad(root) {
  const pad = {
    data: null,
    strokes: [], // [{w, pts: [[x, y], ...]}] in canvas pixels
    seq: 0,
    sentAt: new Map(), // seq -> performance.now() when sent
    inflight: null,
    lastCommand: null,
    edge: null, // the edge.mjs module
    model: null, // EdgeModel for data.modelUrl
    judge: null, // EdgeJudge for data.verdict (verdict.mjs)
    reading: false, // a live read (model, then judge) is under way
    modelUrl: null,
    moveAt: 0, // time of the newest pen movement not yet shown
    frameQueued: false,
    timings: { browser: [], server: [], penToDisplay: [] },
    // The latest live answer; x: the (28*28) input it read and judged.
    live: {
      label: null,
      verdict: null,
      score: null,
      x: null,
      moved: 0,
      source: null,
      at: 0,
      frames: 0,
      skipped: 0,
    },
  };

  const box = el(root, "div", "dl-pad");
  const live = el(box, "div", "dl-live");
  const digit = el(live, "div", "dl-live-digit", "–");
  const side = el(live, "div", "dl-live-side");
  const sure = el(side, "div", "dl-live-sure", "draw a digit");
  const hist = el(side, "div", "dl-live-hist");
  const bars = [];
  const names = [];
  for (let i = 0; i < 10; i++) {
    const col = el(hist, "div", "dl-live-col");
    const track = el(col, "div", "dl-live-track");
    bars.push(el(track, "div", "dl-live-bar"));
    names.push(el(col, "div", "dl-live-name", String(i)));
  }
  const surface = el(box, "div", "dl-surface");
  const canvas = el(surface, "canvas", "dl-canvas");
  canvas.tabIndex = 0; // reachable with Tab, so its shortcuts are too
  canvas.setAttribute("role", "img");
  canvas.setAttribute(
    "aria-label",
    "drawing pad: draw a digit with a mouse, pen or finger. Ctrl+Z undoes the last stroke, Delete clears",
  );
  canvas.setAttribute("aria-keyshortcuts", "Control+Z Delete");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const tools = el(box, "div", "dl-tools");
  const undo = el(tools, "button", "dl-btn dl-undo", "↶ Undo");
  const clear = el(tools, "button", "dl-btn dl-clear", "✕ Clear");
  undo.setAttribute("aria-label", "Undo the last stroke");
  undo.setAttribute("aria-keyshortcuts", "Control+Z");
  undo.title = "Undo the last stroke, or a clear (Ctrl+Z)";
  clear.setAttribute("aria-label", "Clear the pad");
  clear.setAttribute("aria-keyshortcuts", "Delete");
  clear.title = "Clear the pad (Delete)";
  const penBox = el(tools, "label", "dl-pen");
  const penDot = el(penBox, "span", "dl-pen-dot");
  penDot.setAttribute("aria-hidden", "true");
  const pen = el(penBox, "input", "dl-pen-range");
  pen.type = "range";
  pen.setAttribute("aria-label", "pen width");
  const stats = el(box, "div", "dl-stats", "");
  // What a screen reader hears: the settled answer, politely (it never takes the focus).
  const said = el(box, "div", "dl-sr");
  said.setAttribute("role", "status");
  said.setAttribute("aria-live", "polite");
  said.setAttribute("aria-atomic", "true");
  hist.setAttribute("aria-hidden", "true"); // the bars repeat the answer: said once, in words
  undo.type = clear.type = "button";

  function median(a) {
    if (!a.length) return null;
    const s = [...a].sort((x, y) => x - y);
    return s[s.length >> 1];
  }

  function showStats() {
    const d = pad.data || {};
    const b = median(pad.timings.browser.slice(-30));
    const p = median(pad.timings.penToDisplay.slice(-30));
    const s = median(pad.timings.server.slice(-30));
    const parts = [];
    if (d.mode === "number") parts.push("read on the server after each stroke");
    else if (d.modelUrl) {
      parts.push(
        pad.model
          ? (b === null ? "browser: ready" : `browser ${b.toFixed(1)} ms/read`) +
              (p === null ? "" : `, pen→screen ${p.toFixed(0)} ms`)
          : "browser: loading the model…",
      );
    } else parts.push("browser: no ONNX export for this model");
    if (s !== null) parts.push(`server ${s.toFixed(0)} ms round trip`); // (none yet: nothing)
    stats.textContent = parts.join(" · ");
  }

  /** Say `text` through the status region, if the pen is up and it is news. */
  function announce(text) {
    if (!pad.drawing && said.textContent !== text) said.textContent = text;
  }

  function showAnswer(label, probs, source, verdict = null, reason = null, settled = true) {
    let best = 0;
    probs.forEach((p, i) => {
      if (p > probs[best]) best = i;
    });
    // The slot and the line (words.mjs `describe`, as the Camera page says them; never
    // "100.0%": a rounded certainty is a claim the model cannot make, issue #9).
    const rule = pad.data?.verdict || {};
    const { big, line } = describe(verdict, probs, pad.data?.classes || [], rule);
    digit.textContent = big;
    sure.textContent = `${line} · ${source}`;
    live.title = reason || "";
    live.dataset.verdict = verdict || "digit";
    probs.forEach((p, i) => {
      bars[i].style.height = `${Math.max(p * 100, 1).toFixed(1)}%`;
      bars[i].classList.toggle("dl-win", i === best);
    });
    pad.live.label = label;
    pad.live.verdict = verdict;
    pad.live.source = source;
    pad.live.at = performance.now();
    digit.dataset.source = source;
    const spoken = { unsure: line, not_a_digit: `${big} ${line}` }[verdict];
    if (settled) announce(spoken ?? `${big}, ${line} sure`);
  }

  /** The server's reading of a number (number mode): the number itself, or why there is none. */
  function showNumber(srv) {
    showBlank();
    digit.textContent = srv.text ?? (srv.verdict ? "no number" : "–");
    // A number's verdict in a number's words (it said "digit · server" of a number read).
    const said = { digit: "read", unsure: "unsure", not_a_digit: "not a number" }[srv.verdict];
    sure.textContent = srv.verdict ? `${said ?? srv.verdict} · server` : "draw a number";
    live.title = srv.reason || "";
    if (srv.verdict) live.dataset.verdict = srv.verdict;
    digit.dataset.source = "server";
    const how = srv.verdict === "unsure" ? ", unsure" : "";
    if (srv.verdict) announce(srv.text ? `the number ${srv.text}${how}` : "no number");
  }

  function showBlank() {
    digit.textContent = "–";
    sure.textContent =
      pad.data?.mode === "number" ? "draw a number" : `draw ${pad.data?.thing ?? "a digit"}`;
    live.title = "";
    delete live.dataset.verdict;
    bars.forEach((b) => {
      b.style.height = "1%";
      b.classList.remove("dl-win");
    });
    pad.live.label = null;
    pad.live.verdict = null;
    pad.live.x = null;
    if (!pad.strokes.length) announce("the pad is empty");
  }

  /** A tap, a short tick or a filled area: Python refuses it (TooSmallError), so no answer
   * here either. */
  function showTooSmall(kind) {
    showBlank();
    const said = kind === "blob" ? "a filled area, not strokes" : "too small to read";
    sure.textContent = `${said} · browser`;
    live.title = {
      stroke: "The mark is a single short stroke, too small to read; if it is a 1, write it larger.",
      blob: "The mark is a filled area, not pen strokes: no digit's shape to read; draw the digit as a line.",
    }[kind] ??
      "The mark is too small to read (a dot or a short tick); " +
        ((pad.data?.recipe ?? "mnist") === "mnist"
          ? "draw the whole digit, larger."
          : "show the whole thing, larger.");
    live.dataset.verdict = "too_small";
    announce(said);
  }

  function setPenUi() {
    const w = Number(pen.value);
    pen.setAttribute("aria-valuetext", `${w} pixels`);
    const scale = canvas.getBoundingClientRect().width / canvas.width || 1;
    penDot.style.width = penDot.style.height = `${Math.max(w * scale, 2)}px`;
  }

  function drawStroke(s, from = 0) {
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = s.w;
    const p = s.pts;
    if (p.length === 1 || from === 0) {
      ctx.beginPath();
      ctx.arc(p[0][0], p[0][1], s.w / 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (p.length > 1) {
      ctx.beginPath();
      ctx.moveTo(p[Math.max(from - 1, 0)][0], p[Math.max(from - 1, 0)][1]);
      for (let i = Math.max(from, 1); i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]);
      ctx.stroke();
    }
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    pad.strokes.forEach((s) => drawStroke(s));
  }

  function send(final) {
    const seq = ++pad.seq;
    const png = pad.strokes.length ? canvas.toDataURL("image/png") : null;
    pad.sentAt.set(seq, performance.now());
    pad.inflight = seq;
    // A finished drawing's strokes, for the pad's next mount (its page left and come back
    // to, or made anew for another model): kept in this tab at once, as a page clicked
    // right after a stroke drops the run that would tell Python.
    if (final && pad.data?.key) keptHere()[pad.data.key] = copied(pad.strokes);
    pad.setStateValue("drawing", { png, seq, final, strokes: pad.strokes.length });
  }

  // ---------------------------------------------------------------- live reading
  function liveFrame() {
    pad.frameQueued = false;
    const d = pad.data;
    if (!d || d.mode === "number") return; // number mode: the server reads each finished stroke
    if (d.mode === "server") {
      // One request in flight at most; a lost one is given up after STALE_MS.
      const sent = pad.sentAt.get(pad.inflight);
      const stale = pad.inflight && (sent === undefined || performance.now() - sent > STALE_MS);
      if (pad.drawing && (!pad.inflight || stale)) send(false);
      return;
    }
    if (!pad.model || !pad.judge) return;
    if (pad.reading) {
      pad.live.skipped++;
      queueFrame(); // try again next frame with the newest drawing
      return;
    }
    const moved = pad.moveAt;
    const t0 = performance.now();
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const x = pad.edge.fromCanvas(image, d.recipe, d.tooSmall);
    if (!x || x instanceof pad.edge.TooSmall) {
      if (x) showTooSmall(x.kind); // refused as Python refuses it: nothing to read yet
      else showBlank();
      pad.live.moved = moved;
      return;
    }
    pad.reading = true;
    (async () => {
      // The judge reads the very input the model reads: the verdict Python gives it.
      const [probs] = await pad.model.probabilities(x);
      const [score] = await pad.judge.scores(x, [probs]);
      return { probs: Array.from(probs), score };
    })()
      .then(({ probs, score }) => {
        const now = performance.now();
        let best = 0;
        probs.forEach((p, i) => {
          if (p > probs[best]) best = i;
        });
        const classes = d.classes || [];
        const { verdict, reason } = pad.judge.verdict(score, probs, classes);
        const label = classes[best] ?? String(best);
        showAnswer(label, probs, "browser", verdict, reason, moved === 0);
        pad.live.score = score;
        pad.live.x = x;
        pad.live.moved = moved; // the pen movement this read saw (0: the pen was up)
        pad.live.frames++;
        pad.timings.browser.push(now - t0);
        if (moved) pad.timings.penToDisplay.push(now - moved);
        showStats();
      })
      .finally(() => {
        pad.reading = false;
      });
  }

  function queueFrame() {
    if (!pad.frameQueued) {
      pad.frameQueued = true;
      requestAnimationFrame(liveFrame);
    }
  }

  // ---------------------------------------------------------------- pointer events
  function point(e) {
    const r = canvas.getBoundingClientRect();
    return [
      ((e.clientX - r.left) * canvas.width) / r.width,
      ((e.clientY - r.top) * canvas.height) / r.height,
    ];
  }

  function down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    canvas.setPointerCapture?.(e.pointerId);
    pad.drawing = { id: e.pointerId };
    const s = { w: Number(pen.value), pts: [point(e)] };
    pad.cleared = null;
    markCleared(false);
    pad.strokes.push(s);
    drawStroke(s);
    pad.moveAt = performance.now();
    queueFrame();
  }

  function move(e) {
    if (!pad.drawing || pad.drawing.id !== e.pointerId) return;
    e.preventDefault();
    const s = pad.strokes[pad.strokes.length - 1];
    const from = s.pts.length;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    (events.length ? events : [e]).forEach((ce) => s.pts.push(point(ce)));
    drawStroke(s, from);
    pad.moveAt = performance.now();
    queueFrame();
  }

  function up(e) {
    if (!pad.drawing || pad.drawing.id !== e.pointerId) return;
    e.preventDefault();
    pad.drawing = null;
    send(true); // at once, from the handler
    pad.moveAt = 0;
    queueFrame();
  }

  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  // Belt and braces for browsers that start a scroll before pointer events settle.
  const noScroll = (e) => e.preventDefault();
  canvas.addEventListener("touchstart", noScroll, { passive: false });
  canvas.addEventListener("touchmove", noScroll, { passive: false });

  function doUndo() {
    if (!pad.strokes.length && pad.cleared) {
      // Undo after Clear brings the drawing back (it did nothing: a user test)
      pad.strokes = pad.cleared;
      pad.cleared = null;
      markCleared(false);
      redraw();
      send(true);
      queueFrame();
      return;
    }
    if (!pad.strokes.length) return;
    pad.strokes.pop();
    redraw();
    send(true);
    if (pad.strokes.length) queueFrame();
    else showBlank();
  }
  // After Clear the page hides the answer to the old drawing while it is stale (CSS in
  // ui/widgets.py), until the next stroke or an Undo brings a drawing back.
  function markCleared(on) {
    document.documentElement.toggleAttribute("data-dl-cleared", on);
  }
  function doClear() {
    markCleared(true);
    if (pad.strokes.length) pad.cleared = pad.strokes; // (for Undo, until the next stroke)
    pad.strokes = [];
    redraw();
    send(true);
    showBlank();
  }
  undo.addEventListener("click", doUndo);
  clear.addEventListener("click", doClear);
  // Shortcuts while focus is in the pad only: Ctrl+Z elsewhere stays the browser's.
  box.addEventListener("keydown", (e) => {
    const key = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && key === "z") {
      e.preventDefault();
      doUndo();
    } else if ((key === "delete" || key === "backspace") && e.target !== pen) {
      e.preventDefault();
      doClear();
    }
  });
  pen.addEventListener("input", setPenUi);
  const resize = new ResizeObserver(setPenUi);
  resize.observe(canvas);

  pad.update = (d) => {
    const first = !pad.data;
    pad.data = d;
    // The model's own class names under the bars (a fashion model's were 0-9), whole:
    // set upright (.dl-words), "T-shirt/top" fits; cut to "T-shi." it was a riddle.
    (d.classes || []).slice(0, 10).forEach((c, i) => {
      names[i].textContent = c;
      names[i].title = c;
    });
    // Names, not digits, under the bars: set upright, and the answer in smaller type, so
    // that "Trouser" and its ten names fit the pad's column (they ran under the next one).
    box.classList.toggle("dl-words", d.readsDigits === false); // (Python's reads_digits)
    if (first) {
      canvas.width = d.width || d.size;
      canvas.height = d.height || d.size;
      surface.style.aspectRatio = `${canvas.width} / ${canvas.height}`;
      if (d.mode === "number") {
        box.classList.add("dl-wide");
        canvas.setAttribute(
          "aria-label",
          "drawing pad: write a number, its digits side by side, with a mouse, pen or finger. " +
            "Ctrl+Z undoes the last stroke, Delete clears",
        );
        sure.textContent = "write a number"; // (it said "draw a digit")
      } else if (d.thing && d.thing !== "a digit") {
        // a model of other things (fashion-cnn): its own words, never "digit"
        canvas.setAttribute(
          "aria-label",
          `drawing pad: draw ${d.thing} with a mouse, pen or finger. ` +
            "Ctrl+Z undoes the last stroke, Delete clears",
        );
        sure.textContent = `draw ${d.thing}`;
      }
      pen.min = d.penMin;
      pen.max = d.penMax;
      pen.value = d.pen;
      setPenUi();
      // The drawing this pad held before its page was left, drawn again and sent, so
      // Python answers it as it did (and the live reading reads it once the model is in).
      const held = d.key && keptHere()[d.key];
      if (held && held.length) {
        pad.strokes = copied(held);
        redraw();
        setTimeout(() => send(true));
        queueFrame();
      }
    }
    // A drawing on the pad when its reading moves into the browser is read there at once
    // (its answer came from the server, and said so, until the next stroke).
    const moved = box.dataset.mode && box.dataset.mode !== d.mode;
    box.dataset.mode = d.mode;
    if (moved && d.mode === "browser" && pad.strokes.length) queueFrame();
    // Commands from Python (undo / clear buttons there), each applied once.
    const cmd = d.command;
    if (cmd && cmd.id !== pad.lastCommand) {
      // A command older than this pad (a page reload) is not replayed.
      if (!first && cmd.op) (cmd.op === "undo" ? doUndo : doClear)();
      pad.lastCommand = cmd.id;
    }
    // The server's answer to one of our sends.
    const srv = d.server;
    if (srv && pad.sentAt.has(srv.seq)) {
      pad.timings.server.push(performance.now() - pad.sentAt.get(srv.seq));
      // Sends overtaken by a newer one are never answered (Streamlit drops their runs).
      for (const seq of pad.sentAt.keys()) if (seq <= srv.seq) pad.sentAt.delete(seq);
      if (pad.inflight === srv.seq) pad.inflight = null;
      if (d.mode === "server" && pad.drawing) queueFrame(); // the next read, if still drawing
    }
    // The answer to the drawing on the pad, shown when it is new: to a send, or the same
    // drawing answered again by another model (the sidebar's), which no send asked for.
    if (srv && srv.seq === pad.seq) {
      const said = JSON.stringify([srv.seq, srv.label, srv.text, srv.probs, srv.verdict, d.mode]);
      if (said !== pad.shownServer) {
        pad.shownServer = said;
        if (d.mode === "number") showNumber(srv);
        else if (d.mode === "server" && srv.probs) {
          showAnswer(srv.label, srv.probs, "server", srv.verdict ?? null, srv.reason ?? null);
        }
      }
    }
    if (d.modelUrl && d.modelUrl !== pad.modelUrl) {
      pad.modelUrl = d.modelUrl;
      pad.model = null;
      pad.judge = null;
      const base = new URL(d.staticUrl, document.baseURI);
      const url = new URL(d.modelUrl, document.baseURI).href;
      Promise.all([
        import(new URL("digitlens/edge.mjs", base).href),
        import(new URL("digitlens/verdict.mjs", base).href),
      ]).then(async ([edge, verdicts]) => {
        pad.edge = edge;
        edge.exposeHook(url);
        // The model and its judge: the page reads nothing it cannot judge.
        const [m, j] = await Promise.all([edge.model(url), verdicts.judge(d.verdict)]);
        if (pad.modelUrl !== d.modelUrl) return;
        pad.model = m;
        pad.judge = j;
        verdicts.exposeHook(j, d.classes || []);
        box.dataset.ready = "1";
        window.digitlens.pad = pad;
        showStats();
        if (pad.strokes.length && pad.data.mode === "browser") queueFrame();
      });
    }
    if (!d.modelUrl) pad.modelUrl = null;
    showStats();
  };

  pad.showAnswer = showAnswer; // for the browser tests: each verdict's look

  pad.destroy = () => {
    resize.disconnect();
    app.delete(root);
  };
  return pad;
}
