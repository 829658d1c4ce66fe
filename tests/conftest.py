"""Shared fixtures: tiny synthetic IDX files, and the real data sets where present."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from model.samples import drawn_digit  # noqa: F401  (re-exported for tests)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DIGITLENS_TEST_DATA", ROOT.parent / "shared" / "datasets"))


def write_idx(path: Path, array: np.ndarray, magic: int) -> Path:
    """Write `array` (uint8) as a gzip-compressed IDX file with the given magic number."""
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


def make_idx_dataset(folder: Path, n_train: int = 200, n_test: int = 50, seed: int = 0) -> Path:
    """A small, learnable fake data set: class c is a bright bar at row 2c+4."""
    from training.data import FILES, IMAGES_MAGIC, LABELS_MAGIC

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c + 4 : 2 * c + 6, 4:24] = 255
        write_idx(folder / FILES[f"{split}_images"], images, IMAGES_MAGIC)
        write_idx(folder / FILES[f"{split}_labels"], labels, LABELS_MAGIC)
    return folder


@pytest.fixture
def fake_data_dir(tmp_path: Path) -> Path:
    """A folder laid out like ../shared/datasets with a synthetic `mnist/`."""
    make_idx_dataset(tmp_path / "mnist")
    return tmp_path


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """../shared/datasets, or skip: the behavioural tests need the real test sets."""
    if not (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(
            f"real MNIST not found at {SHARED_DATA} (set DIGITLENS_TEST_DATA to its folder)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_cnn():
    """The real bundled mnist-cnn, loaded once."""
    from model import load_classifier

    return load_classifier("mnist-cnn")
