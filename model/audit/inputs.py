"""What an audit reads: one row per input, before anything is decoded.

An INPUT is any of:
- a folder (searched recursively) or a single image or video file;
- a glob (`scans/**/*.png`);
- an IDX data set: an `*-images-idx3-ubyte.gz` file (its labels file beside it is
  read too), or `mnist:test`, `fashion-mnist:train` (found with `--data-dir` /
  $DIGITLENS_DATA_DIR, like the training pipeline);
- a Parquet or CSV list of paths (a `path` column; an optional label column).

Object storage: a list may itself be a URI (`s3://bucket/list.parquet`, `gs://...`) and
may name URIs; they are read with pyarrow's file systems (credentials from the
environment, as pyarrow finds them), so a cluster job audits a bucket without copying it.

Every video is sampled at `fps` frames per second: one row per sampled frame. Rows
are plain columns (`path`, `frame`, `true_label`) so that any engine, a local loop
or Ray Data, can split them into batches; images are decoded only in the batch.
"""

from __future__ import annotations

import glob as globbing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.datasets import FILES, DatasetError, locate
from model.errors import DigitLensError
from model.input.sources import (
    DEFAULT_FPS,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    count_samples,
    is_media,
)

#: `path#index` names one image of an IDX file.
IDX_SEPARATOR = "#"
#: Column names accepted for the true label in a Parquet/CSV list.
LABEL_COLUMNS = ("label", "true_label", "y", "class")
UNKNOWN = -1  # no frame (an image) or no label


class AuditInputError(DigitLensError):
    """An audit input cannot be listed; the message says what was expected."""


@dataclass(frozen=True)
class Rows:
    """The inputs of an audit, one entry per image or video frame."""

    path: np.ndarray  # (N,) str
    frame: np.ndarray  # (N,) int64, UNKNOWN for an image
    true_label: np.ndarray  # (N,) int64, UNKNOWN where not known
    labelled: bool  # whether any label was given

    def __len__(self) -> int:
        return len(self.path)

    def columns(self) -> dict[str, np.ndarray]:
        return {"path": self.path, "frame": self.frame, "true_label": self.true_label}

    def head(self, n: int | None) -> Rows:
        """The first `n` rows (all of them for None): a slice of a large set to look at
        first. `labelled` stays the whole list's, so a slice without labels keeps the
        column."""
        if n is None:
            return self
        return Rows(self.path[:n], self.frame[:n], self.true_label[:n], self.labelled)


def _idx_rows(images_file: Path) -> tuple[list[str], list[int], list[int]]:
    """`file#i` for every image of an IDX images file, with the labels file's labels."""
    from model.datasets import IMAGES_MAGIC, LABELS_MAGIC, _read_idx

    labels_file = Path(str(images_file).replace("images-idx3", "labels-idx1"))
    try:
        images = _read_idx(images_file, IMAGES_MAGIC)
        labels = (
            _read_idx(labels_file, LABELS_MAGIC).astype(int).tolist()
            if labels_file != images_file and labels_file.is_file()
            else [UNKNOWN] * len(images)
        )
    except DatasetError as exc:  # a truncated, uncompressed or mislabelled file
        raise AuditInputError(str(exc)) from exc
    if len(labels) != len(images):
        raise AuditInputError(
            f"{images_file}: {len(images)} images but {len(labels)} labels in {labels_file.name}"
        )
    paths = [f"{images_file}{IDX_SEPARATOR}{i}" for i in range(len(images))]
    return paths, [UNKNOWN] * len(paths), labels


def _is_dataset(spec: str) -> bool:
    """`mnist:test`, `fashion-mnist:train`: a name and a split, no folder or glob (a folder
    `run_10:00/` in a path is not one)."""
    name, sep, _ = spec.partition(":")
    plain = not any(ch in spec for ch in "/\\*?[")
    return bool(sep and name and plain) and not Path(spec).exists() and not Path(spec).drive


def _dataset_rows(spec: str, data_dir: str | None) -> tuple[list[str], list[int], list[int]]:
    """`mnist:test` -> the rows of that split's IDX file."""
    name, _, split = spec.partition(":")
    if split not in ("train", "test"):
        raise AuditInputError(f"{spec}: say which split, e.g. {name}:test or {name}:train")
    try:
        folder = locate(name, data_dir)
    except DatasetError as exc:
        raise AuditInputError(str(exc)) from exc
    return _idx_rows(folder / FILES[f"{split}_images"])


def is_uri(text: str) -> bool:
    """`s3://...`, `gs://...`, `file://...`: read through pyarrow's file systems."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isalnum() and len(scheme) > 1


def read_bytes(uri: str) -> bytes:
    """The bytes of an object-storage (or file://) URI."""
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(uri)
    with filesystem.open_input_file(path) as f:
        return f.read()


def _list_rows(path: Path | str) -> tuple[list[str], list[int], list[int]]:
    """A Parquet or CSV file with a `path` column (relative paths: to the list's folder)."""
    import pyarrow.csv
    import pyarrow.parquet

    text = str(path)
    try:
        if text.lower().endswith(".parquet"):
            table = pyarrow.parquet.read_table(text)
        elif is_uri(text):
            table = pyarrow.csv.read_csv(pyarrow.BufferReader(read_bytes(text)))
        else:
            table = pyarrow.csv.read_csv(text)
    except Exception as exc:  # pyarrow raises its own error types for bad files
        raise AuditInputError(f"{path}: cannot read it as a list of paths ({exc})") from exc
    if "path" not in table.column_names:
        raise AuditInputError(f"{path}: needs a `path` column; it has {table.column_names}")
    base = text.rsplit("/", 1)[0] if is_uri(text) else str(Path(text).parent)
    listed = table.column("path").to_pylist()
    if None in listed or "" in listed:
        row = next(i for i, p in enumerate(listed) if p in (None, ""))
        raise AuditInputError(f"{path}: row {row + 1} has no path")
    paths = [
        str(p) if is_uri(str(p)) or Path(str(p)).is_absolute() else f"{base}/{p}" for p in listed
    ]
    label_column = next((c for c in LABEL_COLUMNS if c in table.column_names), None)
    labels = (
        _labels(table.column(label_column).to_pylist(), f"{path}: column `{label_column}`")
        if label_column
        else [UNKNOWN] * len(paths)
    )
    return paths, [UNKNOWN] * len(paths), labels


def _labels(values: list, where: str) -> list[int]:
    """A list's labels as class indices (UNKNOWN where empty); anything else is refused
    in words: a class name, a fraction, a negative number."""
    out = []
    for i, v in enumerate(values):
        if v is None or v == "" or (isinstance(v, float) and np.isnan(v)):
            out.append(UNKNOWN)
            continue
        try:
            k = float(v)
        except (TypeError, ValueError):
            k = float("nan")
        if not (k.is_integer() and k >= 0):
            raise AuditInputError(
                f"{where}, row {i + 1}: {v!r} is not a class index (0, 1, 2, ...); "
                "labels are the classes' numbers, as the model's outputs are"
            )
        out.append(int(k))
    return out


def _file_rows(files: list[Path], fps: float) -> tuple[list[str], list[int], list[int]]:
    """Image files as one row each; videos as one row per sampled frame."""
    paths: list[str] = []
    frames: list[int] = []
    for f in files:
        if f.suffix.lower() in VIDEO_SUFFIXES:
            n = count_samples(f, fps)
            # Unknown length: one row that the batch reports as unreadable, never a crash.
            for k in range(n if n is not None else 1):
                paths.append(str(f))
                frames.append(k)
        else:
            paths.append(str(f))
            frames.append(UNKNOWN)
    return paths, frames, [UNKNOWN] * len(paths)


def _is_idx(path: Path) -> bool:
    return "idx3-ubyte" in path.name


def idx_reference(path: str) -> tuple[Path, int] | None:
    """`file#i` -> (the IDX images file, i); None for any other path (a file whose own
    name holds a `#`). Raises AuditInputError for an index that is not a number."""
    file, sep, index = path.rpartition(IDX_SEPARATOR)
    if not sep or not _is_idx(Path(file)) or Path(path).exists():
        return None
    if not index.isdigit():
        raise AuditInputError(f"{path}: after `#` comes an image's number (0, 1, 2, ...)")
    return Path(file), int(index)


def list_inputs(
    inputs: list[str], fps: float = DEFAULT_FPS, data_dir: str | os.PathLike | None = None
) -> Rows:
    """Every input of an audit as rows, in a stable order (inputs as given, files sorted)."""
    if not fps > 0:
        raise AuditInputError(f"fps must be above 0 (frames sampled per video second), not {fps}")
    paths: list[str] = []
    frames: list[int] = []
    labels: list[int] = []
    media = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for spec in inputs:
        path = Path(spec)
        if is_uri(spec):
            if not spec.lower().endswith((".parquet", ".csv")):
                raise AuditInputError(f"{spec}: from object storage, give a Parquet/CSV list")
            found = _list_rows(spec)
        elif _is_dataset(spec):
            found = _dataset_rows(spec, None if data_dir is None else str(data_dir))
        elif path.is_file() and _is_idx(path):
            found = _idx_rows(path)
        elif path.is_file() and path.suffix.lower() in (".parquet", ".csv"):
            found = _list_rows(path)
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if is_media(p))  # (a dead link: a row)
            found = _file_rows(files, fps)
        elif path.is_file():
            found = _file_rows([path], fps)
        elif any(ch in spec for ch in "*?["):
            files = sorted(Path(p) for p in globbing.glob(spec, recursive=True))
            found = _file_rows([p for p in files if p.is_file() and p.suffix.lower() in media], fps)
        else:
            raise AuditInputError(f"{spec}: no such file, folder, glob match or data set")
        paths += found[0]
        frames += found[1]
        labels += found[2]
    true_label = np.array(labels, np.int64)
    return Rows(
        np.array(paths, dtype=object),
        np.array(frames, np.int64),
        true_label,
        bool((true_label != UNKNOWN).any()),
    )
