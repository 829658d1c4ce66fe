"""Where evidence built on this machine lives: look-alike indices, atlases, top patches
(made from a training set, so never kept in the repository) and indices of a user's
folders. One place decides it: `$DIGITLENS_CACHE`, else `~/.cache/digitlens`."""

from __future__ import annotations

import os
from pathlib import Path

# One place decides the folder (`model.runtime.artifacts`, below every room that caches).
from model.runtime.artifacts import CACHE_ENV, cache_dir

__all__ = ["CACHE_ENV", "cache_dir", "evidence_path"]


def evidence_path(keras_path: str | os.PathLike, suffix: str) -> Path:
    """Where a model's evidence file lives: `<cache>/evidence/<name><suffix>`. Evidence is
    made from the training set (`python -m training.evidence`), so it is built here and
    never kept in the repository; a stale one is refused (its card holds the model's
    SHA-256)."""
    return cache_dir() / "evidence" / (Path(keras_path).stem + suffix)
