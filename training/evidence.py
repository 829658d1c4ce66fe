"""Build a model's evidence from its training set, into the evidence cache
(`model.why.cache`; never the repository): its look-alike index, its atlas and the
training patches that excite each filter most.

    python -m training.evidence --model mnist-cnn --model mnist-mlp --data-dir DIR
    python -m training.evidence --model path/to/my.keras --data-dir DIR   # any model

Writes into that cache's `evidence/` folder (`$DIGITLENS_CACHE`, else
`~/.cache/digitlens`), per model file, named `<stem>-<key>`: the file's name and the first
16 hex digits of its SHA-256 (two models of one name in different folders keep their own
evidence; a byte-identical copy shares it):
- `<dataset>-train-<N>-<digest>.npz`: the training images and labels, uint8, shared by
  every model trained on those examples (the look-alikes' pixels);
- `<stem>-<key>.index.npz`: the training set embedded in the look-alike layer,
  PCA-reduced, float16 (`model.why.neighbours`);
- `<stem>-<key>.atlas.npz`: a 2-D map of ATLAS_POINTS training digits, the method with
  the higher trustworthiness (t-SNE or PCA), and the test digits the model misreads placed
  on it (`model.why.atlas`);
- `<stem>-<key>.patches.npz`: for each filter of each Conv2D layer, the TOP_PATCHES
  training digits' receptive-field crops where it responds most (`model.why.layers`);
- `<stem>-<key>.evidence.json`: what each file holds, how it was made and what it
  measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.classifier import Classifier
from model.datasets import CLASS_NAMES, load_split, locate, to_model_input
from model.errors import DigitLensError, EvidenceError
from model.load import load_classifier
from model.why.atlas import Atlas, Placer, atlas_path, save_atlas
from model.why.cache import EVIDENCE_SUFFIX, evidence_dir, evidence_path
from model.why.index import DIMS, K, build_index, index_path, save_index
from model.why.layers import BATCH, layer_names, layer_outputs, patches_path
from model.why.neighbours import nearest

#: Training digits on the atlas: as many as trustworthiness is measured on (t-SNE's time
#: grows faster than linearly, and the map stays readable).
ATLAS_POINTS = 5_000
#: Points on which trustworthiness is measured (the issue's 5,000; sklearn's is O(n^2)).
TRUST_POINTS = 5_000
#: Neighbourhood of trustworthiness (the issue's k = 10).
TRUST_K = 10
#: Crops kept per filter.
TOP_PATCHES = 8
SEED = 0
#: Layer kinds whose filters get top patches.
PATCH_KINDS = ("Conv2D",)


@dataclass(frozen=True)
class EvidenceConfig:
    """What `python -m training.evidence` makes; the flags override these."""

    dims: int = DIMS
    atlas_points: int = ATLAS_POINTS
    atlas_method: str = "auto"  # "auto" (higher trustworthiness), "tsne" or "pca"
    top_patches: int = TOP_PATCHES
    limit: int | None = None  # index only the first N training examples
    seed: int = SEED


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- atlas
def project(points: np.ndarray, method: str, seed: int = SEED) -> np.ndarray:
    """(N, d) -> (N, 2) float32 by `tsne` (sklearn, Barnes-Hut, PCA init) or `pca`."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(points).astype(np.float32)
    from sklearn.manifold import TSNE

    tsne = TSNE(2, init="pca", perplexity=30, random_state=seed, n_jobs=2)
    return tsne.fit_transform(points).astype(np.float32)


def trust(points: np.ndarray, xy: np.ndarray, seed: int = SEED) -> float:
    """sklearn's trustworthiness (k = TRUST_K) on TRUST_POINTS random points."""
    from sklearn.manifold import trustworthiness

    rng = np.random.default_rng(seed)
    sub = rng.choice(len(points), min(TRUST_POINTS, len(points)), replace=False)
    return float(trustworthiness(points[sub], xy[sub], n_neighbors=TRUST_K))


def make_atlas(clf: Classifier, index, test_x, test_y, cfg: EvidenceConfig, log) -> tuple:
    """The atlas over `cfg.atlas_points` index rows, and the trustworthiness of each method
    tried."""
    rng = np.random.default_rng(cfg.seed)
    rows = np.sort(rng.choice(len(index), min(cfg.atlas_points, len(index)), replace=False))
    points = index.embeddings[rows]
    methods = ("tsne", "pca") if cfg.atlas_method == "auto" else (cfg.atlas_method,)
    tried, maps = {}, {}
    for m in methods:
        t = time.perf_counter()
        maps[m] = project(points, m, cfg.seed)
        tried[m] = {
            "trustworthiness": round(trust(points, maps[m], cfg.seed), 4),
            "seconds": round(time.perf_counter() - t, 1),
        }
        log(f"  atlas {m}: {tried[m]}")
    best = max(tried, key=lambda m: tried[m]["trustworthiness"])
    xy = maps[best]
    name = "t-SNE (perplexity 30, PCA init)" if best == "tsne" else "PCA (2 components)"
    labels = index.labels[rows]
    # The misread test digits, placed like any new input.
    answers = clf.probabilities(test_x).argmax(1)
    wrong = np.flatnonzero(answers != test_y)
    atlas = Atlas(
        rows,
        xy,
        labels,
        name,
        tried[best]["trustworthiness"],
        wrong,
        np.zeros((len(wrong), 2), np.float32),
        test_y[wrong],
        answers[wrong],
    )
    if len(wrong):
        from model.why.layers import features

        placed = Placer(index, atlas)(index.reduce(features(clf.net, test_x[wrong], index.layer)))
        atlas = Atlas(
            rows,
            xy,
            labels,
            name,
            atlas.trustworthiness,
            wrong,
            placed,
            test_y[wrong],
            answers[wrong],
        )
    return atlas, tried


# ---------------------------------------------------------------- patches
def receptive_field(net, layer: str) -> tuple[int, int, int]:
    """(size, jump, start) of one unit of `layer` on the input grid: the unit at map
    position i sees input rows start + i * jump ... + size - 1. Follows the chain of
    single-input layers back to the input (Conv2D, pooling; others pass through)."""
    from model.runtime.graph import layer_edges

    parents: dict[str, list[str]] = {}
    for src, dst in layer_edges(net):
        parents.setdefault(dst, []).append(src)
    chain, name = [], layer
    while name in parents:
        chain.append(name)
        if len(parents[name]) != 1:
            raise ValueError(f"{name} has {len(parents[name])} inputs: no single receptive field")
        name = parents[name][0]
    size, jump, start = 1, 1, 0.0
    for name in reversed(chain):
        la = net.get_layer(name)
        kind = type(la).__name__
        if kind in ("Conv2D", "DepthwiseConv2D"):
            k, s = la.kernel_size[0], la.strides[0]
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            k, s = la.pool_size[0], la.strides[0]
        else:
            continue
        pad = (k - 1) // 2 if getattr(la, "padding", "valid") == "same" else 0
        start -= pad * jump
        size += (k - 1) * jump
        jump *= s
    return size, jump, int(start)


def top_patches(
    clf: Classifier, images: np.ndarray, top: int, log
) -> dict[str, dict[str, np.ndarray]]:
    """For each filter of each Conv2D layer: the `top` training digits where it responds
    most (one position per digit: its strongest), as receptive-field crops."""
    net = clf.net
    names = [n for n in layer_names(net) if type(net.get_layer(n)).__name__ in PATCH_KINDS]
    if not names:
        return {}
    geometry = {n: receptive_field(net, n) for n in names}
    best = {n: None for n in names}  # (filters, top) values, digit, position
    widths = {}  # each layer's map width
    for i in range(0, len(images), BATCH):
        outs = layer_outputs(net, to_model_input(images[i : i + BATCH]), names)
        for n, o in zip(names, outs, strict=True):
            widths[n] = o.shape[2]
            flat = o.reshape(len(o), -1, o.shape[-1])  # (B, h*w, F)
            pos = flat.argmax(1)  # (B, F): each digit's strongest position per filter
            val = flat.max(1)
            digit = np.broadcast_to(np.arange(i, i + len(o))[:, None], val.shape)
            cand = [val, digit, pos]
            if best[n] is not None:
                cand = [np.concatenate([b, c]) for b, c in zip(best[n], cand, strict=True)]
            order = np.argsort(-cand[0], axis=0, kind="stable")[:top]  # (top, F)
            best[n] = [np.take_along_axis(c, order, axis=0) for c in cand]
        if (i // BATCH) % 10 == 0:
            log(f"  patches: {i + len(images[i : i + BATCH])}/{len(images)} digits")
    out = {}
    for n in names:
        size, jump, start = geometry[n]
        val, digit, pos = (b.T for b in best[n])  # (F, top)
        width = widths[n]
        pad = size
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
        crops = np.zeros((*val.shape, size, size), np.uint8)
        for f in range(val.shape[0]):
            for r in range(val.shape[1]):
                y, x = divmod(int(pos[f, r]), width)
                y0, x0 = start + y * jump + pad, start + x * jump + pad
                crops[f, r] = padded[digit[f, r], y0 : y0 + size, x0 : x0 + size]
        out[n] = {
            "images": crops,
            "index": digit.astype(np.int32),
            "activation": val.astype(np.float32),
        }
    return out


# ---------------------------------------------------------------- one model
def knn_accuracy(clf: Classifier, index, x: np.ndarray, y: np.ndarray, k: int = K) -> float:
    """Share of `x` whose k nearest index rows' majority label is `y`."""
    rows, _ = nearest(clf, x, k, index)
    votes = index.labels[rows]
    majority = np.array([np.bincount(v[v >= 0], minlength=10).argmax() for v in votes])
    return float((majority == y).mean())


#: The data sets evidence is built from: 28x28 grey training images, read as model inputs.
EVIDENCE_DATASETS = ("mnist", "fashion-mnist")


def equip(
    name: str,
    data_dir: str | None,
    cfg: EvidenceConfig,
    log=print,
    dataset: str | None = None,
) -> dict:
    """Make and write every evidence file of one model; returns its description.
    dataset: the training set to index (its card's, else MNIST). Raises EvidenceError for
    a model that does not take 28x28 grey inputs (its look-alikes come from a folder)."""
    clf = load_classifier(name)
    if clf.input_shape != (28, 28, 1):
        h, w, c = clf.input_shape
        raise EvidenceError(
            f"{clf.name} takes {h}x{w}x{c} inputs: its evidence cannot be built from "
            f"{' or '.join(EVIDENCE_DATASETS)} (28x28 grey); index a folder of your own "
            "images instead: clf.neighbours(image, index=FOLDER) (FOLDER/<class>/*.png)"
        )
    dataset = dataset or clf.card.dataset or "mnist"
    log(f"{name}: from the {dataset} training set (--dataset to choose another)")
    folder = locate(dataset, data_dir)
    train, test = load_split(folder, "train"), load_split(folder, "test")
    n = len(train) if cfg.limit is None else min(cfg.limit, len(train))
    images, labels = train.images[:n], train.labels[:n]
    weights = evidence_dir()
    weights.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    # The shared pixels: written once per set of examples. The name carries a digest of
    # them: every model's evidence shares one cache, and two data sets of one name (a
    # user's "mnist" folder, a test's tiny one) must not read each other's pixels.
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()[:12]
    pixels = f"{dataset}-train-{n}-{digest}.npz"
    pixel_path = weights / pixels
    if not pixel_path.is_file():
        np.savez_compressed(pixel_path, images=images, labels=labels)
    log(f"{name}: pixels {pixels} ({pixel_path.stat().st_size / 1e6:.1f} MB)")

    source = f"{dataset} training set ({n:,} examples; #N: its N-th, counted from 0)"
    index = build_index(
        clf, to_model_input(images), labels, images=images, dims=cfg.dims, source=source
    )
    save_index(index, index_path(clf.artifact.keras_path), pixels=pixels)
    test_x = to_model_input(test.images)
    acc = knn_accuracy(clf, index, test_x, test.labels.astype(np.int64))
    log(f"{name}: index {index.layer}, {index.embeddings.shape}, kNN-{K} test accuracy {acc:.4f}")

    atlas, tried = make_atlas(clf, index, test_x, test.labels.astype(np.int64), cfg, log)
    save_atlas(atlas, atlas_path(clf.artifact.keras_path))

    patches = top_patches(clf, images, cfg.top_patches, log)
    ppath = patches_path(clf.artifact.keras_path)
    if patches:
        arrays = {f"{layer}/{k}": v for layer, d in patches.items() for k, v in d.items()}
        np.savez_compressed(ppath, **arrays)
    elif ppath.is_file():
        ppath.unlink()

    def size(p: Path) -> int | None:
        return p.stat().st_size if p.is_file() else None

    info = {
        "command": f"python -m training.evidence --model {name} --data-dir DATA_DIR"
        + ("" if cfg.limit is None else f" --limit {cfg.limit}"),
        "keras_sha256": sha256(clf.artifact.keras_path),
        "dataset": dataset,
        "class_names": list(CLASS_NAMES.get(dataset, clf.class_names)),
        "pixels": {"file": pixels, "examples": n, "size_bytes": size(pixel_path)},
        "index": {
            "file": index_path(clf.artifact.keras_path).name,
            "layer": index.layer,
            "dims": int(index.embeddings.shape[1]),
            "dtype": "float16",
            "metric": "euclidean",
            "size_bytes": size(index_path(clf.artifact.keras_path)),
            f"knn{K}_test_accuracy": round(acc, 4),
        },
        "atlas": {
            "file": atlas_path(clf.artifact.keras_path).name,
            "method": atlas.method,
            "points": len(atlas.rows),
            "trustworthiness_k10_5000": tried,
            "misread_test_digits": len(atlas.misread_test),
            "size_bytes": size(atlas_path(clf.artifact.keras_path)),
        },
        "patches": None
        if not patches
        else {
            "file": ppath.name,
            "layers": {k: list(v["images"].shape) for k, v in patches.items()},
            "size_bytes": size(ppath),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = evidence_path(clf.artifact.keras_path, EVIDENCE_SUFFIX)
    out.write_text(json.dumps(info, indent=2) + "\n")
    log(f"{name}: wrote {out.name} in {info['seconds']} s")
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.evidence",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", action="append", help="bundled name or .keras path (repeatable)")
    p.add_argument("--data-dir", help="folder with the data set's IDX files ($DIGITLENS_DATA_DIR)")
    p.add_argument("--dims", type=int, default=DIMS, help="PCA dimensions of the index")
    p.add_argument("--atlas-points", type=int, default=ATLAS_POINTS)
    p.add_argument("--atlas-method", choices=("auto", "tsne", "pca"), default="auto")
    p.add_argument("--top-patches", type=int, default=TOP_PATCHES)
    p.add_argument("--limit", type=int, help="index only the first N training examples")
    p.add_argument(
        "--dataset",
        choices=EVIDENCE_DATASETS,
        help="the training set to index (default: the model card's, else mnist)",
    )
    args = p.parse_args(argv)
    cfg = EvidenceConfig(
        args.dims, args.atlas_points, args.atlas_method, args.top_patches, args.limit
    )
    for name in args.model or ["mnist-cnn"]:
        try:
            equip(name, args.data_dir, cfg, lambda m: print(m, flush=True), args.dataset)
        except DigitLensError as exc:  # (a model it cannot serve, a data set not found)
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
