"""What would make it a 7? Counterfactuals, and their adversarial twins.

    from model import load_classifier
    clf = load_classifier("mnist-cnn")
    cf = clf.counterfactual("three.png", target=8)     # smallest realistic edit read as 8
    adv = clf.adversarial("three.png", target=8)       # smallest PGD noise read as 8
    cf.succeeded, cf.label, cf.verdict, cf.added, cf.removed

Two entry points, one frozen result type (`Counterfactual`):

- `counterfactual(clf, image, target)`: an edit that stays a handwritten digit.
  The search runs in the latent space of a generative prior (a small VAE trained
  by `python -m training.prior`, shipped as `model/weights/<dataset>.prior.keras`
  with its card `<dataset>.prior.json`). The edit is a *latent shift* (Cohen et al.
  2021): with z0 = E(x), the decoder's change D(z) - D(z0) is applied to the user's
  own strokes (new ink added, ink taken away in proportion), so only what the prior
  changes between z0 and z moves. First a straight walk from z0 to each prototype
  of the target class (CFProto, Van Looveren & Klaise 2021), all points in one
  batch, finds where the model starts to read the target with p >= P_AIM; the
  smallest such edit is kept. Optional Adam steps (`SearchConfig.steps`) can shrink
  it further; measured, they make it less convincing to other models (off by default).
- `adversarial(clf, image, target)`: targeted PGD (Madry et al. 2018) in pixel
  space with no realism constraint, at several L-infinity budgets in one batch;
  the smallest budget that works is kept (`AttackConfig`).

Both run as one compiled `tf.function` per (network, prior) with a fixed input
signature, cached here. A model without a prior for its data raises
`NoPriorError`; a target outside the classes `CounterfactualError`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from model.errors import BlankImageError, CounterfactualError, NoPriorError
from model.input.preprocessing import Preprocessed
from model.judge.verdict import VERDICT_WORDS, Verdict
from model.prediction import format_probability
from model.why.latent_search import (
    CHANGE_FLOOR,
    LATENT,
    MIN_INK,
    P_VALID,
    PGD,
    AttackConfig,
    SearchConfig,
    search_for,
)
from model.why.prior import prior_for

if TYPE_CHECKING:
    from model.classifier import Classifier

Kind = Literal["counterfactual", "adversarial"]

# -------------------------------------------------------------------- the result


@dataclass(frozen=True)
class Counterfactual:
    """An edited input and what the model reads in it; the same type for both kinds.

    x and original: the model-format input after and before the edit, the shape
    `clf.preprocess(image)` returns ((28, 28) float32 in [0, 1] for digits); added and
    removed: (H, W) float32 >= 0, the ink added and taken away (0 below CHANGE_FLOOR).
    """

    kind: Kind
    method: str  # "latent-shift" or "pgd-linf"
    target: int
    target_name: str
    succeeded: bool
    message: str  # a sentence for a person, success or not
    x: np.ndarray
    original: np.ndarray
    label: int
    class_name: str
    probabilities: np.ndarray  # (K,) float32 on the edited input
    verdict: Verdict
    reason: str | None  # the verdict's reason on the edited input
    added: np.ndarray
    removed: np.ndarray
    seconds: float
    budget: float | None = None  # the adversarial twin's L-infinity epsilon
    stages: Preprocessed | None = field(default=None, compare=False, repr=False)

    @property
    def delta(self) -> np.ndarray:
        """x - original, same shape as x."""
        return self.x - self.original

    @property
    def l1(self) -> float:
        return float(np.abs(self.delta).sum())

    @property
    def l2(self) -> float:
        return float(np.sqrt((self.delta**2).sum()))

    @property
    def linf(self) -> float:
        return float(np.abs(self.delta).max())

    @property
    def changed(self) -> float:
        """Share of pixels changed by at least CHANGE_FLOOR."""
        return float((np.abs(self.delta) >= CHANGE_FLOOR).mean())

    @property
    def probability(self) -> float:
        """The target's probability on the edited input."""
        return float(self.probabilities[self.target])

    def to_dict(self) -> dict[str, Any]:
        """Everything but the arrays (the server adds those as PNGs)."""
        return {
            "kind": self.kind,
            "method": self.method,
            "target": self.target,
            "target_name": self.target_name,
            "succeeded": self.succeeded,
            "message": self.message,
            "label": self.label,
            "class_name": self.class_name,
            "probability": self.probability,
            "probabilities": [float(p) for p in self.probabilities],
            "verdict": self.verdict,
            "reason": self.reason,
            "l1": round(self.l1, 4),
            "l2": round(self.l2, 4),
            "linf": round(self.linf, 4),
            "changed": round(self.changed, 4),
            "budget": self.budget,
            "seconds": round(self.seconds, 4),
        }


# -------------------------------------------------------------------- the entry points


def _model_input(clf: Classifier, source: Any) -> tuple[np.ndarray, Preprocessed | None]:
    """(x in the model's (H, W, C) shape, the stages if any) from stages or a model array."""
    from model.why.attribution import is_stages

    stages = source if is_stages(source) else None
    x = np.asarray(stages.x if stages is not None else source, np.float32)
    shape = tuple(clf.input_shape)
    if x.size != int(np.prod(shape)):
        raise CounterfactualError(f"the input has {x.shape} values; {clf.name} takes {shape}")
    if not clf.is_digit:
        raise CounterfactualError(
            f"{clf.name} reads photos ({clf.preprocessing} scaling); counterfactuals and "
            "their adversarial twins edit 0-1 digit-style inputs only"
        )
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise CounterfactualError("the input must be finite values in [0, 1] (model format)")
    if float(x.sum()) < MIN_INK:
        raise BlankImageError("the input holds no ink: there is nothing to edit")
    return x.reshape(shape), stages


def _check_target(clf: Classifier, target: Any) -> int:
    k = len(clf.class_names)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise CounterfactualError(
            f"the target must be a class index from 0 to {k - 1}, not {target!r}"
        )
    if not 0 <= int(target) < k:
        raise CounterfactualError(
            f"the target must be a class index from 0 to {k - 1} ({clf.name} has {k} "
            f"classes), not {int(target)}"
        )
    return int(target)


def _result(
    clf: Classifier,
    kind: Kind,
    method: str,
    target: int,
    x: np.ndarray,
    edited: np.ndarray,
    stages: Preprocessed | None,
    start: float,
    failure: str,
    budget: float | None = None,
) -> Counterfactual:
    """Judge the edited input with the classifier's own runtime and verdict; build the result."""
    out_shape = x.shape[:-1] if x.shape[-1] == 1 else x.shape  # as clf.preprocess returns
    pred = clf.predict_input(edited)
    p_t = float(pred.probabilities[target])
    ok = p_t >= P_VALID and pred.label == target
    name, shown = clf.class_names[target], format_probability(p_t)  # (as every answer is said)
    if ok and np.array_equal(edited, x):  # (no edit: it was read as the target already)
        message = f"The model already reads {name} ({shown}): no {kind} is needed."
    elif ok:
        what = "edit" if kind == "counterfactual" else "perturbation"
        # (in words a learner reads, the norm's name after: "PGD", "L-inf" and "L2" alone
        # were jargon to a user test's teacher)
        size = (
            f"no pixel changed by more than {budget:g} of full ink: its L-inf budget"
            if budget is not None
            else f"the change's size: {_l2(edited, x):.2f}, its L2 norm"
        )
        verdict = VERDICT_WORDS[clf.reads_digits][pred.verdict]  # (words, not the API's value)
        message = (
            f"The model reads {name} ({shown}) after this {what} ({size}); "
            f"the verdict on it: {verdict}."
        )
    elif pred.label == target:  # (read as the target, but under the bar: say which bar)
        # (cut, not rounded: 0.89996 was said "90.0 %: under the 90 % asked", a review)
        close = f"{math.floor(p_t * 1e4) / 100:.2f} %"
        message = (
            f"No {kind} found: {failure} The closest attempt is read as {name}, at {close}: "
            f"under the {format_probability(P_VALID)} asked of it."
        )
    else:
        message = (
            f"No {kind} found: {failure} The closest attempt gives {name} a probability of {shown}."
        )
    delta = (edited - x).reshape(out_shape if len(out_shape) == 2 else (*out_shape,))
    plane = delta if delta.ndim == 2 else delta.mean(-1)
    return Counterfactual(
        kind=kind,
        method=method,
        target=target,
        target_name=name,
        succeeded=ok,
        message=message,
        x=edited.reshape(out_shape).astype(np.float32),
        original=x.reshape(out_shape).astype(np.float32),
        label=pred.label,
        class_name=pred.class_name,
        probabilities=pred.probabilities,
        verdict=pred.verdict,
        reason=pred.reason,
        added=np.where(plane >= CHANGE_FLOOR, plane, 0).astype(np.float32),
        removed=np.where(-plane >= CHANGE_FLOOR, -plane, 0).astype(np.float32),
        seconds=time.perf_counter() - start,
        budget=budget,
        stages=stages,
    )


def _l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum()))


def _already(clf: Classifier, x: np.ndarray, target: int) -> bool:
    p = clf.probabilities(x[None])[0]
    return int(np.argmax(p)) == target and float(p[target]) >= P_VALID


def _pick(best_x, best_d, top_x, top_p) -> tuple[np.ndarray, bool]:
    """The closest valid candidate of the batch, else the most convincing one."""
    best_d, top_p = best_d.numpy(), top_p.numpy()
    if np.isfinite(best_d).any():
        return best_x.numpy()[int(np.argmin(best_d))], True
    return top_x.numpy()[int(np.argmax(top_p))], False


def counterfactual(
    clf: Classifier, image: Preprocessed | np.ndarray, target: int, cfg: SearchConfig = LATENT
) -> Counterfactual:
    """The smallest realistic edit of `image` that `clf` reads as `target` (p >= P_VALID).

    image: the preprocessing stages (`clf.preprocess_stages(...)`) or an input already in
    model format. Raises CounterfactualError (a target outside the classes, a photo
    model), NoPriorError (no prior for this model's data), BlankImageError (no ink).
    Never fails silently: `.succeeded` is False and `.message` says so when no edit works.
    """
    start = time.perf_counter()
    target = _check_target(clf, target)
    x, stages = _model_input(clf, image)
    prior = prior_for(clf)
    if _already(clf, x, target):
        return _result(clf, "counterfactual", "latent-shift", target, x, x, stages, start, "")
    protos = prior.prototypes[target]  # (k, D)
    name = clf.class_names[target]
    after = f", and {cfg.steps} steps after it," if cfg.steps else ""
    failure = (
        f"no edit on the walk towards the {prior.card.dataset} prior's typical {name}{after} "
        f"reached {P_VALID:.0%} for {name}."
    )

    def found(aim: float) -> Counterfactual:
        search = search_for(clf.net, prior, cfg=replace(cfg, aim=aim))
        edited, _ = _pick(*search.latent(x, np.int32(target), protos))
        return _result(
            clf, "counterfactual", "latent-shift", target, x, edited, stages, start, failure
        )

    result = found(cfg.aim)
    if result.succeeded and result.verdict != "digit" and (cfg.typical_aim or 0) > cfg.aim:
        typical = found(cfg.typical_aim)  # a more typical target digit, further along
        if typical.succeeded and typical.verdict == "digit":
            return typical
    return result


def adversarial(
    clf: Classifier, image: Preprocessed | np.ndarray, target: int, atk: AttackConfig = PGD
) -> Counterfactual:
    """The adversarial twin: the smallest-budget targeted PGD perturbation read as `target`.

    No realism constraint and no prior needed: the budgets of `atk` (L-infinity, in ink
    0-1), its steps of step_fraction x epsilon each. Same errors and result type as
    `counterfactual`.
    """
    start = time.perf_counter()
    target = _check_target(clf, target)
    x, stages = _model_input(clf, image)
    if _already(clf, x, target):
        return _result(clf, "adversarial", "pgd-linf", target, x, x, stages, start, "", 0.0)
    search = search_for(clf.net, None, atk=atk)
    eps = np.asarray(atk.epsilons, np.float32)
    best_x, best_d, top_x, top_p = search.pgd(x, np.int32(target), eps)
    valid = np.isfinite(best_d.numpy())
    if valid.any():
        i = int(np.argmax(valid))  # budgets ascend: the first valid one is the smallest
        edited, budget = best_x.numpy()[i], float(atk.epsilons[i])
    else:
        i = int(np.argmax(top_p.numpy()))
        edited, budget = top_x.numpy()[i], float(atk.epsilons[i])
    failure = (
        f"{atk.steps} steps of noise aimed at it (targeted PGD), no pixel changed by more "
        f"than {atk.epsilons[-1]} of full ink, did not work."
    )
    return _result(
        clf, "adversarial", "pgd-linf", target, x, edited, stages, start, failure, budget
    )


def warm_up(clf: Classifier, cfg: SearchConfig = LATENT, atk: AttackConfig = PGD) -> None:
    """Trace the compiled searches the first edit needs, on a sample 7 made a 1: the walk
    at both aims (`cfg.aim` and `cfg.typical_aim`, each its own compiled search) and the
    adversarial twin's PGD. The first call of each traces a graph (with the TensorFlow
    import, ~5 s on a fresh process here; ~2 s after the maps' warm-up); after it a
    counterfactual takes ~0.15 s. 28x28 digit models only; without a prior, the twin only.
    """
    if not clf.is_digit:
        return
    from model.input.samples import drawn_digit

    x, _ = _model_input(clf, clf.preprocess_stages(drawn_digit(7)))
    target = np.int32(1)
    try:
        prior = prior_for(clf)
    except NoPriorError:
        prior = None
    if prior is not None:
        for aim in dict.fromkeys((cfg.aim, cfg.typical_aim or cfg.aim)):
            search = search_for(clf.net, prior, cfg=replace(cfg, aim=aim))
            search.latent(x, target, prior.prototypes[int(target)])
    eps = np.asarray(atk.epsilons, np.float32)
    search_for(clf.net, None, atk=atk).pgd(x, target, eps)
