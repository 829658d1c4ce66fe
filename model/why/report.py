"""One report per explanation: the map, its overlay, its trust and the card's sanity check.

The CLI, the server and the Explain page all call `report()`, so they show the
same numbers:

    from model import load_classifier
    from model.why.report import report
    r = report(load_classifier("mnist-cnn"), "seven.png", contrast=1)
    r.trust.verdict, r.sanity, r.to_dict()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from model.input.decode import ImageInput
from model.input.preprocessing import Preprocessed
from model.why.attribution import Explanation, explain, is_stages
from model.why.choice import observe
from model.why.overlay import OVERLAY_OPACITY, overlay
from model.why.trust import Trust, trust_maps

if TYPE_CHECKING:
    from model.classifier import Classifier

#: Side of the overlay drawn on the model input when there is no original image.
INPUT_OVERLAY_SIDE = 280


@dataclass(frozen=True)
class Report:
    """An explanation with everything needed to judge it."""

    explanation: Explanation
    overlay: np.ndarray  # (H, W, 3) uint8: the map over the original image (or the input)
    trust: Trust | None  # None only in a draft (`reports(..., judged=False)`), until `judge`
    sanity: dict[str, Any] | None  # {"pass", "rank_r_all", "rank_r_ink"}; None: not measured

    @property
    def sanity_text(self) -> str:
        """ "sanity check: pass (r = 0.04)" in words, or that it was not run."""
        s = self.sanity
        if s is None:
            return "sanity check: not run for this model (python -m training.sanity)"
        verdict = "pass" if s["pass"] else "FAIL"

        def r(v: float) -> str:  # (+ 0.0: a -0.001 is "+0.00", not "-0.00")
            return f"{round(float(v), 2) + 0.0:+.2f}"

        # Measured once per model and method (its card), not on this input: said so, as
        # the same figures under every drawing read like a result of each.
        # What it asks, in words: beside "worse than the input itself" a bare "pass" read as
        # a contradiction (a user test); the two ask different questions.
        what = (
            "the map changes when the model's weights are randomised: it shows the model"
            if s["pass"]
            else "the map stays alike when the model's weights are randomised: it may show "
            "the input more than the model"
        )
        return (
            f"sanity check: {verdict}, {what} (of this method on this model, measured once: "
            f"rank r with the randomised model {r(s['rank_r_all'])} over all pixels, "
            f"{r(s['rank_r_ink'])} on the ink)"
        )

    def to_dict(self) -> dict:
        """JSON-ready: the explanation's facts, its trust and its sanity check."""
        return {
            **self.explanation.to_dict(),
            "trust": None if self.trust is None else self.trust.to_dict(),
            "sanity": self.sanity,
        }


def sanity_for(clf: Classifier, method: str, layer: str | None) -> dict[str, Any] | None:
    """The card's sanity result for this method and layer (without its cascade)."""
    from model.why.sanity import key

    found = clf.card.sanity_methods.get(key(method, layer))
    if found is None:
        return None
    return {k: found[k] for k in ("pass", "rank_r_all", "rank_r_ink")}


def _as_source(clf: Classifier, source: ImageInput | Preprocessed) -> Preprocessed | np.ndarray:
    """Stages as they are; a model-format array (the input's shape) as it is; else preprocess."""
    if is_stages(source):
        return source
    if isinstance(source, np.ndarray) and source.dtype != np.uint8:
        shape = tuple(int(d) for d in clf.net.inputs[0].shape[1:])
        if source.size == int(np.prod(shape)) and source.shape[:2] == shape[:2]:
            return source
    return clf.preprocess_stages(source)


def _to_unit(x: np.ndarray) -> np.ndarray:
    """Any scaled input -> [0, 1] for display (min to max; channel order kept)."""
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def report(
    clf: Classifier,
    source: ImageInput | Preprocessed,
    method: str | None = None,
    layer: str | None = None,
    target: int | None = None,
    contrast: int | None = None,
    opacity: float = OVERLAY_OPACITY,
) -> Report:
    """Explain `source` and judge the map.

    source: preprocessed stages, a model-format float array, or any image the
    preprocessing takes (path, bytes, PIL image, uint8 array). method/layer None:
    the model's measured default. Raises ExplanationError / ImageError.
    """
    return reports(clf, source, [(method, layer)], target, contrast, opacity)[0]


def reports(
    clf: Classifier,
    source: ImageInput | Preprocessed,
    methods: Sequence[tuple[str | None, str | None]],
    target: int | None = None,
    contrast: int | None = None,
    opacity: float = OVERLAY_OPACITY,
    judged: bool = True,
) -> list[Report]:
    """Several maps of one input, e.g. Grad-CAM beside the default: one report each, their
    trust computed in one batched call that shares the input-only references.

    judged=False returns drafts without trust, so a page can show the maps at once and
    add their trust (`judge`) a moment later.
    """
    from PIL import Image

    src = _as_source(clf, source)
    # A model without a measured default (its card names none) chooses one on the first
    # inputs it explains: this is one of them.
    observe(clf, src.x if is_stages(src) else src)
    drafts = []
    for method, layer in methods:
        e = explain(clf, src, method, layer, target, contrast)
        if e.stages is not None:
            shown = overlay(e.stages.original, e.heatmap_original, alpha=opacity)
        else:
            x = e.x if clf.is_digit else _to_unit(e.x)  # a photo's input may be -1..1, caffe, ...
            big = Image.fromarray((np.clip(x, 0, 1) * 255).astype(np.uint8)).resize(
                (INPUT_OVERLAY_SIDE, INPUT_OVERLAY_SIDE), Image.Resampling.NEAREST
            )
            shown = overlay(np.asarray(big), e.heatmap, alpha=opacity)
        drafts.append(Report(e, shown, None, sanity_for(clf, e.method, e.layer)))
    return judge(clf, drafts) if judged else drafts


def judge(clf: Classifier, drafts: Sequence[Report]) -> list[Report]:
    """The drafts with their trust: maps of ONE input, scored in one batched call."""
    found = [r.explanation for r in drafts]
    trusts = trust_maps(
        clf.probabilities,
        found[0].x,
        np.stack([e.heatmap for e in found]),
        np.array([e.label for e in found]),
        perturbation=clf.perturbation,
    )
    return [replace(r, trust=t) for r, t in zip(drafts, trusts, strict=True)]


def warm_up(clf: Classifier) -> None:
    """Trace the compiled passes a drawing needs: Grad-CAM on the last layer and the
    model's default map, on a sample digit (28x28 digit models only; others: nothing);
    and answer that digit once, which joins the classifier and its detector into one
    graph and chooses the runtime for single inputs (`Classifier.fused`: ~0.3 s each
    on a machine that has cached neither).

    The first trace costs seconds; run it once after loading (the app does so in a
    background thread) so that the first stroke does not pay for it.
    """
    if not clf.is_digit:
        return
    from model.input.samples import drawn_digit

    stages = clf.preprocess_stages(drawn_digit(7))
    specs = [("gradcam", clf.conv_layers[-1])] if clf.conv_layers else []
    reports(clf, stages, [*specs, (None, None)])  # the explanations and the trust curves
    clf.predict_input(stages.x)
