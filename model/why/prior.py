"""The generative prior that keeps counterfactuals realistic: a small VAE per data set.

`python -m training.prior` trains it and writes `model/weights/<dataset>.prior.keras`
with its card `<dataset>.prior.json` (`PriorCard`: the command, seed, held-out error,
versions and the class prototypes in its latent space). It loads offline, in Keras'
safe mode, once per file (`model.why.counterfactual` searches in it).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.datasets import MIRRORS
from model.errors import NoPriorError

if TYPE_CHECKING:
    from model.classifier import Classifier

PRIOR_SUFFIX = ".prior"


# -------------------------------------------------------------------- the prior's card


@dataclass(frozen=True)
class PriorCard:
    """`<dataset>.prior.json`: what the prior is, how it was made, its class prototypes.

    prototypes: (C, k, latent_dim) k-means centres of each class's training codes.
    """

    file: str
    dataset: str
    kind: str  # "vae"
    input_shape: tuple[int, int, int]
    latent_dim: int
    class_names: tuple[str, ...]
    prototypes: tuple[tuple[tuple[float, ...], ...], ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)  # command, seed, epochs, ...
    parameters: int | None = None
    size_bytes: int | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PriorCard:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        known["input_shape"] = tuple(known["input_shape"])
        known["class_names"] = tuple(known["class_names"])
        known["prototypes"] = tuple(
            tuple(tuple(float(v) for v in c) for c in cls_) for cls_ in known["prototypes"]
        )
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["class_names"] = list(self.class_names)
        d["prototypes"] = [[list(c) for c in cls_] for cls_ in self.prototypes]
        return d


def prior_card_path(keras_path: str | os.PathLike) -> Path:
    """`<dataset>.prior.json` beside `<dataset>.prior.keras`."""
    return Path(keras_path).with_suffix(".json")


def write_prior_card(keras_path: str | os.PathLike, card: PriorCard) -> Path:
    path = prior_card_path(keras_path)
    path.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return path


def read_prior_card(keras_path: str | os.PathLike) -> PriorCard:
    return PriorCard.from_dict(json.loads(prior_card_path(keras_path).read_text()))


# -------------------------------------------------------------------- the prior


def prior_path_for(clf: Classifier) -> Path | None:
    """The prior for this model's data: `<model>.prior.keras` beside the model (its own),
    else the bundled `<dataset>.prior.keras`; None when neither exists."""
    from model.runtime.artifacts import WEIGHTS_DIR

    keras_path = clf.artifact.keras_path
    own = keras_path.with_name(f"{keras_path.stem}{PRIOR_SUFFIX}.keras")
    shared = WEIGHTS_DIR / f"{clf.card.dataset_or_default}{PRIOR_SUFFIX}.keras"
    for path in (own, shared):
        if path.is_file() and prior_card_path(path).is_file():
            return path
    return None


@dataclass(frozen=True, eq=False)
class Prior:
    """A loaded prior: the encoder (x -> z), the decoder (z -> x) and the class prototypes."""

    path: Path
    card: PriorCard
    encoder: Any  # keras.Model (N, 28, 28, 1) -> (N, latent_dim)
    decoder: Any  # keras.Model (N, latent_dim) -> (N, 28, 28, 1)

    @property
    def prototypes(self) -> np.ndarray:
        """(C, k, latent_dim) float32."""
        return np.asarray(self.card.prototypes, np.float32)


_PRIORS: dict[Path, Prior] = {}
_LOCK = threading.Lock()


def load_prior(path: str | os.PathLike) -> Prior:
    """Load a prior `.keras` file (safe mode, offline) and its card, once per path."""
    from model.runtime.artifacts import load_keras_model

    path = Path(path).resolve()
    with _LOCK:
        prior = _PRIORS.get(path)
        if prior is None:
            try:
                card = read_prior_card(path)
                net = load_keras_model(path)
                prior = Prior(path, card, net.get_layer("encoder"), net.get_layer("decoder"))
            except (OSError, KeyError, ValueError) as exc:
                raise NoPriorError(f"cannot load the prior {path.name}: {exc}") from exc
            _PRIORS[path] = prior
        return prior


def prior_for(clf: Classifier) -> Prior:
    """The prior that fits `clf`, or NoPriorError saying which is missing and how to make it."""
    dataset = clf.card.dataset_or_default
    path = prior_path_for(clf)
    if path is None or not clf.is_digit:
        raise NoPriorError(
            f"{clf.name} has no generative prior for its data ({dataset}), and realistic "
            "edits are searched in one. "
            + (
                f"One can be trained: `python -m training.prior --dataset {dataset}`."
                if dataset in MIRRORS
                else "DigitLens trains priors for MNIST and Fashion-MNIST only."
            )
        )
    prior = load_prior(path)
    if tuple(prior.card.input_shape) != tuple(clf.input_shape) or len(
        prior.card.class_names
    ) != len(clf.class_names):
        raise NoPriorError(
            f"the prior {path.name} takes {prior.card.input_shape} inputs of "
            f"{len(prior.card.class_names)} classes; {clf.name} takes {clf.input_shape} "
            f"and has {len(clf.class_names)} classes"
        )
    return prior
