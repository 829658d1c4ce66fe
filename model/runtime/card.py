"""The model card as a type: one frozen `Card`, read and written only here.

A card is the JSON file `<name>.json` beside a `<name>.keras` file. Every part of
DigitLens reads it through the attributes of `Card` and writes it by building a
new `Card` (`card.updated(...)`, `dataclasses.replace`) and calling `write_card`
once. A user's card may lack anything (missing -> None); keys DigitLens does not
know are kept in `extra` and written back, so nothing a user wrote is lost.

Round trip: `Card.from_dict(d).to_dict() == d`. Known keys are written in the
order of the fields below (the order `training.train` writes them), then the
unknown ones in their own order; a known key whose value is `null` is dropped.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from model.errors import ModelLoadError

#: A card without a data set is an MNIST model (the cards before the field existed).
DEFAULT_DATASET = "mnist"
#: `json.dumps` settings of every card file (the bundled ones are byte-identical to them).
JSON_INDENT = 2


def _check(value: Any, types: type | tuple[type, ...], name: str, what: str) -> Any:
    """`value` if it is None or of `types` (never a bool for a number), else a clear error."""
    if value is None:
        return None
    # JSON true/false are Python bools, and a bool is an int: refuse it where a number is due.
    ok = isinstance(value, types) and not isinstance(value, bool)
    if not ok:
        raise ModelLoadError(
            f"model card field {name!r} should be {what}, not {type(value).__name__} "
            f"({json.dumps(value)[:60]})"
        )
    return value


def _section(d: dict[str, Any], key: str, where: str = "") -> dict[str, Any] | None:
    """A JSON object field of `d` (or None), checked."""
    return _check(d.get(key), dict, where + key, "an object")


def _known(cls: type) -> tuple[str, ...]:
    """The JSON keys a card section knows, in order: its dataclass fields but `extra`."""
    return tuple(f.name for f in fields(cls) if f.name != "extra")


def _unknown(d: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """The keys of `d` that `known` does not name, in their order."""
    return {k: v for k, v in d.items() if k not in known}


def _present(pairs: list[tuple[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of known `pairs` (None left out) followed by `extra`."""
    out = {k: v for k, v in pairs if v is not None}
    out.update(extra)
    return out


NUMBER = (int, float)


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input.

    recipe: a digit recipe (`mnist`, `fashion`); scaling: an input scaling of
    `model.input.photo` (`0-1`, `caffe`, ...) for photo models; input: a sentence for people.
    """

    recipe: str | None = None
    scaling: str | None = None
    input: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        where = "preprocessing."
        return cls(
            recipe=_check(d.get("recipe"), str, where + "recipe", "a string"),
            scaling=_check(d.get("scaling"), str, where + "scaling", "a string"),
            input=_check(d.get("input"), str, where + "input", "a string"),
            extra=_unknown(d, _known(cls)),
        )

    def to_dict(self) -> dict[str, Any]:
        return _present(
            [("recipe", self.recipe), ("scaling", self.scaling), ("input", self.input)],
            self.extra,
        )


@dataclass(frozen=True)
class Metrics:
    """Test-set metrics (training.evaluate).

    per_class: {"precision": [K], "recall": [K], ...}; confusion_matrix: [K][K] counts
    (row: true class); reliability: calibration bins [{lo, hi, confidence, accuracy,
    count}]; misclassified: test-set indices.
    """

    accuracy: float | None = None
    test_samples: int | None = None
    per_class: dict[str, Any] | None = None
    confusion_matrix: list[list[int]] | None = None
    ece: float | None = None
    reliability: list[dict[str, Any]] | None = None
    misclassified: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metrics:
        w = "metrics."
        return cls(
            accuracy=_check(d.get("accuracy"), NUMBER, w + "accuracy", "a number"),
            test_samples=_check(d.get("test_samples"), int, w + "test_samples", "an integer"),
            per_class=_section(d, "per_class", w),
            confusion_matrix=_check(
                d.get("confusion_matrix"), list, w + "confusion_matrix", "a list of rows"
            ),
            ece=_check(d.get("ece"), NUMBER, w + "ece", "a number"),
            reliability=_check(d.get("reliability"), list, w + "reliability", "a list of bins"),
            misclassified=_check(
                d.get("misclassified"), list, w + "misclassified", "a list of indices"
            ),
            extra=_unknown(d, _known(cls)),
        )

    def to_dict(self) -> dict[str, Any]:
        return _present([(k, getattr(self, k)) for k in _known(type(self))], self.extra)


@dataclass(frozen=True)
class Card:
    """A model card. Every field may be None (a user's card may lack it).

    architecture: `model.architecture` hyper-parameters (`kind`: cnn, mlp);
    training: the command, seed, batch size, ... and `history` (per-epoch lists);
    versions: library versions that evaluated it; curves: the training-curves PNG's
    file name beside the card; runtimes: `{"onnx": {file, keras_sha256, ...}}`;
    explanations: `{"sanity": {...}, "default": {method, layer, ...}}`.
    """

    name: str | None = None
    dataset: str | None = None
    class_names: tuple[str, ...] | None = None
    architecture: dict[str, Any] | None = None
    preprocessing: Preprocessing | None = None
    training: dict[str, Any] | None = None
    parameters: int | None = None
    size_bytes: int | None = None
    metrics: Metrics | None = None
    versions: dict[str, str] | None = None
    curves: str | None = None
    runtimes: dict[str, Any] | None = None
    explanations: dict[str, Any] | None = None
    #: Keys DigitLens does not know, kept as they are (e.g. `source`, `weights`).
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ JSON
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Card:
        """A card from its JSON object; ModelLoadError naming the field if one has a wrong type."""
        _check(d, dict, "(the card itself)", "a JSON object")
        names = _check(d.get("class_names"), list, "class_names", "a list of strings")
        if names is not None and not all(isinstance(n, str) for n in names):
            raise ModelLoadError("model card field 'class_names' should be a list of strings")
        preprocessing = _section(d, "preprocessing")
        metrics = _section(d, "metrics")
        return cls(
            name=_check(d.get("name"), str, "name", "a string"),
            dataset=_check(d.get("dataset"), str, "dataset", "a string"),
            class_names=None if names is None else tuple(names),
            architecture=_section(d, "architecture"),
            preprocessing=None if preprocessing is None else Preprocessing.from_dict(preprocessing),
            training=_section(d, "training"),
            parameters=_check(d.get("parameters"), int, "parameters", "an integer"),
            size_bytes=_check(d.get("size_bytes"), int, "size_bytes", "an integer"),
            metrics=None if metrics is None else Metrics.from_dict(metrics),
            versions=_section(d, "versions"),
            curves=_check(d.get("curves"), str, "curves", "a file name"),
            runtimes=_section(d, "runtimes"),
            explanations=_section(d, "explanations"),
            extra=_unknown(d, _known(cls)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The card's JSON object (what `/v1/models/{name}` returns and `write_card` writes)."""
        pairs = [
            ("name", self.name),
            ("dataset", self.dataset),
            ("class_names", None if self.class_names is None else list(self.class_names)),
            ("architecture", self.architecture),
            ("preprocessing", self.preprocessing and self.preprocessing.to_dict()),
            ("training", self.training),
            ("parameters", self.parameters),
            ("size_bytes", self.size_bytes),
            ("metrics", self.metrics and self.metrics.to_dict()),
            ("versions", self.versions),
            ("curves", self.curves),
            ("runtimes", self.runtimes),
            ("explanations", self.explanations),
        ]
        return _present(pairs, self.extra)

    # ------------------------------------------------------------ reading
    @property
    def dataset_or_default(self) -> str:
        """The data set, or MNIST for a card that names none."""
        return self.dataset or DEFAULT_DATASET

    @property
    def accuracy(self) -> float | None:
        return self.metrics.accuracy if self.metrics else None

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch training curves (`loss`, `val_loss`, ...), or {}."""
        return (self.training or {}).get("history") or {}

    @property
    def onnx(self) -> dict[str, Any] | None:
        """The float ONNX export's record: {file, keras_sha256, ...}, or None."""
        return (self.runtimes or {}).get("onnx")

    @property
    def sanity_methods(self) -> dict[str, Any]:
        """The sanity check's result per `method@layer` key (model.why.sanity), or {}."""
        sanity = (self.explanations or {}).get("sanity") or {}
        return sanity.get("methods") or {}

    @property
    def default_explanation(self) -> dict[str, Any]:
        """The measured default {method, layer, ...} (benchmarks.explanations), or {}."""
        return (self.explanations or {}).get("default") or {}

    # ------------------------------------------------------------ writing
    def updated(self, **changes: Any) -> Card:
        """A copy with `changes` (field=value); the card itself never changes."""
        return dataclasses.replace(self, **changes)

    def with_runtime(self, runtime: str, record: dict[str, Any]) -> Card:
        """A copy whose `runtimes[runtime]` is `record`."""
        return self.updated(runtimes={**(self.runtimes or {}), runtime: record})

    def with_explanations(self, section: str, value: dict[str, Any]) -> Card:
        """A copy whose `explanations[section]` (`sanity`, `default`) is `value`."""
        return self.updated(explanations={**(self.explanations or {}), section: value})


def card_path_for(keras_path: str | os.PathLike) -> Path:
    """`<name>.json` beside `<name>.keras`."""
    return Path(keras_path).with_suffix(".json")


def read_card(keras_path: str | os.PathLike) -> Card:
    """The card beside a `.keras` file, or an empty Card when there is none.

    Raises ModelLoadError naming the file for a card that is not JSON or has a wrong type.
    """
    path = card_path_for(keras_path)
    if not path.is_file():
        return Card()
    try:
        return Card.from_dict(json.loads(path.read_text()))
    except ModelLoadError as exc:  # a field of the wrong type (before ValueError: it is one)
        raise ModelLoadError(f"cannot read the model card {path.name}: {exc}") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ModelLoadError(f"cannot read the model card {path.name}: not JSON ({exc})") from exc


def card_json(card: Card) -> str:
    """The text of a card file."""
    return json.dumps(card.to_dict(), indent=JSON_INDENT, sort_keys=False) + "\n"


def write_card(keras_path: str | os.PathLike, card: Card) -> Path:
    """Write `card` beside the `.keras` file; returns the card's path."""
    path = card_path_for(keras_path)
    path.write_text(card_json(card))
    return path
