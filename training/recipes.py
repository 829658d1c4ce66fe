"""What each bundled model is: network, data set, augmentation and default schedule."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from model.architecture import CNNConfig, MLPConfig


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms; each is sampled uniformly in [-r, r] (or [lo, hi])."""

    rotation_deg: float = 0.0
    shear: float = 0.0  # x-shear factor
    zoom: tuple[float, float] = (1.0, 1.0)
    shift_px: float = 0.0
    stroke: tuple[float, float] = (0.0, 0.0)  # <0 thins the pen, >0 thickens it
    hflip: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        return self == AugmentConfig()


#: Handwritten digits: pens, slants and placements vary; mirror images do not occur.
HANDWRITING = AugmentConfig(
    rotation_deg=12.0, shear=0.25, zoom=(0.85, 1.12), shift_px=2.5, stroke=(-0.6, 1.0)
)
#: A gentler version for the dense baseline, which has no translation invariance to lean on.
HANDWRITING_MILD = AugmentConfig(
    rotation_deg=8.0, shear=0.1, zoom=(0.92, 1.05), shift_px=1.0, stroke=(-0.3, 0.5)
)
#: Fashion-MNIST items are upright and centred; left-right mirroring is natural.
FASHION = AugmentConfig(zoom=(0.95, 1.05), shift_px=2.0, hflip=True)


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
