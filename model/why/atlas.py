"""The digit atlas: a 2-D map of training digits in the model's representation, and where
a new input lands on it.

    atlas = load_atlas(clf)            # Atlas: points, labels, misread test digits
    p = clf.place(image)               # Placement(x, y, ...)

The map is made once by `python -m training.evidence` (t-SNE of the look-alike index's
embeddings, chosen by trustworthiness: docs/why/atlas.md) into the evidence cache as
`<stem>-<key>.atlas.npz` (the key: the model file's content, `model.why.cache`). A new
input is placed by its nearest atlas points in the same representation: the
distance-weighted mean of their map positions (no t-SNE at query time: ~1 ms instead of
seconds).
"""

from __future__ import annotations

import json
import threading
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.errors import EvidenceError
from model.why.cache import evidence_path
from model.why.index import Index
from model.why.layers import features
from model.why.neighbours import built_evidence, load_index, model_arg

if TYPE_CHECKING:
    from model.classifier import Classifier
    from model.input.decode import ImageInput

#: The evidence file holding a model's atlas (`evidence_path`).
ATLAS_SUFFIX = ".atlas.npz"
#: Atlas points a placement averages over (their map positions, weighted by 1/distance).
PLACE_K = 10


@dataclass(frozen=True, eq=False)
class Atlas:
    """A 2-D map of data-set examples (rows of the look-alike index)."""

    rows: np.ndarray  # (N,) int64: each point's row in the index (its training-set position)
    xy: np.ndarray  # (N, 2) float32: map positions
    labels: np.ndarray  # (N,) int64: true labels
    method: str  # how the map was made, e.g. "t-SNE (perplexity 30)"
    trustworthiness: float  # sklearn's, k=10, measured when it was made
    misread_test: np.ndarray  # (M,) int64: test-set positions of digits the model misreads
    misread_xy: np.ndarray  # (M, 2) float32: where they land (by `place_points`)
    misread_label: np.ndarray  # (M,) int64: their true labels
    misread_answer: np.ndarray  # (M,) int64: what the model read

    def centres(self) -> np.ndarray:
        """(K, 2): the median position of each class's points (NaN for a class absent)."""
        k = int(self.labels.max()) + 1 if len(self.labels) else 0
        out = np.full((k, 2), np.nan, np.float32)
        for c in range(k):
            pts = self.xy[self.labels == c]
            if len(pts):
                out[c] = np.median(pts, axis=0)
        return out


@dataclass(frozen=True)
class Placement:
    """Where one input lands on the atlas."""

    x: float
    y: float
    label: int  # the model's answer for the input
    nearest_class: int  # the class whose centre is nearest to (x, y)

    def to_dict(self) -> dict:
        return {
            "x": round(self.x, 4),
            "y": round(self.y, 4),
            "label": self.label,
            "nearest_class": self.nearest_class,
        }


def atlas_path(keras_path: Path) -> Path:
    """Where `python -m training.evidence` writes the model's atlas (`evidence_path`)."""
    return evidence_path(keras_path, ATLAS_SUFFIX)


def save_atlas(atlas: Atlas, path: Path) -> Path:
    """Write an atlas as one `.npz` (float16 positions, no pickles)."""
    meta = {"method": atlas.method, "trustworthiness": atlas.trustworthiness}
    np.savez_compressed(
        path,
        rows=atlas.rows.astype(np.int32),
        xy=atlas.xy.astype(np.float16),
        labels=atlas.labels.astype(np.int8),
        misread_test=atlas.misread_test.astype(np.int32),
        misread_xy=atlas.misread_xy.astype(np.float16),
        misread_label=atlas.misread_label.astype(np.int8),
        misread_answer=atlas.misread_answer.astype(np.int8),
        meta=np.array(json.dumps(meta)),
    )
    return path


def read_atlas(path: Path) -> Atlas:
    """Read an atlas written by `save_atlas`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise EvidenceError.unreadable("the atlas", Path(path).name, exc) from exc
    i64 = np.int64
    return Atlas(
        arrays["rows"].astype(i64),
        arrays["xy"].astype(np.float32),
        arrays["labels"].astype(i64),
        meta["method"],
        float(meta["trustworthiness"]),
        arrays["misread_test"].astype(i64),
        arrays["misread_xy"].astype(np.float32),
        arrays["misread_label"].astype(i64),
        arrays["misread_answer"].astype(i64),
    )


_ATLASES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def load_atlas(clf: Classifier) -> Atlas:
    """The model's atlas in the evidence cache, read once per Classifier."""
    with _LOCK:
        if clf not in _ATLASES:
            path = built_evidence(clf, ATLAS_SUFFIX, "the atlas")
            if not path.is_file():
                raise EvidenceError(
                    f"{clf.name} has no atlas yet ({path.name})",
                    "make it once from its training set: python -m training.evidence "
                    f"--model {model_arg(clf)} --data-dir DIR",
                )
            _ATLASES[clf] = read_atlas(path)
        return _ATLASES[clf]


class Placer:
    """Places points of an index's representation on an atlas: the 1/distance-weighted
    mean position of their PLACE_K nearest atlas points."""

    def __init__(self, index: Index, atlas: Atlas, k: int = PLACE_K):
        from model.why.index import make_index

        self.k = k
        # The atlas points as an index of their own (positions come from `atlas.xy`).
        self._points = make_index(
            index.layer,
            index.embeddings[atlas.rows],
            atlas.labels,
            np.zeros((len(atlas.rows), 1, 1), np.uint8),  # no pixels needed to place
            index.mean,
            index.components,
            "atlas points",
        )
        self._xy = atlas.xy
        self.centres = atlas.centres()  # (K, 2), once: a median over every point per class

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """(M, d) index points -> (M, 2) map positions."""
        rows, dist = self._points.search(points, self.k)
        w = 1.0 / (dist + 1e-6)
        w /= w.sum(1, keepdims=True)
        return (self._xy[rows] * w[..., None]).sum(1).astype(np.float32)


_PLACERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def placer(clf: Classifier) -> Placer:
    """The Placer of the model's index and atlas, built once per Classifier."""
    index, atlas = load_index(clf), load_atlas(clf)
    with _LOCK:
        if clf not in _PLACERS:
            _PLACERS[clf] = Placer(index, atlas)
        return _PLACERS[clf]


def place_points(clf: Classifier, x: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) model-format inputs -> (N, 2) atlas positions, in one pass."""
    index = load_index(clf)
    x = np.asarray(x, np.float32).reshape(-1, *clf.input_shape)
    return placer(clf)(index.reduce(features(clf.net, x, index.layer)))


def nearest_class(centres: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(K, 2) class centres, (N, 2) positions -> (N,) the class of the nearest centre."""
    d = np.linalg.norm(np.asarray(xy)[:, None, :] - centres[None], axis=2)
    return np.nanargmin(np.where(np.isnan(d), np.inf, d), axis=1)


def place_input(clf: Classifier, x: np.ndarray) -> Placement:
    """Where one input already in model format lands on the atlas."""
    x = np.asarray(x, np.float32).reshape(clf.input_shape)
    xy = place_points(clf, x[None])
    label = int(np.argmax(clf.probabilities(x[None])[0]))
    near = int(nearest_class(placer(clf).centres, xy)[0])
    return Placement(float(xy[0, 0]), float(xy[0, 1]), label, near)


def place(clf: Classifier, image: ImageInput) -> Placement:
    """Where `image` lands on the model's atlas (after the model's preprocessing)."""
    return place_input(clf, clf.preprocess(image))
