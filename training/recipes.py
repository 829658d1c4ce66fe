"""What each bundled model is: network, data set, augmentation and default schedule."""

from __future__ import annotations

from dataclasses import dataclass

from model.architecture import CNNConfig, MLPConfig
from training.augment import FASHION, HANDWRITING, HANDWRITING_MILD, AugmentConfig


@dataclass(frozen=True)
class Recipe:
    dataset: str  # "mnist" or "fashion-mnist"
    architecture: CNNConfig | MLPConfig
    augment: AugmentConfig
    preprocessing: str  # the recipe real images need: "mnist" or "fashion"
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 2e-3
    patience: int = 5  # epochs without a better validation loss before stopping
    lr_patience: int = 2  # ... before the learning rate is cut to 0.3x


RECIPES: dict[str, Recipe] = {
    "mnist-cnn": Recipe("mnist", CNNConfig(), HANDWRITING, "mnist", epochs=30),
    # Fashion-MNIST underfits with the digit recipe's dropout and quick LR cuts.
    "fashion-cnn": Recipe(
        "fashion-mnist",
        CNNConfig(dropout=0.25),
        FASHION,
        "fashion",
        epochs=45,
        learning_rate=1e-3,
        patience=8,
        lr_patience=4,
    ),
    "mnist-mlp": Recipe(
        "mnist", MLPConfig(), HANDWRITING_MILD, "mnist", epochs=40, learning_rate=1e-3
    ),
}
