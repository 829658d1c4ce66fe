"""Any Keras classifier, measured offline: the pointing game of every explanation method on
a small RGB CNN trained on shapes on noise, and the latency of the Keras Applications
(random weights: their speed, not their accuracy, which needs ImageNet weights).

    python -m benchmarks.any_classifier --images 100 --repeats 20

The task (`shapes_on_noise`, the test suite's too): one coloured square, disc or cross on RGB
noise; a map "points" when its peak lies on the shape (one pixel of slack).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.tables import Lines, command_line, write_table

#: Training set of the shapes classifier and its epochs (a few seconds on a CPU).
TRAIN_IMAGES, EPOCHS = 1500, 6
SIDE = 32
FAMILIES = ("mobilenet_v2", "resnet50", "efficientnet_b0")


def shapes_on_noise(
    n: int, size: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A task whose answer has a known place: one coloured shape on RGB noise.

    Returns (images (n, size, size, 3) uint8, labels (n,) in {0: red square, 1: green
    disc, 2: blue cross}, boxes (n, 4) as y0, y1, x0, x1 of the shape).
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 160, (n, size, size, 3)).astype(np.uint8)
    labels = rng.integers(0, 3, n)
    boxes = np.zeros((n, 4), int)
    side = size // 3
    yy, xx = np.mgrid[:side, :side]
    disc = (yy - side / 2 + 0.5) ** 2 + (xx - side / 2 + 0.5) ** 2 <= (side / 2) ** 2
    cross = (np.abs(yy - side // 2) <= 1) | (np.abs(xx - side // 2) <= 1)
    masks = (np.ones((side, side), bool), disc, cross)
    colours = ((255, 40, 40), (40, 255, 40), (40, 40, 255))
    for i, c in enumerate(labels):
        y0, x0 = rng.integers(0, size - side, 2)
        patch = images[i, y0 : y0 + side, x0 : x0 + side]
        patch[masks[c]] = colours[c]
        boxes[i] = (y0, y0 + side, x0, x0 + side)
    return images, labels, boxes


def train_shapes_net(folder: Path) -> Path:
    """Train the shapes CNN (the test suite's too) and save it as a Sequential `.keras` file
    in `folder`; return its path."""
    import keras

    keras.utils.set_random_seed(0)
    x, y, _ = shapes_on_noise(TRAIN_IMAGES, SIDE, seed=0)
    net = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="c2"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="c3"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    net.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    net.fit(x / 255.0, y, epochs=EPOCHS, batch_size=64, verbose=0)
    path = folder / "shapes.keras"
    net.save(path)
    return path


def shapes_classifier(folder: Path):
    """The shapes CNN, trained, saved and loaded back through `load_classifier`."""
    from model import load_classifier

    return load_classifier(train_shapes_net(folder))


def pointing_game(clf, n: int) -> dict[str, tuple[float, float]]:
    """method -> (share of maps whose peak is on the shape, mean trust score)."""
    from model.why.attribution import METHODS, available_methods, compute_maps, default_method
    from model.why.trust import trust_batch

    images, labels, boxes = shapes_on_noise(n, SIDE, seed=123)
    x = images.astype(np.float32) / 255.0
    layer = default_method(clf)[1]
    out = {}
    for method in available_methods(clf):
        maps = compute_maps(
            clf.net, x, method, layer if METHODS[method].needs_conv else None, labels
        )
        peaks = [np.unravel_index(np.argmax(m), m.shape) for m in maps]
        hits = [
            y0 - 1 <= py <= y1 and x0 - 1 <= px <= x1
            for (py, px), (y0, y1, x0, x1) in zip(peaks, boxes, strict=True)
        ]
        trusts = trust_batch(clf.probabilities, x, maps, labels, perturbation="mean")
        out[method] = (float(np.mean(hits)), float(np.mean([t.score for t in trusts])))
    return out


def chosen_default(clf):
    """The default `model.why.choice` picks on the first inputs the model sees (shapes of
    another seed than the pointing game's)."""
    from model.why.choice import CHOICE_INPUTS, choose_on

    images, _, _ = shapes_on_noise(CHOICE_INPUTS, SIDE, seed=21)
    return choose_on(clf, images.astype(np.float32) / 255.0)


def latency(name: str, repeats: int) -> tuple[float, float]:
    """(median ms of one 224x224 prediction, of one default Grad-CAM map) on random weights."""
    from model import load_classifier
    from model.why.attribution import explain

    clf = load_classifier(name, weights=None)
    x = np.random.default_rng(0).uniform(-1, 1, (1, *clf.input_shape)).astype(np.float32)
    clf.probabilities(x)
    explain(clf, x[0])
    pred, cam = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        clf.probabilities(x)
        pred.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        explain(clf, x[0])
        cam.append((time.perf_counter() - t) * 1e3)
    return float(np.median(pred)), float(np.median(cam))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.any_classifier", description=__doc__)
    p.add_argument("--images", type=int, default=100, help="pointing-game images")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per model")
    args = p.parse_args(argv)
    out = Lines()
    with tempfile.TemporaryDirectory() as tmp:
        clf = shapes_classifier(Path(tmp))
        out(
            f"| method (shapes CNN, {args.images} images) | pointing game | trust (mean deletion) |"
        )
        out("| --- | --- | --- |")
        for method, (hit, score) in pointing_game(clf, args.images).items():
            out(f"| {method} | {hit:.0%} | {score:+.2f} |")
        chosen = chosen_default(clf)
        out(
            f"\nWithout a card, the default is chosen on the first {chosen.inputs} inputs "
            f"(model.why.choice): {chosen.method}, {chosen.reason}."
        )
    out("\n| model (random weights, 224x224) | predict ms (median) | Grad-CAM ms (median) |")
    out("| --- | --- | --- |")
    for name in FAMILIES:
        pred, cam = latency(name, args.repeats)
        out(f"| {name} | {pred:.1f} | {cam:.1f} |")
    write_table(
        "any-classifier", out.markdown, command_line("python -m benchmarks.any_classifier", argv)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
