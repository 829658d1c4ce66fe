"""The real app in real Chromium: draw with mouse and touch, read the answer while the pen
moves (model in the page) and after it lifts (server), the camera, the other pages.

Timings are printed, never asserted (the machine is shared). Every stroke must be read
correctly, or the test fails.
"""

from __future__ import annotations

import base64
import math
import os
import statistics
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from model import load_classifier
from model.errors import TooSmallError
from model.input.preprocessing import preprocess
from model.input.samples import drawn_digit
from model.judge.verdict import LOOP_PENALTY, MAX_DIGIT_LOOPS, VERDICTS, Judge, count_loops
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, STARTED, open_page
from tests.helpers import ARTIFACTS, ROOT, TEST_DATA

pytestmark = pytest.mark.e2e

#: Stroke paths in canvas pixels (280x280), as model.input.samples.drawn_digit draws them.
STROKES = {
    1: [(120, 80), (150, 50), (150, 230)],
    4: [(170, 230), (170, 50), (80, 170), (200, 170)],
    7: [(90, 60), (190, 60), (120, 230)],
    0: [
        (140 + 50 * math.sin(2 * math.pi * t / 24), 140 - 90 * math.cos(2 * math.pi * t / 24))
        for t in range(25)
    ],
}


def _chain(loops: int = 3, r: float = 40, shift: float = 10, steps: int = 24) -> list:
    """One stroke of `loops` circles stacked like an 8 with one loop too many (each
    second one shifted right): the classifier reads a confident 8, the detector alone
    lets it through as a digit, the loop rule of model/judge/verdict.py calls it not a digit."""
    top = 140 - loops * r
    return [
        (
            140 + shift * (k % 2) + r * math.sin(2 * math.pi * t / steps),
            top + r + 2 * r * k - r * math.cos(2 * math.pi * t / steps),
        )
        for k in range(loops)
        for t in range(steps + 1)
    ]


#: A scribble of three loops (issue #9: no digit has more than two).
SCRIBBLE = _chain()
#: Pointer positions per segment of a stroke (a real pen reports ~60-120 a second).
STEPS = 6
LIVE = ".dl-live-digit"
#: The README's picture of the Draw page, written only with DIGITLENS_DOCS_SCREENSHOT=1.
DOCS_SCREENSHOT = ROOT / "docs" / "assets" / "draw-page.png"


def canvas_box(page) -> dict:
    canvas = page.locator(".dl-canvas")
    canvas.wait_for()
    return canvas.bounding_box()


def wait_ready(page) -> None:
    """The pad is on screen and the model has loaded in the page."""
    page.locator(".dl-pad[data-ready='1']").wait_for(timeout=60_000)


def path(page, stroke, steps: int = STEPS) -> list[tuple[float, float]]:
    """A stroke's points in page coordinates, interpolated (`steps` per segment)."""
    box = canvas_box(page)
    sx, sy = box["width"] / 280, box["height"] / 280
    pts = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        pts += [(x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps) for t in range(1, steps)]
        pts.append((x1, y1))
    return [(box["x"] + x * sx, box["y"] + y * sy) for x, y in pts]


def live_label(page) -> str:
    return page.locator(LIVE).text_content()


def wait_live(page, expected: str, timeout_ms: int = 10_000) -> None:
    page.locator(f"{LIVE}:text-is('{expected}')").wait_for(timeout=timeout_ms)


def mouse_stroke(page, stroke, expect_live: str | None = None, steps: int = STEPS) -> float:
    """Draw one stroke with the mouse; with `expect_live`, check the live answer before
    the button is released. Returns the time of the release."""
    pts = path(page, stroke, steps)
    page.mouse.move(*pts[0])
    page.mouse.down()
    for x, y in pts[1:]:
        page.mouse.move(x, y)
    if expect_live is not None:
        wait_live(page, expect_live)  # the pen is still down
    page.mouse.up()
    return time.perf_counter()


class Touch:
    """Touch strokes through the DevTools protocol (Playwright only taps)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)

    def _send(self, kind: str, x: float | None = None, y: float | None = None) -> None:
        points = [] if x is None else [{"x": x, "y": y, "radiusX": 4, "radiusY": 4, "id": 1}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def stroke(self, page, stroke, expect_live: str | None = None) -> None:
        pts = path(page, stroke)
        self._send("touchStart", *pts[0])
        for x, y in pts[1:]:
            self._send("touchMove", x, y)
        if expect_live is not None:
            wait_live(page, expect_live)  # the finger is still down
        self._send("touchEnd")

    def tap(self, page, selector: str) -> None:
        box = page.locator(selector).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self._send("touchStart", x, y)
        self._send("touchEnd")


def server_answer(page, expected: str, timeout_ms: int = 30_000) -> None:
    """The server's answer and its heatmap are on screen."""
    page.locator(f".dl-label:text-is('{expected}')").wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "() => { const i = document.querySelector('figure.dl-fig img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=timeout_ms,
    )


def prompt_shown(page) -> None:
    page.get_by_text("Draw a digit on the black square").wait_for()


def timings(page) -> dict:
    return page.evaluate("() => window.digitlens.pad.timings")


def test_mouse_strokes_are_read_while_drawing_and_after(page, streamlit_url):
    """Each digit: live answer before mouse-up, then the server's answer and heatmaps."""
    loaded: dict[str, int] = {}
    page.on(
        "requestfinished",
        lambda r: loaded.__setitem__(r.url.split("?")[0], r.sizes()["responseBodySize"]),
    )
    page.goto(streamlit_url)
    prompt_shown(page)
    wait_ready(page)
    load_ms = page.evaluate("() => window.digitlens.pad.model.loadMs")
    print(
        f"\nONNX Runtime Web start (wasm fetch + compile + session): {load_ms:.0f} ms; "
        f"first load of the Draw page: {sum(loaded.values()) / 1e6:.1f} MB over HTTP, of which "
        f"the ONNX Runtime wasm {sum(v for k, v in loaded.items() if '.wasm' in k) / 1e6:.1f} MB"
        f" and the model {sum(v for k, v in loaded.items() if k.endswith('.onnx')) / 1e6:.1f} MB"
    )
    frames = {"sent": 0, "received": 0}

    def count(ws) -> None:
        def add(kind, payload):
            frames[kind] += len(payload)

        ws.on("framesent", lambda p: add("sent", p))
        ws.on("framereceived", lambda p: add("received", p))

    page.on("websocket", count)  # opened before this; counted from the next reload
    page.reload()
    prompt_shown(page)
    wait_ready(page)
    frames.update(sent=0, received=0)
    if "cold" not in STARTED:
        STARTED["cold"] = time.perf_counter()
        print(
            f"\ncold start, fresh `streamlit run` to a usable canvas with the model loaded "
            f"in the page: {STARTED['cold'] - STARTED['streamlit']:.1f} s (server healthy after "
            f"{STARTED['healthy'] - STARTED['streamlit']:.1f} s)"
        )
    page.screenshot(path=str(ARTIFACTS / "draw-empty.png"))

    waits = []
    for i, digit in enumerate([7, 1, 4, 0, 7, 1, 4, 0]):
        if i:
            page.locator(".dl-clear").click()
            prompt_shown(page)
            assert live_label(page) == "–"
        released = mouse_stroke(page, STROKES[digit], expect_live=str(digit))
        server_answer(page, str(digit))  # fails the test if any stroke is misread
        waits.append(time.perf_counter() - released)
        assert live_label(page) == str(digit)
        assert page.locator(LIVE).get_attribute("data-source") == "browser"
        if digit == 7 and i == 0:
            # Grad-CAM beside the sidebar's map (the same here: one image) at full size.
            assert page.get_by_text("Grad-CAM on conv3, over your strokes").count() == 1
            page.screenshot(path=str(ARTIFACTS / "draw-seven.png"))
        if digit == 7 and i and os.environ.get("DIGITLENS_DOCS_SCREENSHOT") == "1":
            # the second 7: the server is warm, as a reader sees it after the first stroke
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(DOCS_SCREENSHOT))
    t = timings(page)
    print(
        f"per stroke over the WebSocket (drawing up, answer with heatmaps down; clears "
        f"included): {frames['sent'] / len(waits) / 1e3:.1f} kB up, "
        f"{frames['received'] / len(waits) / 1e3:.1f} kB down"
    )
    print(
        f"\npen movement to updated digit and histogram on screen (browser model): median "
        f"{statistics.median(t['penToDisplay']):.1f} ms over {len(t['penToDisplay'])} frames; "
        f"preprocess + ONNX Runtime Web {statistics.median(t['browser']):.1f} ms"
    )
    print(
        f"mouse-up to the server's heatmap on screen: median "
        f"{statistics.median(waits[1:]) * 1e3:.0f} ms over {len(waits) - 1} strokes after the "
        f"first ({waits[0] * 1e3:.0f} ms first); pad round trip median "
        f"{statistics.median(t['server']):.0f} ms"
    )


def settled_live(page) -> dict:
    """Wait until the live answer has read the drawing as it is now (pen up or down); return
    {verdict, text, px (font size of the digit slot), loops (of the input it read)}."""
    page.wait_for_function(
        "() => { const p = window.digitlens.pad;"
        " return p.live.moved === p.moveAt && !p.reading && !p.frameQueued; }"
    )
    return page.locator(LIVE).evaluate(
        "d => { const p = window.digitlens.pad;"
        " return {verdict: d.parentElement.dataset.verdict, text: d.textContent,"
        " px: parseFloat(getComputedStyle(d).fontSize),"
        " line: d.parentElement.querySelector('.dl-live-sure').textContent,"
        " loops: p.live.x && window.digitlens.judge.loops(p.live.x)}; }"
    )


def test_a_three_loop_scribble_gets_no_big_digit(page, streamlit_url):
    """Issue #9: while the pen draws a scribble of three loops (a confident 8 to the
    classifier), the live reading says "not a digit?" in words, never a large digit,
    whether the browser or the server reads it; its first dot is "too small to read"."""
    page.goto(streamlit_url)
    wait_ready(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    big = settled_live(page)
    assert big["verdict"] == "digit" and big["text"] == "7"
    page.locator(".dl-clear").click()
    pts = path(page, SCRIBBLE, steps=1)  # its points are close enough already
    page.mouse.move(*pts[0])
    page.mouse.down()
    tap = settled_live(page)  # the pen's first dot: too small to read, as in Python
    assert tap["verdict"] == "too_small" and tap["text"] == "–", tap
    for x, y in pts[1:]:
        page.mouse.move(x, y)
    live = settled_live(page)  # the pen is still down
    page.screenshot(path=str(ARTIFACTS / "draw-scribble.png"))
    page.mouse.up()
    print(f"\nlive reading of a three-loop scribble: {live}")
    assert live["loops"] > MAX_DIGIT_LOOPS, live  # what the page read is that scribble
    assert live["verdict"] == "not_a_digit", live
    assert live["text"] == "not a digit?" and live["px"] < big["px"] / 2, live

    # Answered by the server instead: Python's verdict reaches the pad the same way.
    page.get_by_text("On the server", exact=True).click()
    page.locator(".dl-pad[data-mode='server']").wait_for()
    page.locator(".dl-clear").click()
    prompt_shown(page)
    mouse_stroke(page, SCRIBBLE, steps=1)
    page.locator(".dl-verdict").wait_for(timeout=30_000)  # the server's answer, in words
    page.locator(f"{LIVE}[data-source='server']:text-is('not a digit?')").wait_for(timeout=10_000)
    # No large digit beside the maps either, once the page has settled: under a heavy load
    # (a training run beside the tests) one label was counted at the moment the server's
    # verdict appeared, while its live reading already said "not a digit?"; it passed again
    # alone. So the count is awaited, not sampled once.
    expect(page.locator(".dl-label")).to_have_count(0)


def test_each_verdict_has_its_own_look(page, streamlit_url):
    """Only `digit` is a large digit; `unsure` is small with "unsure" and why (torn between
    two classes, or unusual); `not_a_digit` is words (verdicts given here; the judge is
    checked by test_browser_verdicts_match_python)."""
    page.goto(streamlit_url)
    wait_ready(page)
    p_unsure = load_classifier("mnist-cnn").judge.rule()["p_unsure"]
    torn = [0.0] * 10
    torn[7], torn[1] = p_unsure - 0.1, p_unsure - 0.3  # the top one below p_unsure
    sure = [0.0] * 10
    sure[7] = 1.0
    looks = {}
    for verdict, probs in (
        ("digit", sure),
        ("unsure", torn),
        ("unsure", sure),
        ("not_a_digit", sure),
    ):
        looks[verdict, probs[7]] = page.locator(LIVE).evaluate(
            "(d, [v, p]) => { window.digitlens.pad.showAnswer('7', p, 'browser', v, 'why');"
            " return {text: d.textContent, px: parseFloat(getComputedStyle(d).fontSize),"
            " line: d.parentElement.querySelector('.dl-live-sure').textContent,"
            " title: d.parentElement.title}; }",
            [verdict, probs],
        )
    print(f"\n{looks}")
    big = looks["digit", 1.0]
    assert big["text"] == "7" and big["line"].startswith("> 99.9 %") and big["px"] >= 48
    for key, look in looks.items():
        if key[0] != "digit":
            assert look["px"] < big["px"] / 2 and look["title"] == "why", (key, look)
    assert looks["unsure", torn[7]]["text"] == "7?"
    assert looks["unsure", torn[7]]["line"].startswith("unsure: 7 or 1?")
    assert looks["unsure", 1.0]["line"].startswith("unsure: most like 7")
    assert looks["not_a_digit", 1.0]["text"] == "not a digit?"
    assert "%" not in looks["not_a_digit", 1.0]["line"]
    # The Camera page imports the same words (words.mjs `describe`, through verdict.mjs).
    for (verdict, p7), look in looks.items():
        probs = sure if p7 == 1.0 else torn
        said = page.evaluate(
            "async ([v, p]) => (await import(new URL('app/static/digitlens/verdict.mjs',"
            " document.baseURI).href)).describe(v, p, [...'0123456789'],"
            " window.digitlens.judge.rule)",
            [verdict, probs],
        )
        assert (said["big"], f"{said['line']} · browser") == (look["text"], look["line"]), said
    # A probability in the same words as Python's (the pad said "99.6%", the server "99.6 %")
    from model.prediction import format_probability

    ps = [1.0, 0.99996, 0.9995, 0.9994, 0.996, 0.5, 0.0006, 0.0004, 0.0]
    said = page.evaluate(
        "async (ps) => { const w = await import(new URL('app/static/digitlens/words.mjs',"
        " document.baseURI).href); return ps.map(w.percent); }",
        ps,
    )
    assert said == [format_probability(p) for p in ps], said


def test_undo_and_clear_by_mouse(page, streamlit_url):
    page.goto(streamlit_url)
    wait_ready(page)
    mouse_stroke(page, STROKES[1], expect_live="1")
    server_answer(page, "1")
    mouse_stroke(page, [(40, 140), (240, 140)])  # a bar across: no longer a 1
    page.wait_for_function(
        "() => document.querySelector('.dl-label')?.textContent !== '1'", timeout=30_000
    )
    page.locator(".dl-undo").click()
    wait_live(page, "1")
    server_answer(page, "1")
    page.locator(".dl-clear").click()
    prompt_shown(page)
    assert live_label(page) == "–"
    assert page.locator(".dl-label").count() == 0


#: Counts, each animation frame after a click on Clear, the frames in which the Draw
#: page's answer box still shows a picture, an answer or an expander (the old drawing's).
WATCH_OLD_ANSWER = """() => {
  const seen = (window.dlOld = { frames: 0, shown: 0, armed: false, stop: false });
  document.addEventListener("click", (e) => {
    // (the pad is in a shadow root: the event's target here is its host)
    if (e.composedPath().some((n) => n.classList?.contains("dl-clear"))) seen.armed = true;
  }, true);
  const visible = (el) =>
    el.checkVisibility({ visibilityProperty: true, opacityProperty: true });
  const tick = () => {
    if (seen.armed) {
      const box = document.querySelector(".st-key-dl-draw-answer");
      seen.frames++;
      const old = box?.querySelectorAll("img, .dl-label, [data-testid='stExpander']");
      if (old && [...old].some(visible)) seen.shown++;
    }
    if (!seen.stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def test_clear_hides_the_old_answer_at_once(page, streamlit_url):
    """From the frame after Clear, the old drawing's answer and maps are not seen (they
    showed, greyed, for 0.4-1 s while the page reran: a user test); the next stroke's
    answer is."""
    page.goto(streamlit_url)
    wait_ready(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    server_answer(page, "7")
    page.evaluate(WATCH_OLD_ANSWER)
    page.locator(".dl-clear").click()
    prompt_shown(page)
    page.wait_for_timeout(300)
    seen = page.evaluate("() => { window.dlOld.stop = true; return window.dlOld; }")
    assert seen["frames"] > 0 and seen["shown"] == 0, seen
    mouse_stroke(page, STROKES[1], expect_live="1")  # a new drawing: its answer is seen
    assert page.evaluate("() => document.documentElement.hasAttribute('data-dl-cleared')") is False
    server_answer(page, "1")
    assert page.locator(".st-key-dl-draw-answer .dl-label").is_visible()


def test_a_drawing_is_still_there_after_visiting_another_page(page, streamlit_url):
    """Draw a 7, open Upload from the sidebar, come back: the pad shows the 7 again and
    the server answers it with its maps (Streamlit forgets a pad that is off the page)."""
    page.goto(streamlit_url)
    wait_ready(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    server_answer(page, "7")
    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_text("Upload", exact=True).click()
    page.locator("[data-testid='stFileUploader']").wait_for()
    assert page.locator(".dl-canvas").count() == 0  # the pad is gone with its page
    nav.get_by_text("Draw", exact=True).click()
    wait_ready(page)
    server_answer(page, "7")
    wait_live(page, "7")  # the live reading read it again too
    inked = page.locator(".dl-canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"
    )
    assert inked > 500  # the strokes themselves, drawn again
    mouse_stroke(page, [(60, 140), (220, 140)])  # a bar, and another page at once:
    nav.get_by_text("Upload", exact=True).click()  # (its run may never reach Python)
    page.locator("[data-testid='stFileUploader']").wait_for()
    nav.get_by_text("Draw", exact=True).click()
    wait_ready(page)
    page.wait_for_function("() => window.digitlens?.pad?.strokes.length === 2", timeout=30_000)
    page.locator(".dl-clear").click()  # and Clear still empties it for good
    prompt_shown(page)
    nav.get_by_text("Upload", exact=True).click()
    page.locator("[data-testid='stFileUploader']").wait_for()
    nav.get_by_text("Draw", exact=True).click()
    wait_ready(page)
    prompt_shown(page)
    assert page.locator(".dl-label").count() == 0


def pick_model(page, name: str) -> None:
    """Choose `name` in the sidebar's Model box."""
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=name, exact=True).click()


def test_choices_are_kept_across_pages_and_strokes_on_another(page, streamlit_url):
    """Explain's example, chosen, then a stroke on Draw (a rerun of Draw's fragment only),
    then Explain again: still the chosen example; so is Draw's number mode."""
    page.goto(streamlit_url)
    wait_ready(page)
    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_text("Explain", exact=True).click()
    # (four choices, by their group's name: it was a slider, read as a range 0-7)
    example = page.get_by_role("radiogroup", name="Example")
    example.wait_for()
    example.get_by_text("0", exact=True).click()  # the first example, 0
    zero = example.get_by_role("radio", name="0")
    expect(zero).to_be_checked()
    # The page ran with it (the 0's own question): a click on the nav before that run
    # reaches the server can leave with the choice unsent (CI saw it once).
    page.get_by_text("why 0 and not", exact=False).first.wait_for(timeout=60_000)
    nav.get_by_text("Draw", exact=True).click()
    wait_ready(page)
    mouse_stroke(page, STROKES[1], expect_live="1")
    server_answer(page, "1")
    nav.get_by_text("Explain", exact=True).click()
    example.wait_for()
    page.get_by_text("SmoothGrad").first.wait_for(timeout=60_000)
    expect(zero).to_be_checked()
    nav.get_by_text("Draw", exact=True).click()
    wait_ready(page)  # (a click before the page is in can be lost in its run)
    page.get_by_text("A number", exact=True).click()
    page.locator(".dl-pad.dl-wide").wait_for()
    nav.get_by_text("Upload", exact=True).click()
    page.locator("[data-testid='stFileUploader']").wait_for()
    nav.get_by_text("Draw", exact=True).click()
    page.locator(".dl-pad.dl-wide").wait_for(timeout=30_000)  # still the number pad


def test_a_drawing_stays_and_is_read_again_when_the_model_changes(page, streamlit_url):
    """A 7 on the pad, then fashion-cnn (the page's layout changes, the pad is made anew):
    the strokes are still there and answered; on the server, mnist-mlp's reading replaces
    mnist-cnn's live answer (it stayed mnist-cnn's)."""
    page.goto(streamlit_url)
    wait_ready(page)
    page.get_by_text("On the server", exact=True).click()
    mouse_stroke(page, STROKES[7])
    server_answer(page, "7")
    page.wait_for_function("() => window.digitlens?.pad?.shownServer")
    before = page.evaluate("() => window.digitlens.pad.shownServer")
    pick_model(page, "mnist-mlp")
    page.wait_for_function(
        "(b) => window.digitlens?.pad?.shownServer && window.digitlens.pad.shownServer !== b",
        arg=before,
        timeout=60_000,
    )
    pick_model(page, "fashion-cnn")
    page.locator(".dl-label").first.wait_for(timeout=60_000)
    inked = page.locator(".dl-canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"
    )
    assert inked > 500  # the 7's strokes, on the pad made for fashion-cnn
    assert page.locator("text=Traceback").count() == 0
    # The page and the live bars name the model's own classes (they said "Draw a digit"
    # and 0-9 over a fashion model's bars).
    page.get_by_role("heading", name="Draw a Fashion-MNIST item").wait_for()
    # fashion-cnn's own detector: a 7 is no Fashion-MNIST item (it was "Sandal"), in the
    # model's words, not a digit model's ("not a digit?").
    page.locator(f"{LIVE}:text-is('not one it knows?')").wait_for(timeout=30_000)
    page.get_by_text("Not something this model knows").wait_for()
    aria = page.locator(".dl-canvas").get_attribute("aria-label")
    assert aria.startswith("drawing pad: draw a Fashion-MNIST item"), aria  # not "a digit"
    shown = page.locator(".dl-live-hist").filter(has_text="T-shirt/top")
    shown.wait_for(timeout=30_000)
    names = shown.locator(".dl-live-name").all_text_contents()
    assert names == list(load_classifier("fashion-cnn").class_names), names  # ("T-shi.")
    # Ten names and the answer fit the pad's column: the bars ran under the next column.
    pad = page.locator(".dl-pad").bounding_box()
    last = shown.locator(".dl-live-col").last.bounding_box()
    assert last["x"] + last["width"] <= pad["x"] + pad["width"] + 0.5, (last, pad)
    assert all(n.bounding_box()["width"] < 16 for n in shown.locator(".dl-live-name").all())
    # Every name, and the line beside the answer, whole: "T-shi", "Trous", "Pullo" and "a
    # digit, letter, shape or scribbl…" were cut (a user test), then "T-shi." (another).
    cut_off = "e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1"
    assert not any(n.evaluate(cut_off) for n in shown.locator(".dl-live-name").all())
    assert not page.locator(".dl-live-sure").first.evaluate(cut_off)
    page.locator(".dl-pad").first.screenshot(path=str(ARTIFACTS / "draw-fashion-pad.png"))


def test_explain_page_draws_on_the_same_pad(page, streamlit_url):
    """Explain, input "Draw": the Draw page's pad (live reading while the pen moves), and
    every method's map of the drawing once the stroke ends."""
    page.goto(streamlit_url + "/explain")
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("SmoothGrad").first.wait_for()  # the example drawing's maps
    page.locator("[data-testid='stRadio']").get_by_text("Draw", exact=True).click()
    main.get_by_text("Draw a digit to explain it.").wait_for()
    main.get_by_text("SmoothGrad").first.wait_for(state="detached")  # no maps before a stroke
    assert main.locator(".dl-label").count() == 0
    wait_ready(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    main.locator(".dl-label:text-is('7')").wait_for(timeout=60_000)
    main.get_by_text("SmoothGrad").first.wait_for(timeout=60_000)
    assert main.get_by_text("Draw a digit to explain it.").count() == 0
    assert page.locator("text=Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "explain-drawn-seven.png"), full_page=True)


@pytest.mark.usefixtures("bundled_evidence")
def test_explain_and_evidence_open_on_the_draw_pages_drawing(page, streamlit_url):
    """Draw a 1, then open Explain ("compare them all on the Explain page") and Evidence:
    each opens on that drawing, its maps and look-alikes made from it. Each page had a pad
    of its own and opened on its example (a user test). (A 1: Evidence's own first input,
    test image 0, is a 7.)"""
    page.goto(streamlit_url)
    wait_ready(page)
    mouse_stroke(page, STROKES[1], expect_live="1")
    server_answer(page, "1")
    nav = page.locator("[data-testid='stSidebarNav']")
    main = page.locator("[data-testid='stMain']")
    nav.get_by_text("Explain", exact=True).click()
    inputs = page.locator("[data-testid='stRadio']").filter(has_text="Upload")  # Explain's
    inputs.locator("label:has(input:checked)").get_by_text("Draw", exact=True).wait_for()
    main.locator(".dl-label:text-is('1')").wait_for(timeout=60_000)  # the pad drew it again
    main.get_by_text("SmoothGrad").first.wait_for(timeout=60_000)  # and its maps came
    assert main.get_by_text("Draw a digit to explain it.").count() == 0
    nav.get_by_text("Evidence", exact=True).click()
    main.get_by_text("look-alikes are 1s").first.wait_for(timeout=90_000)  # from the drawing
    assert page.locator("text=Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "evidence-on-the-draw-pages-one.png"), full_page=True)


def test_touch_on_a_phone(phone, streamlit_url):
    """390x844 touch: strokes draw (never scroll), answer visible above the canvas,
    undo/clear by tap, the sidebar reachable."""
    page = phone
    page.goto(streamlit_url)
    wait_ready(page)
    touch = Touch(page)
    page.locator(".dl-canvas").scroll_into_view_if_needed()
    before = page.evaluate("() => window.scrollY")
    touch.stroke(page, STROKES[7], expect_live="7")
    server_answer(page, "7")
    assert page.evaluate("() => window.scrollY") == before, "drawing scrolled the page"
    # The live answer sits right above the canvas, both inside the screen.
    digit, canvas = page.locator(LIVE).bounding_box(), canvas_box(page)
    assert digit["y"] + digit["height"] <= canvas["y"] and canvas["y"] - digit["y"] < 200
    assert digit["y"] >= 0 and canvas["y"] + canvas["height"] <= 844
    for button in (".dl-undo", ".dl-clear"):
        box = page.locator(button).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, f"{button} is too small to tap"
    page.screenshot(path=str(ARTIFACTS / "phone-seven.png"))

    touch.stroke(page, [(40, 140), (240, 140)])
    page.wait_for_function("() => window.digitlens?.pad?.strokes.length === 2")
    touch.tap(page, ".dl-undo")
    wait_live(page, "7")
    touch.tap(page, ".dl-clear")
    prompt_shown(page)
    touch.tap(page, ".dl-undo")  # Undo after Clear brings the 7 back (it did nothing)
    wait_live(page, "7")
    touch.tap(page, ".dl-clear")
    prompt_shown(page)
    touch.stroke(page, STROKES[1], expect_live="1")
    server_answer(page, "1")

    # The sidebar's choices: one tap away, and then on screen.
    touch.tap(page, "[data-testid='stExpandSidebarButton']")
    page.wait_for_function(
        "() => { const r = document.querySelector(\"[data-testid='stSidebar'] "
        "[data-testid='stSelectbox']\")?.getBoundingClientRect();"
        " return r && r.left >= 0 && r.right <= 390 && r.bottom <= 844; }"
    )
    page.wait_for_timeout(500)  # the slide-in animation, for the screenshot
    page.screenshot(path=str(ARTIFACTS / "phone-sidebar.png"))


def test_a_fashion_models_pad_fits_a_phones_first_screen(phone, streamlit_url):
    """fashion-cnn's taller live row (its names upright) and its note on drawings pushed
    Undo and Clear below a 390x844 phone's first screen (bottom at 877 px); the note now
    sits under the pad."""
    phone.goto(streamlit_url + "/?model=fashion-cnn")
    phone.locator(".dl-pad.dl-words[data-ready='1']").wait_for(timeout=60_000)
    assert phone.evaluate("() => window.scrollY") == 0
    for button in (".dl-undo", ".dl-clear"):
        box = phone.locator(button).bounding_box()
        assert box["y"] + box["height"] <= 844, f"{button} is below the first screen: {box}"
    phone.get_by_text("learnt from small pictures").wait_for()  # (still said, under it)


def test_switch_between_browser_and_server(page, streamlit_url):
    page.goto(streamlit_url)
    wait_ready(page)
    page.get_by_text("On the server", exact=True).click()
    page.locator(".dl-pad[data-mode='server']").wait_for()
    mouse_stroke(page, STROKES[4])
    server_answer(page, "4")
    wait_live(page, "4")
    assert page.locator(LIVE).get_attribute("data-source") == "server"
    assert page.evaluate("() => window.digitlens.pad.timings.server.length") >= 1
    page.get_by_text("In the browser", exact=True).click()
    page.locator(".dl-pad[data-mode='browser']").wait_for()
    # The drawing on the pad is read again where the page now reads it, with no new
    # stroke (its answer stayed marked "server" until the next one).
    page.locator(f"{LIVE}[data-source='browser']:text-is('4')").wait_for(timeout=10_000)
    page.locator(".dl-clear").click()
    prompt_shown(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    assert page.locator(LIVE).get_attribute("data-source") == "browser"
    stats = page.locator(".dl-stats").text_content()
    assert "ms/read" in stats and "round trip" in stats, stats
    print(f"\n{stats}")


def _mnist_sample(n: int) -> tuple[np.ndarray, str]:
    """(n, 28, 28) float32 test digits, and where they came from."""
    if TEST_DATA is not None:
        from model.datasets import load_split, locate

        images = load_split(locate("mnist", str(TEST_DATA)), "test").images[:n]
        return images.astype(np.float32) / 255.0, "MNIST test digits"
    clf = load_classifier("mnist-cnn")
    drawn = [drawn_digit(d, offset=(o, -o)) for d in (0, 1, 4, 7) for o in range(0, 40, 5)]
    return np.stack([clf.preprocess(img) for img in drawn])[:n], "drawn digits"


def test_browser_probabilities_match_python(page, streamlit_url):
    """The same 28x28 inputs through ONNX Runtime Web and through Python: <= 1e-4."""
    clf = load_classifier("mnist-cnn")
    x, source = _mnist_sample(64)
    page.goto(streamlit_url)
    wait_ready(page)
    browser = np.asarray(
        page.evaluate("xs => window.digitlens.probabilities(xs)", x.reshape(len(x), -1).tolist())
    )
    python = clf.probabilities(x)
    diff = float(np.abs(browser - python).max())
    print(f"\nbrowser vs Python probabilities on {len(x)} {source}: max |diff| {diff:.2e}")
    assert browser.shape == python.shape
    assert diff <= 1e-4


def _render(stroke, width: int = 20) -> Image.Image:
    """One stroke as the pad draws it (white, round caps and joins) on the 280x280 canvas."""
    img = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(img)
    d.line(stroke, fill=255, width=width, joint="curve")
    for x, y in (stroke[0], stroke[-1]):
        d.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return img


def _verdict_inputs(clf) -> dict[str, np.ndarray]:
    """Fixed (N, 28, 28) inputs by family: digits, the three-loop scribble, letters,
    shapes and scribbles from training.ood's report generators, noise, a flat grey field,
    and blends of two digits (torn between them)."""
    from training import negatives as gen

    digits, _ = _mnist_sample(16)
    sets = {"digits": digits, "three-loop scribble": clf.preprocess(_render(SCRIBBLE))[None]}
    for kind in ("letters", "digit-like letters", "shapes", "scribbles"):
        sets[kind] = gen.model_inputs(gen.negatives(kind, 6, "report", seed=5))[0]
    sets["noise"] = np.random.default_rng(0).random((2, 28, 28), dtype=np.float32)
    sets["flat grey"] = np.full((1, 28, 28), 0.3, np.float32)  # spreads the classifier thin
    sets["blends"] = 0.5 * (digits[:4] + digits[4:8])
    return sets


#: Scores closer than this to a threshold may fall either side in float32 (the ONNX
#: Runtimes differ by ~1e-6): their verdicts are not compared.
SCORE_ATOL = 1e-4


def test_browser_verdicts_match_python(page, streamlit_url):
    """The page's judge (verdict.mjs: the model's detector, Python's rule) against
    model/judge/verdict.py on the same 28x28 inputs: the same loops, scores within 1e-4, the same
    verdicts; then the post-hoc rule of models without a detector, the same way."""
    clf = load_classifier("mnist-cnn")
    sets = _verdict_inputs(clf)
    x = np.concatenate(list(sets.values())).astype(np.float32)
    family = np.array([k for k, v in sets.items() for _ in v])
    scribble = family == "three-loop scribble"
    page.goto(streamlit_url)
    wait_ready(page)
    # The page's own judge, whose rule came from Python; then one with the post-hoc rule.
    page_rule = page.evaluate("() => window.digitlens.judge.rule")
    assert page_rule.pop("detectorUrl").endswith(".onnx")
    assert page_rule == clf.judge.rule()
    ms = page.evaluate(
        "async x => { const j = window.digitlens.judge, xs = Float32Array.from(x), t = [];"
        " const p = [new Float32Array(10).fill(0.1)];"
        " for (let i = 0; i < 41; i++) { const t0 = performance.now(); await j.scores(xs, p);"
        " t.push(performance.now() - t0); }"
        " return t.sort((a, b) => a - b)[20]; }",
        x[0].ravel().tolist(),
    )
    print(f"\nthe page's judge (detector + loops) on one input: median {ms:.2f} ms")
    posthoc = Judge(clf.class_names, clf.judge.thing)
    for judge, xs in ((clf.judge, x), (posthoc, None)):
        rule = judge.rule()
        got = page.evaluate(
            "([xs, rule]) => window.digitlens.verdicts(xs, rule)",
            [x.reshape(len(x), -1).tolist(), None if xs is not None else rule],
        )
        probs = clf.probabilities(x)
        scores = judge.scores(xs, probs)
        want = np.array(
            [
                judge.verdict(float(sc), p, xs is not None)[0]
                for sc, p in zip(scores, probs, strict=True)
            ]
        )
        js = np.array([g["score"] for g in got], np.float64)
        verdicts = np.array([g["verdict"] for g in got])
        near = np.zeros(len(x), bool)
        for t in (rule["unsure"], rule["reject"]):
            near |= np.abs(scores - t) < SCORE_ATOL
        near |= np.abs(probs.max(1) - rule["p_unsure"]) < SCORE_ATOL
        diff = float(np.abs(js - scores).max())
        print(
            f"\nbrowser vs Python verdicts, {rule['method']} rule, {len(x)} inputs: "
            f"max |score diff| {diff:.1e}; {int(near.sum())} on a threshold"
        )
        for name in sets:
            mine = want[family == name]
            print(f"  {name:20s} " + ", ".join(f"{v} {int((mine == v).sum())}" for v in VERDICTS))
        assert diff <= SCORE_ATOL
        assert verdicts[~near].tolist() == want[~near].tolist()
        assert set(want.tolist()) == set(VERDICTS)  # every branch of the rule, at least once
        if xs is not None:
            assert [g["loops"] for g in got] == [count_loops(a) for a in x]
            # The scribble is judged by its loops: without them it would pass as a digit.
            assert count_loops(x[scribble][0]) > MAX_DIGIT_LOOPS
            assert want[scribble][0] == "not_a_digit"
            assert float(scores[scribble][0]) - LOOP_PENALTY < rule["unsure"]
    # fashion-cnn's detector, published as its pad gets it: its card's rule (no softmax
    # term, no loop penalty) on the same inputs, with the page model's probabilities.
    from ui.canvas import verdict_rule

    fashion = load_classifier("fashion-cnn").judge
    rule = verdict_rule(load_classifier("fashion-cnn"))
    got = page.evaluate(
        "([xs, rule]) => window.digitlens.verdicts(xs, rule)",
        [x.reshape(len(x), -1).tolist(), rule],
    )
    probs = clf.probabilities(x)
    scores = fashion.scores(x, probs)
    js = np.array([g["score"] for g in got], np.float64)
    near = np.abs(scores - rule["unsure"]) < SCORE_ATOL
    near |= np.abs(scores - rule["reject"]) < SCORE_ATOL
    want = [fashion.verdict(float(sc), p, True)[0] for sc, p in zip(scores, probs, strict=True)]
    print(f"fashion-cnn's detector: max |score diff| {float(np.abs(js - scores).max()):.1e}")
    assert float(np.abs(js - scores).max()) <= SCORE_ATOL
    assert [g["verdict"] for g, n in zip(got, near, strict=True) if not n] == [
        w for w, n in zip(want, near, strict=True) if not n
    ]
    assert float(scores[scribble][0]) < LOOP_PENALTY / 2  # three loops, no penalty


def _small_drawing(digit: int, scale: float, pen: int, at: tuple[int, int]) -> np.ndarray:
    """A 280x280 canvas's ink holding `digit` drawn at `scale` of the pad with a `pen`-pixel
    pen (the pad's pen does not shrink with the drawing), its corner at `at`."""
    side = round(280 * scale)
    small = drawn_digit(digit, size=side, width=round(pen / scale))
    canvas = Image.new("L", (280, 280), 0)
    canvas.paste(small, at)
    return np.asarray(canvas)


def test_browser_preprocessing_agrees_with_python(page, streamlit_url):
    """The JS port of the canvas path against model/input/preprocessing.py on drawn digits,
    full size and small, pens of 6 to 40 px: the same inputs (up to a one-pixel centring
    tie), so the same labels. The port had no stroke-width normalisation: a small 7 drawn
    with the pad's pen was read 9 on the page and 7 on the server."""
    clf = load_classifier("mnist-cnn")
    page.goto(streamlit_url)
    wait_ready(page)
    inks = []
    for digit in (0, 1, 4, 7):
        for width in (6, 12, 18, 26, 40):
            for offset in ((0, 0), (-40, 30)):
                inks.append(np.asarray(drawn_digit(digit, width=width, offset=offset)))
        for scale, at in ((0.25, (40, 150)), (0.35, (120, 20)), (0.5, (70, 70))):
            inks.append(_small_drawing(digit, scale, 18, at))
    js, py = [], []
    for ink in inks:
        x = page.evaluate(
            "([b, w, h]) => window.digitlens.preprocessAlpha(b, w, h)",
            [base64.b64encode(ink.tobytes()).decode(), 280, 280],
        )
        rgba = Image.fromarray(np.dstack([np.full(ink.shape + (3,), 255, np.uint8), ink]))
        js.append(np.asarray(x, np.float32).reshape(28, 28))
        py.append(clf.preprocess(rgba))
    js, py = np.stack(js), np.stack(py)
    agree = clf.probabilities(js).argmax(1) == clf.probabilities(py).argmax(1)
    # Centring rounds 14 - centre of mass - 0.5; a perfectly symmetric drawing (the
    # ellipse of a 0) puts that on a tie, where float summation order picks the side:
    # a one-pixel shift is allowed.
    gaps = [
        min(
            float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).max())
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        for a, b in zip(js, py, strict=True)
    ]
    exact = int((np.abs(js - py).reshape(len(js), -1).max(1) <= 1e-6).sum())
    print(
        f"\nJS vs Python preprocessing on {len(js)} drawn digits (pens 6-40 px, and small "
        f"drawings with an 18 px pen): labels agree on {agree.sum()}/{len(js)}; the inputs "
        f"differ by at most {max(gaps):.1e} (up to a one-pixel centring tie), exactly "
        f"equal for {exact}/{len(js)}"
    )
    assert max(gaps) <= 1e-4, [i for i, g in enumerate(gaps) if g > 1e-4]
    assert agree.all()


def _alpha(img: Image.Image) -> np.ndarray:
    """The ink of a canvas image (any of on_canvas' styles) as an (h, w) uint8 alpha."""
    if img.mode == "RGBA":
        return np.asarray(img)[..., 3]
    gray = np.asarray(img.convert("L"))
    return gray if gray[0, 0] < 128 else 255 - gray


def test_browser_refuses_what_python_refuses_as_too_small(page, streamlit_url):
    """The port of `check_size` (edge.mjs `tooSmall`, constants from Python) against
    model/input/preprocessing.py on the canvas: taps and short strokes of training.ood, dots,
    bars and digits of many sizes; the same refusals, for the same reason."""
    from training import negatives as gen
    from ui.canvas import size_rule

    rng = np.random.default_rng(7)
    inks = [_alpha(gen.dot(rng)) for _ in range(8)] + [
        _alpha(gen.short_stroke(rng)) for _ in range(8)
    ]
    for r in (4, 8, 12, 16, 24, 32):
        inks.append(np.asarray(_render([(140, 140), (140, 140)], width=2 * r)))
    for length in (20, 30, 40, 45, 50, 60, 80, 120):
        inks.append(np.asarray(_render([(140, 140 - length / 2), (140, 140 + length / 2)])))
    inks += [np.asarray(drawn_digit(d, width=w)) for d in (0, 1, 4, 7) for w in (10, 20, 30)]
    # A zigzag filling the pad (a helper session's): a filled area, once called a dot.
    inks.append(np.asarray(_render([(30 + 10 * i, 30 if i % 2 else 250) for i in range(23)])))
    page.goto(streamlit_url)
    wait_ready(page)
    # The digit recipe's rule, and a model of filled things' (fashion-cnn: no blob rule).
    for recipe in ("mnist", "fashion"):
        py, js = [], []
        for ink in inks:
            got = page.evaluate(
                "([b, w, h, recipe, rule]) => "
                "window.digitlens.preprocessAlpha(b, w, h, recipe, rule)",
                [
                    base64.b64encode(ink.tobytes()).decode(),
                    *(280, 280, recipe, size_rule(pen=recipe == "mnist")),
                ],
            )
            js.append(got["tooSmall"] if isinstance(got, dict) else "read")
            white = np.full(ink.shape + (3,), 255, np.uint8)
            try:
                preprocess(Image.fromarray(np.dstack([white, ink])), recipe)
                py.append("read")
            except TooSmallError as exc:
                said = str(exc)
                py.append(
                    "stroke" if "short stroke" in said else "blob" if "filled" in said else "dot"
                )
        print(
            f"\ntoo small to read ({recipe}), browser vs Python on {len(inks)} canvas marks: "
            f"Python refuses {sum(p != 'read' for p in py)}, the browser "
            f"{sum(j != 'read' for j in js)}, "
            f"{sum(p == j for p, j in zip(py, js, strict=True))} agree"
        )
        pen_only = {"blob"} if recipe == "fashion" else set()  # a pen's refusal
        assert {"dot", "stroke", "blob", "read"} - pen_only <= set(py)  # each one exercised
        assert not pen_only & set(py)
        assert js == py


def _on_paper(ink: Image.Image, size=(320, 240)) -> Image.Image:
    """White-on-black ink (150 pixels square) as a dark drawing on light paper."""
    w, h = size
    paper = Image.new("L", size, 225)
    paper.paste(ink.point(lambda v: 255 - int(v * 0.85)), ((w - 150) // 2, (h - 150) // 2))
    return paper


def _y4m(path, scenes: list[tuple[Image.Image, int]]) -> None:
    """A camera clip of (grey frame, how many frames) scenes: 4:2:0, 10 fps (it loops)."""
    w, h = scenes[0][0].size
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for frame, n in scenes:
            y = np.asarray(frame, np.uint8).tobytes()
            f.write((b"FRAME\n" + y + bytes([128]) * (w * h // 2)) * n)


def _scribble_ink() -> Image.Image:
    """The three-loop scribble as a 150-pixel-tall drawing (white on black, 150 square)."""
    ink = _render(SCRIBBLE, width=16)
    ink = ink.crop(ink.getbbox())
    ink = ink.resize((round(ink.width * 150 / ink.height), 150))
    square = Image.new("L", (150, 150))
    square.paste(ink, ((150 - ink.width) // 2, 0))
    return square


#: What the camera shows (d: its digit slot) for a reading whose verdict is `verdict`, or
#: null: the slot's text and font size, the line under it, and the reading itself.
CAMERA_LOOK = """(d, verdict) => { const c = window.digitlens?.camera;
  if (!c || c.read < 10 || c.verdict !== verdict) return null;
  return {text: d.textContent, px: parseFloat(getComputedStyle(d).fontSize),
          line: d.parentElement.querySelector('.dl-live-sure').textContent,
          label: c.label, score: c.score, x: Array.from(c.x)}; }"""


def camera_look(page, verdict: str, timeout_s: float = 60.0) -> dict:
    """What the camera shows once it reads a frame with `verdict` (the look and the reading
    are taken in one evaluation: the next frame cannot come between them)."""
    slot = page.locator(".dl-cam-side .dl-live-digit")
    deadline = time.monotonic() + timeout_s
    while (look := slot.evaluate(CAMERA_LOOK, verdict)) is None:
        assert time.monotonic() < deadline, f"no {verdict} reading: {page.evaluate(STATS)}"
        page.wait_for_timeout(50)
    return look


STATS = "() => ({...window.digitlens.camera, x: null})"
#: Record what the camera's aria-live status says, in order.
SAID = """(el) => { window.said = [];
  new MutationObserver(() => window.said.push(el.textContent))
    .observe(el, {childList: true, characterData: true, subtree: true}); }"""


def test_camera_reads_a_fake_video(browser, streamlit_url, tmp_path):
    """A generated clip as the camera: 2 s of a written 7, then 2 s of a three-loop
    scribble (a confident 8 to the classifier). Read in the page, frames counted; the 7
    is a large digit, the scribble gets "not a digit?" in words, no large digit, the
    verdict Python gives the same input (issue #9)."""
    clip = tmp_path / "seven-scribble.y4m"
    seven = drawn_digit(7, size=200, width=16).crop((20, 20, 200, 200)).resize((150, 150))
    _y4m(clip, [(_on_paper(seven), 20), (_on_paper(_scribble_ink()), 20)])
    args = CHROMIUM_ARGS + [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    clf = load_classifier("mnist-cnn")
    # Fake-camera flags are per browser process: a second Chromium from the same driver.
    b = browser.browser_type.launch(executable_path=CHROMIUM, args=args)
    try:
        context, page = open_page(
            b, streamlit_url, viewport={"width": 1280, "height": 800}, permissions=["camera"]
        )
        page.goto(streamlit_url + "/camera")
        page.locator(".dl-cam .dl-sr").evaluate(SAID)  # what a screen reader hears (#24)
        looks = {}
        for verdict in ("digit", "not_a_digit"):
            looks[verdict] = camera_look(page, verdict)
            page.screenshot(path=str(ARTIFACTS / f"camera-{verdict.replace('_', '-')}.png"))
        # A steady reading is said once, politely: not each of the ~10 reads a second.
        page.wait_for_function("() => window.said.includes('7')", timeout=30_000)
        said = page.evaluate("() => window.said")
        stats = page.evaluate(STATS)
        assert all(a != b for a, b in zip(said, said[1:], strict=False)), said
        assert len(said) <= stats["read"] / 5, (said, stats["read"])
        assert page.locator(".dl-stats").text_content().count("frames/s") == 1
        digit, other = looks["digit"], looks["not_a_digit"]
        print(
            f"\ncamera (fake 10 fps clip): {stats['fps']} frames/s read, "
            f"{stats['dropped']} of {stats['frames']} dropped, {stats['ms']:.1f} ms a read; "
            f"the 7: {digit['text']!r} {digit['line']!r} ({digit['px']:.0f} px); the scribble "
            f"(the classifier's {other['label']}): {other['text']!r} {other['line']!r} "
            f"({other['px']:.0f} px), score {other['score']:.1f}"
        )
        assert digit["label"] == "7" and digit["text"] == "7" and digit["px"] >= 48, digit
        # A class name ("Ankle boot", fashion-cnn) is set smaller than a digit's 72 px.
        side = page.locator(".dl-cam-side")
        assert side.get_attribute("data-words") is None
        px = side.evaluate(  # (in one call: no reading can come between)
            "s => { s.dataset.verdict = 'digit'; s.setAttribute('data-words', '');"
            " return getComputedStyle(s.querySelector('.dl-live-digit')).fontSize; }"
        )
        assert px == "32px", px
        assert other["text"] == "not a digit?" and other["px"] < digit["px"] / 2, other
        assert "%" not in other["line"], other
        # The page judged what it read as Python judges the same 28x28 input.
        for look, want in ((digit, "digit"), (other, "not_a_digit")):
            x = np.asarray(look["x"], np.float32).reshape(28, 28)
            pred = clf.to_prediction(clf.probabilities(x[None])[0], x)
            assert pred.verdict == want and abs(pred.ood_score - look["score"]) < SCORE_ATOL
        assert count_loops(np.asarray(other["x"], np.float32).reshape(28, 28)) > MAX_DIGIT_LOOPS
        # Stopped, the camera keeps no reading of a frame that is gone (its verdict, crop
        # and rate stayed beside "camera off").
        page.locator(".dl-cam button:text-is('Stop')").click()
        page.locator(".dl-cam .dl-live-sure:text-is('camera off')").wait_for()
        assert page.locator(".dl-cam .dl-live-digit").text_content() == "–"
        assert page.locator(".dl-stats").text_content() == ""
        assert page.evaluate(STATS)["verdict"] is None
        context.close()
        assert not page.foreign, page.foreign
    finally:
        b.close()


def test_camera_without_a_camera_says_so_in_words(page, streamlit_url):
    """No camera on the machine (this browser has none): it said "no camera: NotFoundError"."""
    page.goto(streamlit_url + "/camera")
    sure = page.locator(".dl-cam .dl-live-sure")
    expect(sure).not_to_have_text("starting the camera…", timeout=30_000)
    said = sure.text_content()
    assert "Error" not in said and said.endswith("."), said
    assert page.locator(".dl-cam button").text_content() == "Try again"


def test_upload_an_image_file(page, streamlit_url, tmp_path):
    path = tmp_path / "zero.png"
    drawn_digit(0).save(path)
    page.goto(streamlit_url + "/upload")
    page.locator("input[type='file']").first.set_input_files(str(path))
    page.locator(".dl-label:text-is('0')").wait_for(timeout=30_000)
    page.get_by_text("Results").wait_for()
    page.locator("[data-testid='stDataFrame'] canvas").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "upload-zero.png"), full_page=True)


def test_a_long_class_name_stays_in_its_column(page, streamlit_url, tmp_path, real_data_dir):
    """fashion-cnn's "Ankle boot": its answer, how sure and the runner-up stay beside the
    picture (a digit's 4.2 rem took two lines and pushed the rest over the chart)."""
    from model.datasets import load_split, locate

    test = load_split(locate("fashion-mnist", real_data_dir), "test")
    boot = tmp_path / "boot.png"
    Image.fromarray(test.images[0]).resize((280, 280)).save(boot)  # an Ankle boot
    page.goto(streamlit_url + "/upload")
    pick_model(page, "fashion-cnn")
    page.get_by_text("Images for fashion-cnn").wait_for()
    page.locator("input[type='file']").first.set_input_files(str(boot))
    label = page.locator(".dl-label:text-is('Ankle boot')")
    label.wait_for(timeout=30_000)
    answer = page.locator(".dl-answer").first
    spill = answer.evaluate("a => a.scrollWidth - a.clientWidth")
    assert spill <= 0, f"the answer runs {spill} px past its column"
    assert label.bounding_box()["height"] < 60  # one line
    # The bars name the classes whole ("T-shi.", "Ankle." were riddles), none cut off.
    names = page.locator(".dl-hist-words .dl-name")
    names.first.wait_for()
    assert names.all_text_contents()[:10] == list(load_classifier("fashion-cnn").class_names)
    cut_off = "e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1"
    assert not any(n.evaluate(cut_off) for n in names.all()[:10])
    page.screenshot(path=str(ARTIFACTS / "upload-fashion.png"), full_page=True)


def test_uploads_are_still_there_after_visiting_another_page(page, streamlit_url, tmp_path):
    """Upload a 0, open Draw, come back: the 0 is read again (Streamlit empties the
    uploader when its page is left); a 7 uploaded then joins it, both stay over another
    visit, and "Forget them" forgets them."""
    zero, seven = tmp_path / "zero.png", tmp_path / "seven.png"
    drawn_digit(0).save(zero)
    drawn_digit(7).save(seven)
    page.goto(streamlit_url + "/upload")
    page.locator("input[type='file']").first.set_input_files(str(zero))
    page.locator(".dl-label:text-is('0')").wait_for(timeout=30_000)
    nav = page.locator("[data-testid='stSidebarNav']")

    def visit_draw_and_return() -> None:
        nav.get_by_text("Draw", exact=True).click()
        wait_ready(page)
        nav.get_by_text("Upload", exact=True).click()
        page.locator("[data-testid='stFileUploader']").wait_for()

    visit_draw_and_return()
    page.get_by_text("Your images from before you left this page: zero.png").wait_for()
    page.locator(".dl-label:text-is('0')").wait_for(timeout=30_000)
    page.locator("input[type='file']").first.set_input_files(str(seven))
    page.locator(".dl-label:text-is('7')").wait_for(timeout=30_000)
    assert page.locator(".dl-label:text-is('0')").count() == 1  # joined, not replaced
    visit_draw_and_return()
    page.get_by_text("this page: zero.png, seven.png").wait_for()
    page.get_by_role("button", name="Forget them").click()
    page.get_by_text("Choose one or more images").wait_for()
    assert page.locator(".dl-label").count() == 0


def test_bad_upload_gets_a_message_not_a_traceback(page, streamlit_url, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    page.goto(streamlit_url + "/upload")
    page.locator("input[type='file']").first.set_input_files(str(bad))
    page.get_by_text("cannot be used").wait_for()
    assert page.locator("text=Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "upload-broken.png"), full_page=True)


def test_other_pages_render_and_load_nothing_from_elsewhere(page, streamlit_url):
    """Every page; the `page` fixture fails the test on any request to another host."""
    for route, text in (("/explain", "SmoothGrad"), ("/model", "What it gets wrong")):
        page.goto(streamlit_url + route)
        page.get_by_text(text).first.wait_for()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / f"page{route.replace('/', '-')}.png"), full_page=True)
        assert page.locator("text=Traceback").count() == 0
        if route == "/explain":  # each method's map at its own size, 10 screen pixels to
            # an input pixel (a 200-pixel map stretched to its 330-pixel column showed them
            # 11 and 12 wide by turns), in a box that fits it (no blank above and below)
            page.wait_for_function(  # (every map in: "SmoothGrad" shows before the last)
                "() => document.querySelectorAll('figure.dl-fig img').length >= 10",
                timeout=60_000,
            )
            fits = page.locator("figure.dl-fig img").evaluate_all(
                "imgs => imgs.slice(1, 10).map(i => [getComputedStyle(i).objectFit,"
                " i.width, i.height, i.naturalWidth, i.naturalHeight])"
            )
            assert len(fits) == 9 and all(f[0] == "contain" for f in fits), fits  # 9 methods
            assert all(f[1:3] == [280, 280] and f[3:] == [280, 280] for f in fits), str(fits)


@pytest.mark.parametrize("launcher", ["digitlens app", "streamlit run"])
def test_first_stroke_after_a_fresh_start_gets_its_maps(browser, launcher):
    """A fresh server, the Draw page opened as soon as it is healthy, a 7 drawn the moment
    the pad is ready: its heatmaps must arrive. Prints mouse-up to heatmap on screen
    (issue #21, item 4: `python -m digitlens app` warms the model up as the server starts;
    `streamlit run app.py` runs no app code before the first page, so it warms up then;
    either way the page shows its pad only once the maps are traced). No timing asserted."""
    from tests.e2e.conftest import DIGITLENS_APP_ARGS, STREAMLIT_ARGS
    from tests.helpers import serving

    args = DIGITLENS_APP_ARGS if launcher == "digitlens app" else STREAMLIT_ARGS
    log = f"first-stroke-{launcher.split()[0]}.log"
    started = time.perf_counter()
    with serving(args, "/_stcore/health", log) as base:
        healthy = time.perf_counter()
        context, page = open_page(browser, base, viewport={"width": 1280, "height": 800})
        try:
            page.goto(base)
            prompt_shown(page)
            wait_ready(page)
            ready = time.perf_counter()
            released = mouse_stroke(page, STROKES[7], expect_live="7")
            server_answer(page, "7", timeout_ms=60_000)
            first = time.perf_counter() - released
            assert page.get_by_text("Grad-CAM on conv3, over your strokes").count() == 1
            page.locator(".dl-clear").click()
            prompt_shown(page)
            released = mouse_stroke(page, STROKES[1], expect_live="1")
            server_answer(page, "1")
            second = time.perf_counter() - released
        finally:
            context.close()
    assert not page.foreign, f"the page requested other hosts: {page.foreign}"
    print(
        f"\nfresh `{launcher}`: server healthy after {healthy - started:.1f} s, pad ready "
        f"{ready - healthy:.1f} s later; mouse-up to heatmap on screen: first stroke "
        f"{first * 1e3:.0f} ms, second {second * 1e3:.0f} ms"
    )


def test_the_network_graph_can_be_read_on_a_phone_and_a_desktop(phone, page, streamlit_url):
    """Left to right on a 390-pixel screen, the graph was shrunk to a third: its names
    ~5 px high (a user test). A phone shows it top to bottom, a desktop left to right."""
    for p, shown, hidden in ((phone, "narrow", "wide"), (page, "wide", "narrow")):
        p.goto(streamlit_url + "/model")
        graph = p.locator(f".st-key-dl-graph-{shown} svg").filter(has_text="conv1").first
        graph.wait_for(timeout=90_000)
        assert not p.locator(f".st-key-dl-graph-{hidden}").is_visible()
        name = graph.locator("text", has_text="conv1").first
        assert name.bounding_box()["height"] >= 11, name.bounding_box()  # (14 pt, as drawn)
        p.screenshot(path=str(ARTIFACTS / f"model-graph-{shown}.png"), full_page=True)
