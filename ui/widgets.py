"""Rendering helpers: predictions, histograms, heatmaps and preprocessing stages."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import streamlit as st
from PIL import Image, ImageOps

from model import Prediction
from model.input.preprocessing import Preprocessed
from model.prediction import format_probability
from model.why.attribution import METHODS, Explanation
from model.why.overlay import HEATMAP_CMAP, OVERLAY_FLOOR, OVERLAY_OPACITY, overlay


def enlarge(a: np.ndarray, size: int = 140) -> Image.Image:
    """A small map (floats in [0, 1] or uint8) shown large with crisp pixels."""
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).astype(np.uint8)
    img = Image.fromarray(a)
    scale = size / max(img.size)
    return img.resize(
        (max(round(img.width * scale), 1), max(round(img.height * scale), 1)),
        Image.Resampling.NEAREST,
    )


def inline_image(
    img: np.ndarray | Image.Image,
    caption: str,
    width: int | str,
    fmt: str = "PNG",
    alt: str | None = None,
) -> None:
    """An image sent inside the page update itself (a data URL), not fetched afterwards.

    `st.image` serves pictures from a media endpoint that the browser requests after
    the update arrives: an extra round trip that the draw loop does not need.
    alt: the text alternative, where the caption alone does not say what the picture shows
    (a map: `model.why.describe`); the caption by default.
    """
    pil = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img))
    buf = io.BytesIO()
    if fmt == "JPEG":
        pil.convert("RGB").save(buf, "JPEG", quality=90)
    else:
        pil.save(buf, "PNG", compress_level=1)
    data = base64.b64encode(buf.getvalue()).decode()
    st.markdown(
        f"<figure class='dl-fig'><img src='data:image/{fmt.lower()};base64,{data}' "
        f"style='width:{width if isinstance(width, str) else f'{width}px'}; max-width:100%' "
        f"alt='{html.escape(alt or caption)}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>",
        unsafe_allow_html=True,
    )


#: Bars in the log view start at this probability: a confident digit's other classes
#: sit between 1e-14 and 1e-4, so twelve decades show most of them.
LOG_FLOOR = 1e-12
VERDICT_TITLES = {"unsure": "Not sure", "not_a_digit": "Not a digit"}


def label_angle(labels) -> int:
    """The angle of a chart's axis labels: upright for digits, slanted for class names
    ("Ankle boot" upright ran into its neighbours)."""
    return 0 if max(map(len, map(str, labels)), default=0) <= 2 else -40


def prediction_header(pred: Prediction, class_names: tuple[str, ...] | None = None) -> None:
    """The answer: a large label only for a plain `digit` verdict, else the verdict in words.

    The runner-up is named too (class names from `class_names`, or the digit itself),
    so a "> 99.9 %" answer still says what came second.
    """
    runner = int(np.argsort(pred.probabilities)[::-1][1])
    names = class_names or (tuple(str(d) for d in range(10)) if pred.class_name.isdigit() else None)
    runner_up = (
        f"<span class='dl-runner'>runner-up: {html.escape(names[runner])} "
        f"({format_probability(float(pred.probabilities[runner]))})</span>"
        if names
        else ""
    )
    if pred.verdict == "digit":
        # A class name ("Ankle boot") in smaller type than a digit: at a digit's size it
        # took two lines and pushed the line beside it over the chart.
        label = "dl-label" if len(pred.class_name) <= 2 else "dl-label dl-word"
        st.markdown(
            f"<div class='dl-answer'><span class='{label}'>{html.escape(pred.class_name)}</span>"
            f"<span class='dl-prob'>{format_probability(pred.probability)} sure</span>"
            f"{runner_up}</div>",
            unsafe_allow_html=True,
        )
        return
    title = VERDICT_TITLES.get(pred.verdict, pred.verdict)
    if pred.verdict == "not_a_digit" and pred.class_name and not pred.class_name.isdigit():
        title = "Not something this model knows"
    guess = f"closest: {html.escape(pred.class_name)} ({format_probability(pred.probability)})"
    st.markdown(
        f"<div class='dl-answer dl-{pred.verdict}'><span class='dl-verdict'>{title}</span>"
        f"<span class='dl-prob'>{guess}</span></div>"
        f"<div class='dl-reason'>{html.escape(pred.reason or '')}</div>",
        unsafe_allow_html=True,
    )


def probability_chart(
    pred: Prediction,
    class_names: tuple[str, ...],
    height: int = 200,
    log: bool = False,
    narrow: bool = False,
) -> None:
    """The probability of each class as bars, the winner highlighted.

    `log=True` draws bar heights on a log scale from 10^-12 to 1, so the runner-up and
    the small probabilities show (on a linear scale a 99.9 % answer hides them all).
    `narrow`: a chart in a third of the page labels its winner only (the others' labels
    ran into each other: "2%25%14%12%"); every bar's tooltip has its probability.
    Plain HTML rather than a chart library: it renders in the same frame as the
    rest of the page, which keeps the draw loop instant.
    """
    bars = []
    floor = np.log10(LOG_FLOOR)
    for i, (name, p) in enumerate(zip(class_names, pred.probabilities, strict=True)):
        p = float(p)
        cls = "dl-bar dl-win" if i == pred.label else "dl-bar"
        if pred.verdict != "digit" and i == pred.label:
            cls = "dl-bar dl-doubt"
        level = (np.log10(max(p, LOG_FLOOR)) - floor) / -floor if log else p
        # A bar under 1 % on the linear scale goes unlabelled (its tooltip has it): nine
        # "<1%" side by side ran into each other in a narrow column ("<1%98%").
        label = format_probability(p, 0).replace(" ", "") if log or p >= 0.005 else ""
        label = "" if narrow and i != pred.label else label
        bars.append(
            f"<div class='dl-col' title='{html.escape(name)}: {format_probability(p, 2)}'>"
            f"<div class='dl-pct'>{html.escape(label)}</div>"
            f"<div class='dl-track'><div class='{cls}' style='height:{max(level * 100, 0.5):.1f}%'>"
            f"</div></div><div class='dl-name'>{html.escape(name)}</div></div>"
        )
    scale = "log scale, 10<sup>-12</sup> to 1" if log else ""
    # Names, not digits, under the bars: whole and upright, the chart taller by as much
    # (cut to "T-shi." and "Trous." they were riddles, a user test).
    words = label_angle(class_names) != 0
    hist = "dl-hist dl-hist-words" if words else "dl-hist"
    height += NAMES_HEIGHT if words else 0
    st.markdown(
        f"<div class='{hist}' style='height:{height}px' role='img' "
        f"aria-label='class probabilities{', log scale' if log else ''}'>{''.join(bars)}</div>"
        + (f"<div class='dl-scale'>{scale}</div>" if log else ""),
        unsafe_allow_html=True,
    )


#: The height of a chart's upright class names ("T-shirt/top", "Ankle boot"), in pixels
#: (CSS's `.dl-hist-words .dl-name` is 4 less, its margin).
NAMES_HEIGHT = 80
#: Models with more classes than this show their top-k as a list of bars.
TOP_K_CHART_ABOVE = 10


def topk_chart(pred: Prediction, class_names: tuple[str, ...], k: int = 5) -> None:
    """The k most probable classes as horizontal bars, the winner highlighted (for models
    with many classes, where a bar per class cannot be read)."""
    from model.prediction import top_k

    rows = []
    for t in top_k(pred.probabilities, k, class_names):
        cls = "dl-bar dl-win" if t.label == pred.label else "dl-bar"
        name = html.escape(t.class_name)
        rows.append(
            f"<div class='dl-row' title='{name}: {format_probability(t.probability, 2)}'>"
            f"<div class='dl-rname'>{name}</div><div class='dl-rtrack'><div class='{cls}' "
            f"style='height:100%; width:{max(t.probability * 100, 0.5):.1f}%'></div></div>"
            f"<div class='dl-pct'>{format_probability(t.probability)}</div></div>"
        )
    st.markdown(
        f"<div class='dl-topk' role='img' aria-label='top {k} classes'>{''.join(rows)}</div>",
        unsafe_allow_html=True,
    )


def class_chart(
    pred: Prediction,
    class_names: tuple[str, ...],
    height: int = 200,
    log: bool = False,
    narrow: bool = False,
) -> None:
    """A bar per class for up to 10 classes (linear or log scale), else the top 5."""
    if len(class_names) > TOP_K_CHART_ABOVE:
        topk_chart(pred, class_names)
    else:
        probability_chart(pred, class_names, height, log=log, narrow=narrow)


def heatmap_views(
    e: Explanation, size: int = 280, opacity: float = OVERLAY_OPACITY
) -> tuple[np.ndarray, np.ndarray]:
    """(overlay on the user's own image at full size, overlay on the model input).

    The whole map is projected back onto the user's image (nothing outside the
    ink's box is dropped); `opacity` is how strongly the strongest evidence shows.
    """
    # A photo's model input is scaled (e.g. -1..1 or caffe): show the pixels it came from.
    seen = getattr(e.stages, "resized", None)
    shown = e.x if seen is None else (seen[..., 0] if seen.shape[-1] == 1 else seen)
    on_input = overlay(np.asarray(enlarge(shown, size)), e.heatmap, alpha=opacity)
    if e.stages is None:
        return on_input, on_input
    return overlay(e.stages.original, e.heatmap_original, alpha=opacity), on_input


#: Colour bar size in pixels (width x height).
COLOUR_BAR_HW = (14, 256)


def colour_bar(
    cmap: str = HEATMAP_CMAP, width: int = COLOUR_BAR_HW[1], height: int = COLOUR_BAR_HW[0]
):
    """A horizontal colour bar for the overlays: (height, width, 3) uint8, weak -> strong.

    The part under OVERLAY_FLOOR is grey: that evidence is not drawn on the image.
    """
    from matplotlib import colormaps

    ramp = np.linspace(0.0, 1.0, width)
    rgb = colormaps[cmap](ramp)[:, :3] * 255
    rgb[ramp < OVERLAY_FLOOR] = 128
    return np.repeat(rgb[None].round().astype(np.uint8), height, axis=0)


def map_caption(e: Explanation) -> str:
    """What the map shows, at which resolution, in words."""
    where = f" on {e.layer}" if e.layer else ""  # (the method's title, not its id)
    title = METHODS[e.method].title if e.method in METHODS else e.method
    return f"{e.question[0].upper()}{e.question[1:]} {title}{where} · {e.resolution}"


def colour_legend(cmap: str = HEATMAP_CMAP) -> None:
    """The colour bar with its meaning, under a row of maps."""
    # Inline (a data URL), like the maps: it arrives in the same update, never fetched later.
    inline_image(
        colour_bar(cmap),
        f"weak → strong evidence, relative to the map's peak; below {OVERLAY_FLOOR:.0%} of the "
        "peak (grey) is not drawn",
        COLOUR_BAR_HW[1],
    )


def curves_alt(history: dict[str, list[float]]) -> str:
    """The training curves in words, for their text alternative."""
    words = "training curves: loss and accuracy per epoch, training and validation"
    val = history.get("val_accuracy") or []
    if val:
        best = int(np.argmax(val))
        words += (
            f"; over {len(val)} epochs validation accuracy ends at {val[-1]:.2%}"
            f" (best {val[best]:.2%}, epoch {best + 1})"
        )
    return words


STAGE_TITLES = ("your image", "ink found", "ink kept", "cropped", "fitted", "model input")
#: Each stage's picture is framed (pixels, colour): a mid grey, apart from white ink and
#: from the white page.
STAGE_FRAME, STAGE_FRAME_RGB = 2, (128, 128, 128)


def stage_picture(img: np.ndarray, size: int) -> Image.Image:
    """One preprocessing stage ((h, w) floats or uint8: its longest side `size` pixels; or
    (h, w, 3) uint8: `size` wide), framed: the crop is the ink's own box, and its ink,
    flush with the edge, ran into the white page (a 7's bar looked cut off, a user test).
    Centred on a transparent square, so that every stage is shown at one scale in its
    column: a 1's tall crop was drawn three times the others' height (a user test)."""
    shown = (
        enlarge(img, size)
        if img.ndim == 2
        else Image.fromarray(img).resize((size, max(round(size * img.shape[0] / img.shape[1]), 1)))
    )
    framed = ImageOps.expand(shown.convert("RGB"), STAGE_FRAME, fill=STAGE_FRAME_RGB)
    side = max(size + 2 * STAGE_FRAME, *framed.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(framed, ((side - framed.width) // 2, (side - framed.height) // 2))
    return square


def inspector(s: Preprocessed, size: int = 110) -> None:
    """The preprocessing stages from the raw image to the 28x28 model input."""
    stages = (s.original, s.ink, s.mask.astype(np.float32), s.cropped, s.fitted, s.x)
    cols = st.columns(len(stages))
    for col, title, img in zip(cols, STAGE_TITLES, stages, strict=True):
        col.image(stage_picture(img, size), caption=title, alt=f"preprocessing stage: {title}")
    st.caption(
        f"Polarity: {s.polarity}. Recipe: {s.recipe} "
        + (
            "(fit 20x20, centre of mass at the centre of 28x28)."
            if s.recipe == "mnist"
            else "(longest side to 28, box centred)."
        )
    )


CSS = """
<style>
.dl-answer {display:flex; flex-wrap:wrap; align-items:baseline; column-gap:1rem; row-gap:0.3rem;
            margin:0.2rem 0 0.4rem 0;}
.dl-answer > span {min-width:0; overflow-wrap:anywhere;}
.dl-label {font-size:4.2rem; font-weight:700; line-height:1;}
.dl-label.dl-word {font-size:2.2rem; line-height:1.1;}
.dl-prob {font-size:1.3rem; color:#52606d;}
.dl-runner {font-size:0.95rem; color:#6b7280;}
.dl-verdict {font-size:2rem; font-weight:700; line-height:1.1;}
.dl-unsure .dl-verdict {color:#b7791f;} .dl-not_a_digit .dl-verdict {color:#9b2c2c;}
.dl-reason {font-size:1rem; color:#374151; margin-bottom:0.4rem;}
.dl-bar.dl-doubt {background:#d69e2e;}
.dl-scale {font-size:0.72rem; color:#6b7280; text-align:right;}
.block-container {padding-top:2.2rem; padding-left:2rem; padding-right:2rem; max-width:none;}
.dl-hist {display:flex; gap:6px; align-items:stretch; margin-top:0.4rem;}
.dl-col {flex:1; display:flex; flex-direction:column; align-items:center; min-width:0;}
.dl-pct {font-size:0.72rem; color:#52606d; height:1.1rem;}
.dl-track {flex:1; width:100%; display:flex; align-items:flex-end; background:#f3f4f6;
           border-radius:3px;}
.dl-bar {width:100%; background:#9aa5b1; border-radius:3px 3px 0 0;}
.dl-win {background:#b93c16;}
.dl-fig {margin:0;} .dl-fig img {display:block; image-rendering:pixelated; border-radius:2px;}
/* (Streamlit scales a markdown image down only: one smaller than its box sat in the middle
   of it, a 200-pixel map in a 330-pixel square, a 28-pixel upload at 28 pixels) */
figure.dl-fig img {object-fit:contain;}
.dl-fig figcaption {font-size:0.85rem; color:#6b7280; margin-top:0.3rem;}
.dl-name {font-size:0.8rem; margin-top:3px; white-space:nowrap;}
.dl-hist-words .dl-name {writing-mode:vertical-rl; transform:rotate(180deg); height:76px;
                    text-align:end; font-size:0.75rem; overflow:hidden; text-overflow:ellipsis;}
.dl-topk {display:flex; flex-direction:column; gap:4px; margin-top:0.4rem;}
.dl-row {display:flex; align-items:center; gap:8px;}
.dl-rname {width:40%; font-size:0.85rem; overflow:hidden; text-overflow:ellipsis;
           white-space:nowrap;}
.dl-rtrack {flex:1; height:14px; background:#f3f4f6; border-radius:3px;}
/* Issue #24 (WCAG 2.2 AA, checked by axe-core in tests/e2e/test_accessibility_browser.py):
   captions dark enough to read (Streamlit draws them at opacity 0.6: 3.9:1 on white, 3.8:1
   in the sidebar; 0.8 gives 7.2:1 and 6.9:1); a focus ring that only the keyboard shows;
   no motion (Streamlit's spinners, slide-ins) for those who asked for none. */
[data-testid="stCaptionContainer"] {opacity:0.8;}
/* Streamlit's sidebar page links show no focus at all. Text inputs are left alone: they
   match :focus-visible on a mouse click too, and Streamlit marks them with their border. */
:is(a, button, summary, input[type="range"], [tabindex]:not(input)):focus-visible
  {outline:2px solid #b93c16 !important; outline-offset:2px;}
/* The "What would make it a ...?" buttons wrap on a phone, where Streamlit stacks columns
   one a row, instead of stacking (a user test: nine rows, ~900 px to scroll). */
/* The network's graph runs top to bottom on a phone: left to right it was shrunk to a
   third of its size, its names unreadable (a user test). */
.st-key-dl-graph-narrow {display:none !important;}
@media (max-width: 640px) {
  .st-key-dl-graph-wide {display:none !important;}
  .st-key-dl-graph-narrow {display:flex !important;}
  [class*="st-key-dl-targets"] [data-testid="stHorizontalBlock"]
    {flex-direction:row !important; flex-wrap:wrap !important; gap:0.4rem !important;}
  [class*="st-key-dl-targets"] [data-testid="stColumn"]
    {flex:1 1 4.5rem !important; min-width:4.5rem !important; width:auto !important;}
}
/* After Clear (the pad marks the page, ui/web/draw.js) the Draw page's answer box shows
   only its prompt: the old drawing's answer and maps stayed, greyed, until the rerun ended
   (0.4-1 s, a user test). Opacity too: the pictures inside set their own visibility; no
   transition: Streamlit fades stale elements after a delay. An expander (the preprocessing
   inspector) is a block, not an element container: it is named too. */
html[data-dl-cleared] .st-key-dl-draw-answer :is([data-testid="stElementContainer"],
  [data-testid="stExpander"]):not(:has([data-testid="stAlert"]))
  {opacity:0 !important; visibility:hidden; transition:none !important; pointer-events:none;}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after {animation-duration:0.01ms !important;
    animation-iteration-count:1 !important; transition-duration:0.01ms !important;
    scroll-behavior:auto !important;}
}
</style>
"""


def style() -> None:
    st.markdown(CSS, unsafe_allow_html=True)
