"""Train the detector of a model that reads no digits: is this input a Fashion-MNIST item?

    python -m training.ood_items --model fashion-cnn --data-dir DIR

Without one, fashion-cnn's verdict is the max-softmax judge, and a drawn 7 is "Sandal,
99.5 %": the classifier is as sure of it as of a real sandal. This trains the digit
detector's network (`training.ood.build_detector`) on the model's own data set as positives
(Fashion-MNIST *train* images, read as an uploaded image is read) against what people
draw or upload that is not one: MNIST digits as they are and drawn on the canvas or
photographed, letters, pen letters, shapes, scribbles, scratches and noise, all from the
*train* half of `training.negatives` and through the model's own preprocessing. Its
thresholds are set on held-out Fashion-MNIST training images (the validation split), and
its card turns the digit rule "no digit has three loops" off (a sandal has many).
`python -m benchmarks.ood --model fashion-cnn` reports it on the *report* half.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from training.negatives import SEED, model_inputs, negatives, realistic_digits
from training.ood import DETECTOR_PARAMS, DIGIT_TPR, REJECT_FPR, export, train_detector

#: The data sets' own images: positives (the model's) and negatives (MNIST's), as fed.
TRAIN_ITEMS = 20000
TRAIN_MNIST = 8000
TRAIN_DRAWN_DIGITS = 8000  # realistic renders of MNIST training digits (canvas, photo, ...)
TRAIN_NEGATIVES = {
    "letters": 3000,
    "handwritten letters": 3000,
    "shapes": 3000,
    "scribbles": 3000,
    "scratches": 2000,
    "noise": 1500,
}
CALIBRATE_ITEMS = 2000  # held-out (validation) images of the model's data set
#: The classifier's -ln(max probability) is not added: Fashion-MNIST's classes overlap
#: (shirt, T-shirt, pullover, coat; ~9 % of its test set is misread), so a low top
#: probability marks a hard item more than a foreign one. Chosen before any result.
SOFTMAX_WEIGHT = 0.0


def training_data(dataset: str, recipe: str, data_dir: str | None, scale: float, log=print):
    """(x, y: 1 = not an item, weights) and the calibration inputs, all preprocessed."""
    from training.data import load_dataset

    n = lambda k: max(int(k * scale), 10)  # noqa: E731
    rng = np.random.default_rng(SEED["train"])
    items = load_dataset(dataset, data_dir, val_fraction=0.1, seed=0)
    mnist = load_dataset("mnist", data_dir, val_fraction=0.1, seed=0)
    t0 = time.perf_counter()
    pick = lambda split, k: split.images[rng.choice(len(split), size=k, replace=False)]  # noqa: E731
    pos = model_inputs(list(pick(items.train, n(TRAIN_ITEMS))), recipe)[0]
    log(f"{dataset}: {len(pos)} ({time.perf_counter() - t0:.0f} s)")
    parts = [model_inputs(list(pick(mnist.train, n(TRAIN_MNIST))), recipe)[0]]
    drawn, _ = realistic_digits(
        mnist.train.images, mnist.train.labels, n(TRAIN_DRAWN_DIGITS), SEED["train"]
    )
    parts.append(model_inputs(drawn, recipe)[0])
    log(f"digits: {sum(len(p) for p in parts)} ({time.perf_counter() - t0:.0f} s)")
    for k, (kind, count) in enumerate(TRAIN_NEGATIVES.items()):
        made = negatives(kind, n(count), "train", SEED["train"] + 200 + k, data_dir)
        parts.append(model_inputs(made, recipe)[0])
        log(f"{kind}: {len(parts[-1])} read of {n(count)} ({time.perf_counter() - t0:.0f} s)")
    neg = np.concatenate(parts)
    x = np.concatenate([pos, neg])
    y = np.concatenate([np.zeros(len(pos)), np.ones(len(neg))])
    w = np.where(y == 1, len(pos) / max(len(neg), 1), 1.0)  # both sides weigh the same
    cal_rng = np.random.default_rng(SEED["calibrate"])
    cal = items.val.images[cal_rng.choice(len(items.val), size=n(CALIBRATE_ITEMS), replace=False)]
    return x, y, w, model_inputs(list(cal), recipe)[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.ood_items",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="fashion-cnn", help="a bundled model of non-digits")
    p.add_argument("--data-dir", help="folder with MNIST and Fashion-MNIST")
    p.add_argument("--epochs", type=int, default=DETECTOR_PARAMS["epochs"])
    p.add_argument("--scale", type=float, default=1.0, help="shrink every set (quick trials)")
    args = p.parse_args(argv)

    from model import load_classifier
    from model.judge.verdict import Detector, calibrate, write_ood_card

    clf = load_classifier(args.model, runtime="onnx")
    if clf.recipe == "mnist":
        raise SystemExit(f"{args.model} reads digits: train its detector with training.ood")
    dataset = clf.card.dataset_or_default
    x, y, w, cal_x = training_data(dataset, clf.recipe, args.data_dir, args.scale)
    net = train_detector(x, y, w, args.epochs)
    keras_path = clf.artifact.keras_path
    out = keras_path.with_name(f"{keras_path.stem}.ood.onnx")
    export(net, out)
    card = calibrate(
        Detector(out).scores(cal_x),
        clf.probabilities(cal_x),
        file=out.name,
        digit_tpr=DIGIT_TPR,
        reject_fpr=REJECT_FPR,
        softmax_weight=SOFTMAX_WEIGHT,
        loop_penalty=0.0,
        trained={
            "command": f"python -m training.ood_items --model {keras_path.stem}"
            + (f" --epochs {args.epochs}" if args.epochs != DETECTOR_PARAMS["epochs"] else "")
            + (f" --scale {args.scale}" if args.scale != 1.0 else "")
            + " --data-dir DIR",
            "positives": {f"{dataset}_train": TRAIN_ITEMS},
            "negatives": {
                "mnist_train": TRAIN_MNIST,
                "drawn_digits": TRAIN_DRAWN_DIGITS,
                **TRAIN_NEGATIVES,
            },
            "scale": args.scale,
            "params": {**DETECTOR_PARAMS, "epochs": args.epochs},
            "calibration": f"{len(cal_x)} held-out {dataset} training images (validation "
            f"split, seed {SEED['calibrate']}), softmax weight {SOFTMAX_WEIGHT}",
        },
    )
    write_ood_card(keras_path, card)
    print(json.dumps(card.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
