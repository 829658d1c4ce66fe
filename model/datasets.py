"""MNIST and Fashion-MNIST from their four canonical IDX `.gz` files.

Where the files come from, in order:
1. a folder given as `data_dir` (the `--data-dir` flag) or `$DIGITLENS_DATA_DIR`,
   holding `<dataset>/<file>` or the four files directly;
2. otherwise a download from the standard mirrors (the ones `keras.datasets`
   uses), cached under `~/.keras/datasets/digitlens/<dataset>/`.

Every file is validated (gzip integrity, IDX magic number, dimensions, and
that the byte count matches the header) so that a corrupt or truncated file
fails loudly, naming the file, and never loads partially.
"""

from __future__ import annotations

import gzip
import os
import struct
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "DIGITLENS_DATA_DIR"

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

MIRRORS = {
    "mnist": (
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    "fashion-mnist": ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",),
}

CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}


class DatasetError(RuntimeError):
    """A data set cannot be found, fetched or parsed; the message says what to do."""


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28) uint8 with white ink on black, labels (N,) uint8."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one gzip-compressed IDX file; raise DatasetError naming the file if it is bad."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: not a readable gzip file ({exc})") from exc

    ndim = 3 if magic == IMAGES_MAGIC else 1
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DatasetError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise DatasetError(f"{path}: bad IDX magic number {found}, expected {magic}")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    if ndim == 3 and shape[1:] != (28, 28):
        raise DatasetError(f"{path}: images are {shape[1]}x{shape[2]}, expected 28x28")
    expected = int(np.prod(shape))
    body = len(raw) - header_size
    if body != expected:
        raise DatasetError(
            f"{path}: header promises {shape[0]} items ({expected} bytes) but the file "
            f"holds {body} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _find_local(name: str, data_dir: Path) -> Path:
    """The folder inside `data_dir` that holds `name`'s four files."""
    # DIR/<name>/ (a folder of data sets), or DIR itself when it is named after the set;
    # never an unnamed folder, which could hold the other data set's identical file names.
    candidates = [data_dir / name] + ([data_dir] if data_dir.name == name else [])
    for candidate in candidates:
        if all((candidate / f).is_file() for f in FILES.values()):
            return candidate
    missing = [f for f in FILES.values() if not (data_dir / name / f).is_file()]
    raise DatasetError(
        f"{data_dir}: no {name} files there (looked in {data_dir / name}; "
        f"missing {', '.join(missing)})"
    )


def _download(name: str, cache: Path, timeout: float = 30.0) -> Path:
    """Fetch the four files into `cache` from the first mirror that answers."""
    cache.mkdir(parents=True, exist_ok=True)
    for filename in FILES.values():
        target = cache / filename
        if target.is_file():
            continue
        errors = []
        for mirror in MIRRORS[name]:
            try:
                tmp = target.with_suffix(".part")
                with urllib.request.urlopen(mirror + filename, timeout=timeout) as r:
                    tmp.write_bytes(r.read())
                tmp.replace(target)
                break
            except (urllib.error.URLError, OSError) as exc:
                errors.append(f"{mirror}: {getattr(exc, 'reason', exc)}")
        else:
            raise DatasetError(
                f"cannot download {name} ({'; '.join(errors)}); offline? point at local files "
                f"with --data-dir DIR or {DATA_DIR_ENV}=DIR (DIR/{name}/{filename} ...)"
            )
    return cache


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding `name`'s four IDX files, downloading them if no folder is given."""
    if name not in MIRRORS:
        raise DatasetError(f"unknown data set {name!r}; choose from {', '.join(MIRRORS)}")
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    if folder:
        return _find_local(name, Path(folder).expanduser())
    return _download(name, Path.home() / ".keras" / "datasets" / "digitlens" / name)


def load_split(folder: Path, split: str) -> Split:
    """Load `train` or `test` from a folder of IDX files; images and labels must agree."""
    images = _read_idx(folder / FILES[f"{split}_images"], IMAGES_MAGIC)
    labels = _read_idx(folder / FILES[f"{split}_labels"], LABELS_MAGIC)
    if len(images) != len(labels):
        raise DatasetError(f"{folder}: {split} has {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{folder / FILES[f'{split}_labels']}: label {labels.max()} > 9")
    return Split(images, labels)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 28, 28, 1) float32 in [0, 1], the models' input format."""
    return (images.astype(np.float32) / 255.0)[..., None]
