"""`report.html`: one self-contained page that says where the model is wrong, unsure, or
explained by a map that cannot be trusted. Images and plots are inline (data URIs):
the page loads nothing from anywhere, so it opens offline and can be mailed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.audit.figures import atlas_plot, plot, png, to_display
from model.classifier import are_digits
from model.judge.verdict import VERDICT_WORDS
from model.prediction import format_probability
from model.why.index import K
from model.why.overlay import overlay

if TYPE_CHECKING:
    from model.why.atlas import Atlas

#: Inputs shown in each gallery.
GALLERY = 12
#: Unreadable inputs listed.
ERRORS_LISTED = 50

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1a1a1a}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;padding:.2rem .5rem}
th{background:#eee}.grid{display:flex;flex-wrap:wrap;gap:.6rem}
figure{margin:0;width:11rem;font-size:13px;overflow-wrap:anywhere}
figure img{image-rendering:pixelated}
.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def _evidence(
    t: dict[str, np.ndarray],
    read: np.ndarray,
    wrong: np.ndarray,
    verdicts: np.ndarray,
    class_names: list[str],
    inputs: Callable[[str, int], np.ndarray | None],
    map_shape: tuple[int, int],
    atlas: Atlas | None,
) -> str:
    """Where the inputs sit among the training digits, and those whose look-alikes
    disagree with the answer (deep kNN's low credibility)."""
    agree = np.asarray(t["lookalikes_agree"], np.float64)
    xy = np.stack([np.asarray(t["atlas_x"], np.float64), np.asarray(t["atlas_y"], np.float64)], 1)
    placed = read & np.isfinite(agree)
    digits = are_digits(class_names)
    parts = [f"<h2>Among the training {'digits' if digits else 'images'}</h2>"]
    if atlas is not None and placed.any():
        refused = verdicts == "not_a_digit"
        label = np.asarray(t["label"], np.int64)[placed]
        src = atlas_plot(atlas, xy[placed], label, wrong[placed], refused[placed], class_names)
        alt = (
            f"{int(placed.sum())} inputs placed on the atlas of the training set; "
            f"{int((wrong & placed).sum())} read wrong, {int((refused & placed).sum())} "
            f"judged {VERDICT_WORDS[digits]['not_a_digit']}"
        )
        parts.append(f'<p><img src="{src}" alt="{html.escape(alt)}"></p>')
    low = placed & (agree < 0.5)
    parts.append(
        f"<p>The look-alikes of {int(low.sum())} of the {int(placed.sum())} inputs read "
        f"({_pct(int(low.sum()), int(placed.sum()))}) mostly carry another label than the "
        "answer: the training set does not back those answers.</p>"
    )
    ranked = np.flatnonzero(low)
    ranked = ranked[np.argsort(agree[ranked], kind="stable")]
    parts.append(
        _gallery(
            "Answers their look-alikes do not back",
            ranked,
            t,
            inputs,
            map_shape,
            lambda i: (
                f"read {t['class_name'][i]}; {round(agree[i] * K)} of its {K} look-alikes agree"
            ),
        )
    )
    return "\n".join(parts)


def _numbers(t: dict[str, np.ndarray], read: np.ndarray) -> str:
    """How the inputs read as written numbers: the share of each verdict, then what each
    input read (an unsure digit is marked "?"), the numbers not sure first, with the
    reason for a refusal (the list showed only those: never what was read)."""
    verdict = np.array([str(v) for v in t["number_verdict"]], dtype=object)
    n = int(read.sum())
    shares = _shares(verdict[read], n)
    shown = np.flatnonzero(read)
    shown = shown[np.argsort(verdict[shown] == "digit", kind="stable")]  # not sure first

    def why(i: int) -> str:
        if verdict[i] == "digit":
            return "sure of every digit"
        return str(t["number_refusal"][i] or "a digit is unsure")

    rows = "".join(
        f"<tr><td>{html.escape(_name(str(t['path'][i]), int(t['frame'][i])))}</td>"
        f"<td>{html.escape(str(t['number'][i] or '–'))}</td>"
        f"<td>{html.escape(why(i))}</td></tr>"
        for i in shown[:ERRORS_LISTED]
    )
    more = _more_than_listed(len(shown))
    listed = (
        f"<table><tr><th>input</th><th>number</th><th>how sure</th></tr>{rows}</table>{more}"
        if len(shown)
        else ""
    )
    return (
        "<h2>Read as numbers</h2><table><tr><th>every digit</th><th>inputs</th>"
        f"<th>share</th></tr>{shares}</table>{listed}"
    )


def _shares(verdicts: np.ndarray, n: int, digits: bool = True) -> str:
    """Table rows: each verdict, how many of `verdicts` it is, and its share of n; for a
    model of other things (not `digits`) in its words (`VERDICT_WORDS`)."""
    counts = [(v, int((verdicts == v).sum())) for v in ("digit", "unsure", "not_a_digit")]
    said = {v: v if digits else VERDICT_WORDS[False][v] for v, _ in counts}
    return "".join(
        f"<tr><td>{said[v]}</td><td class='num'>{k}</td><td class='num'>{_pct(k, n)}</td></tr>"
        for v, k in counts
    )


def _more_than_listed(n: int) -> str:
    """What a list cut at ERRORS_LISTED rows says under it: how many more there are."""
    return f"<p>… and {n - ERRORS_LISTED} more.</p>" if n > ERRORS_LISTED else ""


def _pct(k: int, n: int) -> str:
    """A count's share, HTML-escaped: exactly "0 %" and "100 %" where it is none or all
    of them, and never "0.0 %" for 2 in 10,000 (model.prediction's rounding)."""
    if not n:
        return "–"
    if k in (0, n):
        return f"{100 * k // n} %"
    return html.escape(format_probability(k / n))


def _name(path: str, frame: int) -> str:
    return path if frame < 0 else f"{path} (frame {frame})"


def _short(path: str, frame: int) -> str:
    """The file's own name (the full path is in the image's title)."""
    return _name(Path(path).name, frame)


def _gallery(
    title: str,
    idx: np.ndarray,
    t: dict[str, np.ndarray],
    inputs: Callable[[str, int], np.ndarray | None],
    map_shape: tuple[int, int],
    caption: Callable[[int], str],
) -> str:
    if not len(idx):
        return f"<h2>{html.escape(title)}</h2><p>None.</p>"
    items = []
    for i in idx[:GALLERY]:
        path, frame = str(t["path"][i]), int(t["frame"][i])
        x = inputs(path, frame)
        pictures = ""
        if x is not None:
            shown = to_display(x)
            alt = f"input {_name(path, frame)}"
            pictures += f'<img src="{png(shown)}" alt="{html.escape(alt)}">'
            m = t.get("map")
            if m is not None and m[i] is not None:
                heat = np.frombuffer(m[i], np.uint8).reshape(map_shape) / 255.0
                over = overlay(shown, heat)
                alt = f"{t['method'][i]} map for {t['class_name'][i]}"
                pictures += f'<img src="{png(over)}" alt="{html.escape(alt)}">'
        items.append(
            f'<figure title="{html.escape(_name(path, frame))}">{pictures}<figcaption>'
            f"{html.escape(caption(int(i)))}<br><small>{html.escape(_short(path, frame))}</small>"
            "</figcaption></figure>"
        )
    return f'<h2>{html.escape(title)}</h2><div class="grid">{"".join(items)}</div>'


def _confusion(true: np.ndarray, pred: np.ndarray, names: list[str]) -> str:
    k = len(names)
    m = np.zeros((k, k), int)
    for a, b in zip(true, pred, strict=True):
        if 0 <= a < k and 0 <= b < k:
            m[a, b] += 1
    peak = max(int(m.max()), 1)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for a in range(k):
        cells = []
        for b in range(k):
            shade = 255 - int(150 * m[a, b] / peak)
            colour = f"rgb({shade},{shade},255)" if a == b else f"rgb(255,{shade},{shade})"
            cells.append(f'<td class="num" style="background:{colour}">{m[a, b]}</td>')
        rows.append(f"<tr><th>{html.escape(names[a])}</th>{''.join(cells)}</tr>")
    return "<table><tr><th>true \\ read</th>" + head + "</tr>" + "".join(rows) + "</table>"


def render(
    t: dict[str, np.ndarray],
    meta: dict[str, str],
    class_names: list[str],
    inputs: Callable[[str, int], np.ndarray | None],
    map_shape: tuple[int, int],
    atlas: Atlas | None = None,
) -> str:
    """The HTML page of an audit table (the columns of `predictions.parquet`); with the
    evidence columns and the model's atlas, where the inputs sit among the training set."""
    n = len(t["path"])
    failed = np.array([e is not None for e in t["error"]], bool)
    read = ~failed
    verdicts = np.array([str(v) for v in t["verdict"]], dtype=object)
    digits = are_digits(class_names)  # a model of digits: its words
    parts = [f"<h1>DigitLens audit: {html.escape(meta.get('model', ''))}</h1>"]
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in meta.items()
    )
    parts.append(f"<table>{facts}</table>")
    shares = _shares(verdicts, n, digits)
    parts.append(
        "<h2>Answers</h2><table><tr><th>verdict</th><th>inputs</th><th>share</th></tr>"
        f"{shares}<tr><td>unreadable</td><td class='num'>{int(failed.sum())}</td>"
        f"<td class='num'>{_pct(int(failed.sum()), n)}</td></tr></table>"
    )
    prob = np.asarray(t["probability"], np.float64)
    ood = np.asarray(t["ood_score"], np.float64)
    if read.any():
        like = "a digit" if digits else "its training data"
        parts.append(
            f'<p><img src="{plot(prob[read], "probability of the answer")}" '
            'alt="histogram of the probability of each answer"> '
            f'<img src="{plot(ood[read], "ood score (higher: less like " + like + ")")}" '
            'alt="histogram of the out-of-distribution score"></p>'
        )
    label = np.asarray(t["label"], np.int64)
    wrong = np.zeros(n, bool)
    if "true_label" in t:
        true = np.asarray(t["true_label"], np.int64)
        known = read & (true >= 0)
        right = known & (label == true)
        wrong = known & (label != true)
        as_digit = known & (verdicts == "digit")
        parts.append(
            "<h2>Accuracy</h2><table>"
            f"<tr><th>read right (of the labelled inputs read)</th>"
            f"<td class='num'>{_pct(int(right.sum()), int(known.sum()))}</td></tr>"
            f"<tr><th>right among those answered <i>digit</i></th>"
            f"<td class='num'>{_pct(int((right & as_digit).sum()), int(as_digit.sum()))}</td></tr>"
            f"<tr><th>labelled inputs read</th><td class='num'>{int(known.sum())}</td></tr>"
            "</table><h3>Confusion</h3>" + _confusion(true[known], label[known], class_names)
        )
        mistakes = np.flatnonzero(wrong)
        mistakes = mistakes[np.argsort(-prob[mistakes], kind="stable")]
        parts.append(
            _gallery(
                "The most confident mistakes",
                mistakes,
                t,
                inputs,
                map_shape,
                lambda i: (
                    f"read {t['class_name'][i]} ({format_probability(float(prob[i]))}), "
                    f"is {class_names[true[i]] if 0 <= true[i] < len(class_names) else true[i]}"
                ),
            )
        )
    if "trust" in t:
        trust = np.asarray(t["trust"], np.float64)
        ranked = np.flatnonzero(read & np.isfinite(trust))
        ranked = ranked[np.argsort(trust[ranked], kind="stable")]
        parts.append(
            _gallery(
                "The least trustworthy maps",
                ranked,
                t,
                inputs,
                map_shape,
                lambda i: f"{t['method'][i]}: trust {trust[i]:+.2f} ({t['trust_verdict'][i]})",
            )
        )
    if "number" in t:
        parts.append(_numbers(t, read))
    if "lookalikes_agree" in t:
        parts.append(_evidence(t, read, wrong, verdicts, class_names, inputs, map_shape, atlas))
    refused = verdicts == "not_a_digit"
    numbers = 0
    if "number" in t:  # (several digits are no single digit: they are read as numbers above)
        several = np.array([sum(c.isdigit() for c in str(x or "")) > 1 for x in t["number"]])
        numbers = int((refused & several).sum())
        refused &= ~several
    refused = np.flatnonzero(refused)
    refused = refused[np.argsort(-ood[refused], kind="stable")]
    said = VERDICT_WORDS[digits]["not_a_digit"]
    parts.append(
        _gallery(
            f"Judged {said}",
            refused,
            t,
            inputs,
            map_shape,
            lambda i: f"{said} (ood {ood[i]:.2f}); would read {t['class_name'][i]}",
        )
    )
    if numbers:  # (counted in the answers above as single digits)
        parts.append(
            f"<p>{numbers} more input{'s' * (numbers != 1)} judged {said} as one digit "
            "read as a number of several digits: see <i>Read as numbers</i>.</p>"
        )
    # The inputs it would not answer outright, least sure first (the report counted them
    # and never showed one).
    doubted = np.flatnonzero(verdicts == "unsure")
    doubted = doubted[np.argsort(prob[doubted], kind="stable")]
    parts.append(
        _gallery(
            "Unsure",
            doubted,
            t,
            inputs,
            map_shape,
            lambda i: (
                f"unsure: most like {t['class_name'][i]} ({format_probability(float(prob[i]))})"
            ),
        )
    )
    errors = np.flatnonzero(failed)
    if len(errors):
        rows = "".join(
            f"<tr><td>{html.escape(_name(str(t['path'][i]), int(t['frame'][i])))}</td>"
            f"<td>{html.escape(str(t['error'][i]))}</td></tr>"
            for i in errors[:ERRORS_LISTED]
        )
        more = _more_than_listed(len(errors))
        parts.append(
            f"<h2>Unreadable inputs ({len(errors)})</h2><table><tr><th>input</th>"
            f"<th>why</th></tr>{rows}</table>{more}"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>DigitLens audit</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
