"""Choose a model's default map by measurement, when its card names none.

A user's own `.keras` file comes without a measured default, and a fixed fallback
(Grad-CAM on the last convolution) can be the worst method for it. Here every method
the model supports is run on its own inputs and ranked by the trust score
(`model.why.trust`: how fast the answer falls when the pixels the map ranks highest
are removed, against maps that ignore the model); the best mean score wins.

    from model.why.choice import observe, choose_on_folder
    observe(clf, x)                  # each input the model explains (report() does it)
    choose_on_folder(clf, "scans/")  # or: a folder the user names (a final choice)

The inputs are the first `CHOICE_INPUTS` the model sees: the ranking runs again at 1,
2, 4 and 8 inputs, then the choice is final. Choices are kept per model object
(`model.why.defaults`, thread-safe); `model.why.attribution.default_method` reads them.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from model.errors import ExplanationError
from model.why.attribution import METHODS, available_methods, compute_maps, default_cam_layer
from model.why.defaults import MeasuredDefault, measured, remember
from model.why.trust import trust_batch

T = TypeVar("T")

if TYPE_CHECKING:
    from model.classifier import Classifier

#: Inputs the choice is made on; after these the choice is final.
CHOICE_INPUTS = 8
#: Numbers of inputs seen at which the methods are ranked again (a ranking costs one
#: batched map and one trust curve set per method and input: at 1, 2, 4 and 8 inputs the
#: first choice comes at once and the total work stays twice that of the last ranking).
RERANK_AT = (1, 2, 4, CHOICE_INPUTS)
#: Images read from a folder the user names, at most.
FOLDER_INPUTS = 32
#: Largest input (values per image) whose default is chosen as it is explained: nine
#: methods, with Integrated Gradients' 32 steps and SmoothGrad's 20 copies, on 8 inputs
#: of 64x64x3 take seconds on a CPU; at 224x224x3 (an ImageNet-sized model) minutes, in
#: the middle of a request. Larger models keep the fallback unless a folder is named.
MAX_MEASURED_INPUT = 64 * 64 * 3


def measures_its_own_default(clf: Classifier) -> bool:
    """Whether `clf`'s default map is chosen on the inputs it explains: a model file whose
    card names no measured default, with inputs of at most MAX_MEASURED_INPUT values.
    (Keras Applications have no file: their fallback stands.)"""
    return (
        not clf.card.default_explanation
        and Path(clf.artifact.keras_path).is_file()
        and int(np.prod(clf.input_shape)) <= MAX_MEASURED_INPUT
    )


def key(method: str, layer: str | None) -> str:
    """ "gradcam@c3", or "saliency" for a method that reads no layer."""
    return f"{method}@{layer}" if layer else method


def rank(clf: Classifier, x: np.ndarray) -> list[tuple[str, str | None, float]]:
    """Every method `clf` supports, by its mean trust score on x (N, H, W[, C]) (the
    predicted class of each input), best first; class-activation methods on the layer
    they read by default. Ties keep the registry's order."""
    x = np.asarray(x, np.float32).reshape(-1, *clf.input_shape)
    labels = np.argmax(clf.probabilities(x), axis=-1)
    layer = default_cam_layer(clf) if clf.conv_layers else None
    found, failed = [], []
    for method in available_methods(clf):
        m_layer = layer if METHODS[method].needs_conv else None
        try:
            maps = compute_maps(clf.net, x, method, m_layer, labels)
        except Exception as exc:  # a method this network cannot run is not a candidate
            failed.append(f"{method}: {exc}")
            continue
        trusts = trust_batch(clf.probabilities, x, maps, labels, perturbation=clf.perturbation)
        found.append((method, m_layer, float(np.mean([t.score for t in trusts]))))
    if not found:
        raise ExplanationError(f"no method explains {clf.name}: {'; '.join(failed)}")
    order = sorted(range(len(found)), key=lambda i: (-found[i][2], i))
    return [found[i] for i in order]


def choose_on(
    clf: Classifier, x: np.ndarray, source: str = "the first inputs it saw", final: bool = True
) -> MeasuredDefault:
    """Rank the methods on x (N, H, W[, C]), keep the winner as `clf`'s default, return it."""
    ranked = rank(clf, x)
    method, layer, _ = ranked[0]
    chosen = MeasuredDefault(
        method,
        layer,
        inputs=len(np.asarray(x).reshape(-1, *clf.input_shape)),
        scores=tuple((key(m, ly), round(s, 4)) for m, ly, s in ranked),
        source=source,
        final=final,
    )
    remember(clf, chosen)
    return chosen


def choose_on_folder(
    clf: Classifier, folder: str | os.PathLike, limit: int = FOLDER_INPUTS
) -> MeasuredDefault:
    """Choose `clf`'s default on the images in `folder` (the first `limit`, sorted by
    name; images it cannot read are skipped). Raises ValueError when none can be read."""
    from model.errors import ImageError
    from model.input.sources import IMAGE_SUFFIXES

    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    xs = first_readable(clf.preprocess, paths, limit, (ImageError,))
    if not xs:
        raise ValueError(f"no image in {folder.name} that {clf.name} can read")
    return choose_on(clf, np.stack(xs), f"the images in {folder.name}", final=True)


def first_readable(
    read: Callable[[T], np.ndarray],
    items: Iterable[T],
    limit: int,
    unreadable: tuple[type[BaseException], ...],
) -> list[np.ndarray]:
    """The model inputs `read` makes of the first `limit` items it can read, in order;
    an item that raises one of `unreadable` is skipped."""
    xs: list[np.ndarray] = []
    for item in items:
        if len(xs) == limit:
            break
        try:
            xs.append(read(item))
        except unreadable:
            continue
    return xs


@dataclass
class _Seen:
    """The inputs one model has been asked to explain, up to CHOICE_INPUTS."""

    inputs: list[np.ndarray] = field(default_factory=list)
    digests: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


_SEEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SEEN_LOCK = threading.Lock()


def observe(clf: Classifier, x: np.ndarray) -> MeasuredDefault | None:
    """Note one input `clf` explains (its model-format array); rank the methods again
    when the count reaches one of RERANK_AT. Returns the current measured default (None
    for a model whose card names one). Thread-safe: one ranking at a time per model."""
    if not measures_its_own_default(clf):
        return None
    chosen = measured(clf)
    if chosen is not None and chosen.final:
        return chosen
    x = np.asarray(x, np.float32)
    if x.size != int(np.prod(clf.input_shape)):
        return chosen  # not an input of this model: explain() says so
    x = x.reshape(clf.input_shape)
    with _SEEN_LOCK:
        seen = _SEEN.setdefault(clf, _Seen())
    digest = hash(x.tobytes())
    with seen.lock:  # one ranking at a time; others wait for its answer
        if digest in seen.digests or len(seen.inputs) >= CHOICE_INPUTS:
            return measured(clf)
        seen.digests.add(digest)
        seen.inputs.append(x)
        n = len(seen.inputs)
        if n in RERANK_AT:
            return choose_on(clf, np.stack(seen.inputs), final=n >= CHOICE_INPUTS)
    return measured(clf)


def why_default(clf: Classifier) -> str:
    """Why `clf`'s default map is the one it is, in a few words for the UI."""
    chosen = measured(clf)
    if clf.card.default_explanation:
        return "measured for this model (its card)"
    if chosen is not None:
        return f"{chosen.reason}, on {chosen.source}"
    if measures_its_own_default(clf):
        return "a fixed fallback until the model has explained an input"
    if Path(clf.artifact.keras_path).is_file():
        return "a fixed fallback (inputs too large to rank every method as they come)"
    return "a fixed fallback (no measured default for this model)"
