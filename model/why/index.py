"""A look-alike index: a model's representation of a data set, reduced and stored.

A model's index is `<stem>-<key>.index.npz` (never a pickle; the key: the model file's
content, `evidence_path`) in the evidence cache, its pixels in one shared file of the
training images (`mnist-train-<N>-<digest>.npz`); `python -m training.evidence` makes
them from the data set. For any other model, `build_index` embeds a data set (arrays, or
a folder of images via `index_for_folder`, cached) with a progress bar. Searching it is
`model.why.neighbours`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.errors import EvidenceError
from model.why.cache import cache_dir, evidence_path
from model.why.layers import BATCH, features, layer_names

if TYPE_CHECKING:
    from model.classifier import Classifier

#: Look-alikes shown unless told (the benchmark's and the issue's k) ...
K = 8
#: ... and the most one question may ask for (the server's and the CLI's bound: the CLI
#: took 100000, and gave "6265 of 60000 look-alikes are 7s").
MAX_K = 64

#: Queries of at most this many points search on one BLAS thread: waking OpenBLAS' pool
#: for a (1, 32) x (32, 60,000) product costs a median 16 ms (p90 69 ms) on the shared
#: 2-core machine against 0.15 ms on one thread (docs/why/look-alikes.md).
SMALL_QUERY = 16

_BLAS: list = []  # the process' one threadpoolctl controller, made on first use
_BLAS_LOCK = threading.Lock()


@contextmanager
def blas_threads(n: int | None):
    """Run the block with BLAS limited to n threads (None: unchanged). The limit is
    process-wide while the block runs (~0.1 ms here)."""
    if n is None:
        yield
        return
    with _BLAS_LOCK:
        if not _BLAS:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
    with _BLAS[0].limit(limits=n, user_api="blas"):
        yield


#: PCA dimensions kept in a model's index: kNN accuracy on MNIST test is unchanged from
#: the full 128-d fc2 at 32 (docs/why/look-alikes.md), at a quarter of the bytes.
DIMS = 32
#: The evidence file holding a model's index (`evidence_path`).
INDEX_SUFFIX = ".index.npz"
#: Layers skipped when looking back from the output for the representation: they do not
#: change it at inference time.
PASS_THROUGH = ("Dropout", "Activation", "Softmax", "GaussianNoise", "SpatialDropout2D")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True, eq=False)
class Index:
    """Embeddings of a data set in one layer of one model, searchable exactly."""

    layer: str
    embeddings: np.ndarray  # (N, d) float32, PCA-reduced
    labels: np.ndarray  # (N,) int64; -1 where unlabelled
    images: np.ndarray  # (N, H, W[, C]) uint8: what each example looks like
    mean: np.ndarray  # (D,) float32: the layer's mean output (PCA centre)
    components: np.ndarray  # (D, d) float32: the PCA basis (identity: no reduction)
    source: str  # a sentence: where the examples come from
    norms: np.ndarray  # (N,) float32: squared norms of the embeddings

    def __len__(self) -> int:
        return len(self.labels)

    def reduce(self, feats: np.ndarray) -> np.ndarray:
        """(M, D) layer outputs -> (M, d) points of this index."""
        return (np.asarray(feats, np.float32) - self.mean) @ self.components

    def search(self, points: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
        """(M, d) points -> the k nearest rows (M, k) int64 and their distances (M, k)."""
        k = min(int(k), len(self))
        if k < 1:
            raise EvidenceError(f"look-alikes need k >= 1 and a non-empty index (k={k})")
        q = np.asarray(points, np.float32)
        idx_out, dist_out = [], []
        for i in range(0, len(q), 256):  # (256, N) distances at a time: bounded memory
            part = q[i : i + 256]
            with blas_threads(1 if len(part) <= SMALL_QUERY else None):
                d2 = self.norms[None, :] - 2.0 * (part @ self.embeddings.T)  # + |q|^2 below
            nn = np.argpartition(d2, k - 1, axis=1)[:, :k]
            d = np.take_along_axis(d2, nn, axis=1)
            order = np.argsort(d, axis=1, kind="stable")
            nn, d = np.take_along_axis(nn, order, axis=1), np.take_along_axis(d, order, axis=1)
            d = np.sqrt(np.maximum(d + (part * part).sum(1, keepdims=True), 0.0))
            idx_out.append(nn)
            dist_out.append(d)
        return np.concatenate(idx_out), np.concatenate(dist_out)


def make_index(
    layer: str,
    embeddings: np.ndarray,
    labels: np.ndarray,
    images: np.ndarray,
    mean: np.ndarray,
    components: np.ndarray,
    source: str,
) -> Index:
    """An Index from its parts (squared norms computed here)."""
    emb = np.ascontiguousarray(embeddings, np.float32)
    return Index(
        layer,
        emb,
        np.asarray(labels, np.int64),
        np.asarray(images),
        np.asarray(mean, np.float32),
        np.asarray(components, np.float32),
        source,
        (emb * emb).sum(1),
    )


# ---------------------------------------------------------------- representation
def default_layer(net: Any) -> str:
    """The representation of look-alikes: the output of the layer that feeds the output
    layer (Dropout and the like passed over), e.g. `fc2` for the bundled models."""
    names = layer_names(net)
    if len(names) < 2:
        raise EvidenceError(f"{net.name} has no layer before its output to compare inputs in")
    for name in reversed(names[:-1]):
        if type(net.get_layer(name)).__name__ not in PASS_THROUGH:
            return name
    return names[-2]


def pca(feats: np.ndarray, dims: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> mean (D,), basis (D, d): the top-d principal directions, fitted on at most
    20,000 rows; the identity when dims is None or not below D."""
    feats = np.asarray(feats, np.float32)
    mean = feats.mean(0)
    if dims is None or dims >= feats.shape[1]:
        return mean, np.eye(feats.shape[1], dtype=np.float32)
    rng = np.random.default_rng(seed)
    rows = feats if len(feats) <= 20000 else feats[rng.choice(len(feats), 20000, replace=False)]
    _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
    return mean, np.ascontiguousarray(vt[:dims].T, np.float32)


def build_index(
    clf: Classifier,
    x: np.ndarray,
    labels: np.ndarray,
    images: np.ndarray | None = None,
    layer: str | None = None,
    dims: int | None = DIMS,
    source: str = "a user's data set",
    progress: bool = True,
) -> Index:
    """Embed `x` (N, H, W[, C]) model-format inputs in `layer` (default: `default_layer`)
    with a progress bar, reduce by PCA to `dims`, and return the Index.

    images: what to show for each example, uint8 (default: x scaled to 0..255).
    """
    from tqdm import tqdm

    net = clf.net
    layer = layer or default_layer(net)
    x = np.asarray(x, np.float32).reshape(-1, *clf.input_shape)
    if len(x) == 0:
        raise EvidenceError("cannot build a look-alike index from an empty data set")
    parts = []
    for i in tqdm(
        range(0, len(x), BATCH), desc=f"index {clf.name}", unit="batch", disable=not progress
    ):
        parts.append(features(net, x[i : i + BATCH], layer))
    feats = np.concatenate(parts)
    mean, basis = pca(feats, dims)
    if images is None:
        images = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
        images = images[..., 0] if images.shape[-1] == 1 else images
    emb = ((feats - mean) @ basis).astype(np.float16).astype(np.float32)  # as stored
    return make_index(layer, emb, labels, images, mean, basis, source)


# ---------------------------------------------------------------- files
def index_path(keras_path: Path) -> Path:
    """Where `python -m training.evidence` writes the model's index (`evidence_path`)."""
    return evidence_path(keras_path, INDEX_SUFFIX)


def save_index(index: Index, path: Path, pixels: str | None = None) -> Path:
    """Write an index as one `.npz` (float16 embeddings, no pickles). With `pixels` (a file
    name beside it, shared by several models) the images are not written again."""
    meta = {"layer": index.layer, "source": index.source, "pixels": pixels}
    arrays = {
        "embeddings": index.embeddings.astype(np.float16),
        "labels": index.labels.astype(np.int16),
        "mean": index.mean,
        "components": index.components,
        "meta": np.array(json.dumps(meta)),
    }
    if pixels is None:
        arrays["images"] = index.images
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


_PIXELS: dict[Path, tuple[np.ndarray, np.ndarray]] = {}
_PIXELS_LOCK = threading.Lock()


def read_pixels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A shared pixel file -> images (N, 28, 28) uint8, labels (N,); read once a process."""
    path = Path(path).resolve()
    with _PIXELS_LOCK:
        if path not in _PIXELS:
            with np.load(path, allow_pickle=False) as z:
                _PIXELS[path] = (z["images"], z["labels"])
        return _PIXELS[path]


def read_index(path: Path) -> Index:
    """Read an index written by `save_index`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            emb, labels = z["embeddings"].astype(np.float32), z["labels"].astype(np.int64)
            mean, basis = z["mean"], z["components"]
            images = z["images"] if "images" in z.files else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise EvidenceError.unreadable("the look-alike index", path.name, exc) from exc
    if images is None:
        pixel_file = path.parent / meta["pixels"]
        if not pixel_file.is_file():
            raise EvidenceError(f"{path.name} needs {meta['pixels']} beside it; it is missing")
        images, pixel_labels = read_pixels(pixel_file)
        if len(images) != len(emb) or not np.array_equal(pixel_labels, labels):
            raise EvidenceError(f"{meta['pixels']} does not hold the examples of {path.name}")
    return make_index(meta["layer"], emb, labels, images, mean, basis, meta["source"])


# ---------------------------------------------------------------- user folders
def images_from_folder(
    folder: str | os.PathLike, class_names: Sequence[str] = ()
) -> tuple[list[Path], np.ndarray]:
    """Image files of `folder` and their labels: `folder/<class>/*.png` (a class folder named
    by a class name or number), or images directly in `folder` (unlabelled: -1)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise EvidenceError(f"{root} is not a folder of images")
    files, labels = [], []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        label = -1
        if path.parent != root:
            name = path.relative_to(root).parts[0]
            if name in class_names:
                label = list(class_names).index(name)
            elif name.isdigit():
                label = int(name)
        files.append(path)
        labels.append(label)
    if not files:
        raise EvidenceError(f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files, np.array(labels, np.int64)


def build_folder_index(
    clf: Classifier, folder: str | os.PathLike, layer: str | None, progress: bool
) -> Index:
    files, labels = images_from_folder(folder, clf.class_names)
    key = hashlib.sha256()
    key.update(
        Path(clf.artifact.keras_path).read_bytes()
        if clf.artifact.keras_path.is_file()
        else clf.name.encode()
    )
    key.update(str(layer).encode())
    for f in files:
        st = f.stat()
        key.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    path = cache_dir() / "index" / f"{clf.name}-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        return read_index(path)
    from tqdm import tqdm

    read = tqdm(files, desc="read images", disable=not progress)
    x = np.stack([clf.preprocess(f) for f in read])
    images = None if clf.is_digit else np.stack([_thumbnail(f, clf.input_shape) for f in files])
    index = build_index(
        clf, x, labels, images, layer=layer, source=str(Path(folder)), progress=progress
    )
    save_index(index, path)
    return index


def _thumbnail(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A photo model's example as shown: RGB (or grey) uint8 at the model's input size (its
    model input is scaled for the network, not for people)."""
    from PIL import Image

    h, w, c = shape
    with Image.open(path) as img:
        small = img.convert("RGB" if c == 3 else "L").resize((w, h))
    return np.asarray(small)
