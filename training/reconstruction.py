"""The detector's second signal: how well a digits-only autoencoder redraws the input.

The detector nets learn digits *against* the negatives they are shown, and each new family
of negatives taught them that family, not what makes a drawing no digit (issue #21, third
and fourth rounds). An autoencoder trained on digits alone needs no negatives: a drawing it
cannot redraw is unlike every digit it saw, whatever family it comes from. Alone it is a
weak detector (it redraws a Fashion-MNIST shirt's blob well); added to the nets' log-odds
it lowered every family no net trained on at the same share of digits (scribbles 6.3 ->
2.4 %, scrawls 6.4 -> 3.9 %, handwritten letters 7.7 -> 6.3 %: docs/reference/verdict-rounds.md).

The term added to the detector's log-odds is `weight x (error - median) / spread`, error
being the mean squared difference between the (28, 28) input and its reconstruction,
median and spread (the interquartile range) measured on the calibration digits.
`with_reconstruction` writes it into the detector's ONNX file, so everything that runs a
detector (the judge, the fused graph, the browser, the LiteRT rebuild) runs it unchanged.
"""

from __future__ import annotations

import numpy as np

#: The autoencoder: 784 -> 128 -> 32 -> 128 -> 784, ReLU, a sigmoid out. Dense layers only,
#: so its ONNX form is a few MatMuls that every runtime here (and the LiteRT rebuild) reads.
WIDTHS = (128, 32, 128)
PARAMS = {"epochs": 10, "batch_size": 128, "learning_rate": 2e-3, "seed": 3}
#: Weight of the term (chosen on training families held out of the detector, see
#: docs/reference/verdict-rounds.md: 0.5, 1, 2 and 4 tried).
WEIGHT = 1.0
PREFIX = "reconstruction/"
OUTPUT = "ood_logit_reconstructed"


def build_autoencoder():
    import keras
    from keras import layers

    inp = keras.Input((28, 28, 1), name="image")
    h = layers.Flatten()(inp)
    for width in WIDTHS:
        h = layers.Dense(width, activation="relu")(h)
    out = layers.Dense(28 * 28, activation="sigmoid")(h)
    return keras.Model(inp, out, name="digit_autoencoder")


def train_autoencoder(digits: np.ndarray, log=print):
    """A digits-only autoencoder trained on (N, 28, 28) inputs in [0, 1]."""
    import keras

    keras.utils.set_random_seed(PARAMS["seed"])
    net = build_autoencoder()
    net.compile(
        optimizer=keras.optimizers.Adam(PARAMS["learning_rate"]), loss="binary_crossentropy"
    )
    x = np.asarray(digits, np.float32)[..., None]
    order = np.random.default_rng(PARAMS["seed"]).permutation(len(x))
    net.fit(
        x[order],
        x[order].reshape(len(x), -1),
        epochs=PARAMS["epochs"],
        batch_size=PARAMS["batch_size"],
        verbose=0,
    )
    log(f"autoencoder trained on {len(x)} digits")
    return net


def layer_weights(net) -> list[tuple[np.ndarray, np.ndarray]]:
    """The autoencoder's (kernel (in, out), bias (out,)) pairs, in order."""
    return [tuple(layer.get_weights()) for layer in net.layers if layer.get_weights()]


def errors(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """(N,) mean squared reconstruction error of (N, 28, 28) inputs, in NumPy (float32)."""
    h = np.asarray(x, np.float32).reshape(len(x), -1)
    flat = h
    for k, (w, b) in enumerate(weights):
        h = h @ w + b
        h = np.maximum(h, 0) if k < len(weights) - 1 else 1 / (1 + np.exp(-h))
    return ((h - flat) ** 2).mean(axis=1)


def has_reconstruction(model) -> bool:
    """Whether an ONNX detector (a ModelProto) holds a reconstruction term, at its top or
    inside an ensemble's member."""
    return any(PREFIX in n.name for n in model.graph.node)


def with_reconstruction(
    detector: bytes,
    weights: list[tuple[np.ndarray, np.ndarray]],
    median: float,
    spread: float,
    weight: float = WEIGHT,
) -> bytes:
    """The detector's ONNX graph with `weight x (error - median) / spread` added to its
    output: the autoencoder's MatMuls (under `PREFIX`) read the detector's own input."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(detector)
    graph = model.graph
    if has_reconstruction(model):
        raise ValueError("the detector has a reconstruction term already")
    if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18:
        raise ValueError("the term is written for ONNX opsets below 18 (ReduceMean's axes)")
    source, (out,) = graph.input[0].name, graph.output

    def const(name: str, value) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        graph.node.append(helper.make_node(op, inputs, [PREFIX + name], PREFIX + name, **attrs))
        return PREFIX + name

    shape = numpy_helper.from_array(np.array([-1, 28 * 28], np.int64), PREFIX + "shape")
    graph.initializer.append(shape)
    flat = node("Reshape", [source, shape.name], "flat")
    h = flat
    for k, (w, b) in enumerate(weights):
        h = node("MatMul", [h, const(f"{PREFIX}w{k}", w)], f"matmul{k}")
        h = node("Add", [h, const(f"{PREFIX}b{k}", b)], f"add{k}")
        h = node("Relu" if k < len(weights) - 1 else "Sigmoid", [h], f"act{k}")
    diff = node("Sub", [h, flat], "diff")
    error = node("ReduceMean", [node("Mul", [diff, diff], "square")], "error", axes=[1])
    centred = node("Sub", [error, const(PREFIX + "median", median)], "centred")
    term = node("Mul", [centred, const(PREFIX + "scale", weight / spread)], "term")
    graph.node.append(helper.make_node("Add", [out.name, term], [OUTPUT], PREFIX + "total"))
    graph.output.remove(out)
    graph.output.append(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["N", 1]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def trained_term(
    data_dir: str | None,
    scale: float,
    cal_x: np.ndarray,
    command: str,
    log=print,
    digits: np.ndarray | None = None,
):
    """(the autoencoder's weights, what the card records of it) for `training.ood
    --reconstruction`: trained on the detector's positives, typed digits included
    (`digits`, where the detector's training already rendered them: `detector_digits`;
    else rendered here), its error's median and spread (interquartile range) measured on
    the calibration digits `cal_x`."""
    if digits is None:
        from training.data import load_dataset
        from training.ood import training_digits

        ds = load_dataset("mnist", data_dir, val_fraction=0.1, seed=0)
        digits = np.concatenate(training_digits(ds, scale, log, typed=True))
    weights = layer_weights(train_autoencoder(digits, log))
    q1, median, q3 = (float(v) for v in np.quantile(errors(weights, cal_x), [0.25, 0.5, 0.75]))
    info = {
        "command": command,
        "widths": list(WIDTHS),
        "params": PARAMS,
        "digits": len(digits),
        "weight": WEIGHT,
        "median": round(median, 6),
        "spread": round(q3 - q1, 6),
    }
    return weights, info


def detector_digits(
    x: np.ndarray, y: np.ndarray, scale: float, typed: bool, log=print, drop_last: int = 0
) -> np.ndarray:
    """The autoencoder's digits from the detector's training set (`training.ood.
    training_data`, y = 0 for a digit): its positives, in order, and the typed digits
    where they were not among them (typed: they were), less the last `drop_last` (the
    handwriting fonts' digits, which the shipped term never saw); the same array as
    `training_digits(..., typed=True)` renders, without rendering it twice."""
    from training.ood import SEED, TRAIN_TYPED, typed_digits

    positives = x[y == 0]
    digits = [positives[: len(positives) - drop_last]]
    if not typed:
        digits.append(typed_digits(max(int(TRAIN_TYPED * scale), 10), SEED["train"] + 1))
        log(f"typed digits for the autoencoder: {len(digits[-1])}")
    return np.concatenate(digits)
