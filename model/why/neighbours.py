"""Look-alikes: the training examples nearest to an input in the model's own representation.

    nb = clf.neighbours(image, k=8)     # Neighbours
    nb.summary                          # "7 of 8 look-alikes are 9s"
    nb[0].index, nb[0].image, nb[0].label, nb[0].distance

The representation is one layer's output (`fc2`, the layer before the output, for the
bundled models; measured in docs/why/look-alikes.md), reduced by PCA and searched
exactly (Euclidean distance, brute force: 60,000 x 32 numbers take ~1 ms).

The agreement of the k look-alikes with the answer is deep kNN's credibility
(Papernot & McDaniel 2018): "5 of 8 look-alikes are 9s".

An index is an `.npz` file (never a pickle): `<stem>-<key>.index.npz` in the evidence
cache (`model.why.cache`; the key: the model file's content), its pixels in one shared
file of the training images, built once from the data set by `python -m training.evidence`.
For any other model, `build_index` embeds a data set (arrays, or a folder of images via
`index_for_folder`, cached) with a progress bar.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.errors import EvidenceError
from model.why.cache import evidence_file, other_version
from model.why.index import INDEX_SUFFIX, Index, K, build_folder_index, read_index
from model.why.layers import features

if TYPE_CHECKING:
    from model.classifier import Classifier
    from model.input.decode import ImageInput


@dataclass(frozen=True)
class Neighbour:
    """One training example near the input."""

    index: int  # position in the index's data set (the MNIST training set: 0..59,999)
    image: np.ndarray  # (H, W) or (H, W, C) uint8, as stored in the data set
    label: int  # its true label (-1: unlabelled)
    distance: float  # Euclidean, in the index's (PCA-reduced) representation

    def to_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "distance": round(self.distance, 4)}


@dataclass(frozen=True)
class Neighbours:
    """The k look-alikes of one input, nearest first, and how many agree with the answer."""

    neighbours: tuple[Neighbour, ...]
    answer: int  # the model's label for the input
    class_names: tuple[str, ...]
    layer: str  # the representation searched
    source: str  # the data set the look-alikes come from

    def __len__(self) -> int:
        return len(self.neighbours)

    def __getitem__(self, i: int) -> Neighbour:
        return self.neighbours[i]

    def __iter__(self):
        return iter(self.neighbours)

    @property
    def k(self) -> int:
        return len(self.neighbours)

    @property
    def agree(self) -> int:
        """How many look-alikes carry the model's answer as their label."""
        return sum(n.label == self.answer for n in self.neighbours)

    @property
    def credibility(self) -> float:
        """agree / k, in [0, 1] (deep kNN's credibility with one layer)."""
        return self.agree / self.k if self.k else 0.0

    @property
    def majority(self) -> int:
        """The most common label among the look-alikes (ties: the nearer one's label)."""
        labels = [n.label for n in self.neighbours]
        return max(labels, key=lambda c: (labels.count(c), -labels.index(c))) if labels else -1

    @property
    def summary(self) -> str:
        """ "5 of 8 look-alikes are 9s" (about the model's answer)."""
        name = self.class_names[self.answer] if 0 <= self.answer < len(self.class_names) else "?"
        return f"{self.agree} of {self.k} look-alikes are {name}s"

    def to_dict(self) -> dict:
        return {
            "answer": self.answer,
            "agree": self.agree,
            "k": self.k,
            "credibility": round(self.credibility, 4),
            "majority": self.majority,
            "summary": self.summary,
            "layer": self.layer,
            "source": self.source,
            "neighbours": [n.to_dict() for n in self.neighbours],
        }


# ---------------------------------------------------------------- the built index
_INDICES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FOLDERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # clf -> {folder: Index}
_INDEX_LOCK = threading.Lock()


def index_for_folder(
    clf: Classifier, folder: str | os.PathLike, layer: str | None = None, progress: bool = True
) -> Index:
    """An index over the images of `folder` (see `images_from_folder`), built once with a
    progress bar and cached on disk (the key: the model file and every image's name, size
    and modification time) and in memory for this Classifier (a folder changed while the
    process runs is not read again)."""
    with _INDEX_LOCK:
        known = _FOLDERS.setdefault(clf, {}).get(str(Path(folder).resolve()))
    if known is not None:
        return known
    index = build_folder_index(clf, folder, layer, progress)
    with _INDEX_LOCK:
        _FOLDERS[clf][str(Path(folder).resolve())] = index
    return index


def load_index(clf: Classifier) -> Index:
    """The model's index in the evidence cache (`model.why.cache`), read once per
    Classifier; built from the training set by `python -m training.evidence`."""
    with _INDEX_LOCK:
        if clf not in _INDICES:
            path = built_evidence(clf, INDEX_SUFFIX, "the look-alike index")
            if not path.is_file():
                raise EvidenceError(
                    f"{clf.name} has no look-alike index yet ({path.name})",
                    "build it once from its training set: python -m training.evidence "
                    f"--model {model_arg(clf)} --data-dir DIR, or point it at a data set: "
                    "clf.neighbours(image, index=FOLDER) (FOLDER/<class>/*.png)",
                )
            _INDICES[clf] = read_index(path)
        return _INDICES[clf]


def model_arg(clf: Classifier) -> str:
    """How `--model` names this model: its bundled name, else its file."""
    from model.runtime.artifacts import BUNDLED

    return clf.name if clf.name in BUNDLED else str(clf.artifact.keras_path)


def built_evidence(clf: Classifier, suffix: str, what: str) -> Path:
    """The model's evidence file of one kind (`evidence_file`: named by the model file's
    content), which may be missing; refused when the cache holds only one made from
    another file of the same name (another version of the model), with the command that
    rebuilds it. `what` names it: "the look-alike index"."""
    keras_path = Path(clf.artifact.keras_path)
    path = evidence_file(keras_path, suffix)
    if not path.is_file() and other_version(keras_path, suffix) is not None:
        raise EvidenceError(
            f"{what} of {keras_path.name} was made from another version of the model",
            f"rebuild it: python -m training.evidence --model {model_arg(clf)} --data-dir DIR",
        )
    return path


def resolve_index(clf: Classifier, index: Index | str | os.PathLike | None) -> Index:
    """An Index as given, the one built (and cached) from a folder, or the model's own."""
    if isinstance(index, Index):
        return index
    if index is not None:
        return index_for_folder(clf, index)
    return load_index(clf)


# ---------------------------------------------------------------- the entry point
def nearest(
    clf: Classifier, x: np.ndarray, k: int = K, index: Index | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W[, C]) model-format inputs -> the k nearest rows of the index (N, k) and
    their distances (N, k), nearest first: one batched pass."""
    index = index or load_index(clf)
    x = np.asarray(x, np.float32).reshape(-1, *clf.input_shape)
    return index.search(index.reduce(features(clf.net, x, index.layer)), k)


def neighbours_of(
    clf: Classifier,
    x: np.ndarray,
    k: int = K,
    index: Index | str | os.PathLike | None = None,
) -> Neighbours:
    """The k look-alikes of one input already in model format."""
    idx = resolve_index(clf, index)
    x = np.asarray(x, np.float32).reshape(clf.input_shape)
    rows, dists = nearest(clf, x[None], k, idx)
    answer = int(np.argmax(clf.probabilities(x[None])[0]))
    found = tuple(
        Neighbour(int(r), idx.images[r], int(idx.labels[r]), float(d))
        for r, d in zip(rows[0], dists[0], strict=True)
    )
    return Neighbours(found, answer, clf.class_names, idx.layer, idx.source)


def neighbours(
    clf: Classifier,
    image: ImageInput,
    k: int = K,
    index: Index | str | os.PathLike | None = None,
) -> Neighbours:
    """The k training examples nearest to `image` in the model's representation.

    index: None (the model's own, built by training.evidence), an Index, or a folder of
    images to build one from (cached).
    """
    return neighbours_of(clf, clf.preprocess(image), k, index)
