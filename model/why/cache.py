"""Where evidence built on this machine lives: look-alike indices, atlases, top patches
(made from a training set, so never kept in the repository) and indices of a user's
folders. One place decides it: `$DIGITLENS_CACHE`, else `~/.cache/digitlens`.

A model's evidence is named by its file's name and content: two models both called
`my_digits.keras` in different folders keep their own, and a byte-identical copy of one
shares it."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

# One place decides the folder (`model.runtime.artifacts`, below every room that caches).
from model.runtime.artifacts import CACHE_ENV, cache_dir, cached_file_sha256

__all__ = [
    "CACHE_ENV",
    "EVIDENCE_SUFFIX",
    "KEY_CHARS",
    "cache_dir",
    "evidence_dir",
    "evidence_file",
    "evidence_path",
    "other_version",
]

#: The JSON describing a model's evidence files (training.evidence), the model file's
#: SHA-256 among them.
EVIDENCE_SUFFIX = ".evidence.json"
#: Hex digits of the model file's SHA-256 in its evidence's names (64 bits: two model
#: files of one name never meet by chance).
KEY_CHARS = 16


def evidence_dir() -> Path:
    """The folder of every model's evidence: `<cache>/evidence`."""
    return cache_dir() / "evidence"


def evidence_path(keras_path: str | os.PathLike, suffix: str) -> Path:
    """Where a model's evidence file is written: `<cache>/evidence/<stem>-<key><suffix>`,
    the key the first KEY_CHARS hex digits of the `.keras` file's SHA-256 (remembered per
    version of the file: no request reads it twice). Evidence is made from the training
    set (`python -m training.evidence`), so it is built here and never kept in the
    repository. A network with no file (a Keras Application) has no key:
    `<stem><suffix>`."""
    path = Path(keras_path)
    try:
        key = cached_file_sha256(path)[:KEY_CHARS]
    except OSError:
        return evidence_dir() / (path.stem + suffix)
    return evidence_dir() / f"{path.stem}-{key}{suffix}"


def evidence_file(keras_path: str | os.PathLike, suffix: str) -> Path:
    """The evidence file to read: `evidence_path`, or else `<stem><suffix>` from a cache
    made before the names carried the key, where its `<stem>.evidence.json` records this
    very file's SHA-256 (it is this model's: no rebuild needed). `evidence_path` when
    neither is there."""
    path = evidence_path(keras_path, suffix)
    if path.is_file():
        return path
    unkeyed = evidence_dir() / (Path(keras_path).stem + suffix)
    if unkeyed != path and unkeyed.is_file():  # (unequal: the model file is there)
        made_from = _made_from(keras_path)
        if made_from is not None and made_from == cached_file_sha256(Path(keras_path)):
            return unkeyed
    return path


def other_version(keras_path: str | os.PathLike, suffix: str) -> Path | None:
    """An evidence file of this kind made from another file of the same name (another
    version of the model): `<stem>-<another key><suffix>`, or an unkeyed `<stem><suffix>`
    not made from this one; None if there is none. Ask only where `evidence_file` is
    missing."""
    stem = Path(keras_path).stem
    unkeyed = evidence_dir() / (stem + suffix)
    if unkeyed.is_file():
        return unkeyed
    pattern = f"{glob.escape(stem)}-{'[0-9a-f]' * KEY_CHARS}{glob.escape(suffix)}"
    return next(iter(sorted(evidence_dir().glob(pattern))), None)


def _made_from(keras_path: str | os.PathLike) -> str | None:
    """The SHA-256 an unkeyed `<stem>.evidence.json` records, None if none can be read."""
    card = evidence_dir() / (Path(keras_path).stem + EVIDENCE_SUFFIX)
    try:
        return json.loads(card.read_text()).get("keras_sha256")
    except (OSError, ValueError, AttributeError):
        return None
