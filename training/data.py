"""The training view of a data set: a seeded, stratified validation split carved out of
its training set (never the test set). Reading the IDX files is `model.datasets`'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from model.datasets import CLASS_NAMES, Split, load_split, locate


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[self.name]


def validation_split(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Split the training set (never the test set) into train/val, stratified and seeded."""
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(train.labels):
        idx = np.flatnonzero(train.labels == c)
        rng.shuffle(idx)
        val_idx.append(idx[: round(len(idx) * fraction)])
    val_mask = np.zeros(len(train), dtype=bool)
    val_mask[np.concatenate(val_idx)] = True
    return (
        Split(train.images[~val_mask], train.labels[~val_mask]),
        Split(train.images[val_mask], train.labels[val_mask]),
    )


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Load a data set with a seeded validation split carved out of its training set."""
    folder = locate(name, data_dir)
    train, val = validation_split(load_split(folder, "train"), val_fraction, seed)
    return Dataset(name, train, val, load_split(folder, "test"))
