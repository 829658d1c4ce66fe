"""Which judge a model gets: its own detector, mnist-cnn's lent to a user's digit model,
or the post-hoc max-softmax score (`model.judge.verdict`)."""

from __future__ import annotations

from pathlib import Path

from model.judge.verdict import Detector, Judge, read_ood_card, thing_for
from model.runtime.artifacts import WEIGHTS_DIR
from model.runtime.card import Card


def load_judge(
    keras_path: Path, class_names: tuple[str, ...], card: Card, digits: bool = True
) -> Judge:
    """The detector beside the model if it has one, else the post-hoc judge (`digits`:
    `thing_for`'s)."""
    ood = read_ood_card(keras_path)
    if ood is not None:
        path = keras_path.with_name(ood.file)
        if path.is_file():
            thing = thing_for(card, class_names, digits)
            return Judge(class_names, thing, ood, Detector(path))
    return Judge(class_names, thing_for(card, class_names, digits))


#: The bundled model whose detector a user's digit model borrows (`borrowed_judge`).
LENDER = "mnist-cnn"


def borrowed_judge(class_names: tuple[str, ...], card: Card) -> Judge | None:
    """The bundled digit detector for a model of the ten digits that has none of its own
    (a user's 28x28 MNIST model), or None where its files are missing. The detector
    judges the input, not the model: the same MNIST-recipe 28x28 input whatever model
    reads it. Its card's thresholds were set with mnist-cnn's probabilities in the score
    (`softmax_weight`); another model's confidence moves the score by as much, which
    `benchmarks.ood --model FILE` measures. A user's model said "sure" of a written word
    with max-softmax alone (a user test)."""
    lender = WEIGHTS_DIR / f"{LENDER}.keras"
    ood = read_ood_card(lender)
    if ood is None or not (path := lender.with_name(ood.file)).is_file():
        return None
    return Judge(class_names, thing_for(card, class_names), ood, Detector(path), lent=LENDER)
