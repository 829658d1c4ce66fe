"""Sanity check for explanation maps (Adebayo et al., NeurIPS 2018, "Sanity Checks for
Saliency Maps"): cascading randomisation of the model's weights.

The weights are re-initialised layer by layer, from the output layer down to the
first convolution; after each step every method's map is computed again on the
randomised copy (our compiled passes on the Keras network, never ONNX) and compared
with the map on the trained model by rank (Spearman) correlation, over all pixels
and within the ink only. A map that still looks the same when nothing the model
learnt is left explains the input, not the model.

    python -m training.sanity --model mnist-cnn --data-dir DATA_DIR

computes it once per model and stores it in the model's card under
"explanations" -> "sanity".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.runtime.backend import import_keras
from model.why.attribution import METHODS, compute_maps

#: A map passes when, with every layer randomised, its rank correlation with the trained
#: model's map stays below this, over all pixels and within the ink: it then keeps less
#: than a quarter of its ordering's variance (r^2 < 0.25). Input-multiplied maps
#: (Integrated Gradients, gradient x input) are judged within the ink only: they are zero
#: off the ink before and after by construction, so their all-pixel r partly measures
#: the ink mask, whatever the weights.
SANITY_MAX_R = 0.5
#: Pixels brighter than this are ink (MNIST-format inputs are in [0, 1]).
INK_THRESHOLD = 0.3
#: Digits the check runs on, and the seed of the re-initialisation.
SANITY_DIGITS = 32
SANITY_SEED = 0


@dataclass(frozen=True)
class SanityResult:
    """One method on one layer, with every layer randomised (and each step of the cascade)."""

    method: str
    layer: str | None
    rank_r_all: float  # median over inputs, fully randomised model
    rank_r_ink: float
    cascade: tuple[tuple[str, float, float], ...]  # (randomised down to, r_all, r_ink)

    @property
    def passed(self) -> bool:
        ink_ok = self.rank_r_ink < SANITY_MAX_R
        return bool(
            ink_ok and (METHODS[self.method].multiplies_input or self.rank_r_all < SANITY_MAX_R)
        )

    def to_dict(self) -> dict:
        return {
            "pass": self.passed,
            "rank_r_all": round(self.rank_r_all, 3),
            "rank_r_ink": round(self.rank_r_ink, 3),
            "cascade": [
                {"randomised_down_to": name, "rank_r_all": round(a, 3), "rank_r_ink": round(b, 3)}
                for name, a, b in self.cascade
            ],
        }


def key(method: str, layer: str | None) -> str:
    """The card's key for a method on a layer: `gradcam@conv3`, `saliency`."""
    return method if layer is None else f"{method}@{layer}"


def _rank(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=-1).astype(np.float64)


def rank_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Spearman r per pair of maps (N, H, W), optionally within a mask; NaN where one is flat."""
    n = len(a)
    out = np.full(n, np.nan)
    for i in range(n):
        p, q = a[i].ravel(), b[i].ravel()
        if mask is not None:
            m = mask[i].ravel()
            p, q = p[m], q[m]
        if p.size < 3 or p.std() == 0 or q.std() == 0:
            continue
        rp, rq = _rank(p), _rank(q)
        out[i] = np.corrcoef(rp, rq)[0, 1]
    return out


def cascade_layers(net: Any) -> list[str]:
    """The layers with a kernel, from the output down to the first (e.g. conv1)."""
    return [ly.name for ly in reversed(net.layers) if any("kernel" in w.path for w in ly.weights)]


def _reinitialise(layer: Any, rng: np.random.Generator) -> None:
    """Fresh weights: kernels Glorot-uniform, biases/shifts 0, scales/variances 1."""
    for w in layer.weights:
        name = w.path.rsplit("/", 1)[-1]
        shape = tuple(w.shape)
        if "kernel" in name:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = int(shape[-1]) * (int(np.prod(shape[:-2])) if len(shape) > 2 else 1)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-limit, limit, shape)
        elif name in ("gamma", "moving_variance"):
            value = np.ones(shape)
        else:
            value = np.zeros(shape)
        w.assign(value.astype(np.float32))


def _followers(net: Any, name: str) -> list[Any]:
    """Layers after `name` in the network's layer list that have no kernel (e.g. batch norm)."""
    names = [ly.name for ly in net.layers]
    after = net.layers[names.index(name) + 1 :]
    return [ly for ly in after if ly.weights and not any("kernel" in w.path for w in ly.weights)]


def sanity_check(
    net: Any,
    x: np.ndarray,
    labels: np.ndarray,
    targets: list[tuple[str, str | None]],
    seed: int = SANITY_SEED,
    photo: bool = False,
) -> list[SanityResult]:
    """Cascading randomisation on a copy of `net`; x (N, H, W[, C]), labels (N,).

    targets: (method, layer) pairs to check. The trained network is left untouched.
    photo: the "ink" correlation is read where the photo has detail (`detail_mask`), not
    where it is bright: a photo has no ink (digits: False, unchanged).
    """
    keras = import_keras()

    x = np.asarray(x, np.float32)
    shape = tuple(int(d) for d in net.inputs[0].shape[1:])
    x = x.reshape(-1, *shape)
    ink = detail_mask(x) if photo else x.sum(-1) > INK_THRESHOLD  # (N, H, W)
    labels = np.asarray(labels)
    trained = {t: compute_maps(net, x, t[0], t[1], labels) for t in targets}

    copy = keras.models.clone_model(net)
    copy.set_weights(net.get_weights())
    rng = np.random.default_rng(seed)
    steps: dict[tuple[str, str | None], list[tuple[str, float, float]]] = {t: [] for t in targets}
    for name in cascade_layers(copy):
        _reinitialise(copy.get_layer(name), rng)
        for follower in _followers(copy, name):
            _reinitialise(follower, rng)
        for t in targets:
            random_maps = compute_maps(copy, x, t[0], t[1], labels)
            r_all = rank_correlation(trained[t], random_maps)
            r_ink = rank_correlation(trained[t], random_maps, ink)
            steps[t].append((name, _median(r_all), _median(r_ink)))
    return [
        SanityResult(m, ly, steps[(m, ly)][-1][1], steps[(m, ly)][-1][2], tuple(steps[(m, ly)]))
        for m, ly in targets
    ]


def detail_mask(x: np.ndarray) -> np.ndarray:
    """x (N, H, W, C) photos -> (N, H, W) bool: where the local contrast |x - blur(x)| is
    above its median, the photo's counterpart of a digit's ink."""
    from model.why.trust import reference_maps

    contrast = reference_maps(x, perturbation="mean")[:, 0]  # (N, H, W)
    return contrast > np.median(contrast.reshape(len(x), -1), axis=1)[:, None, None]


def _median(r: np.ndarray) -> float:
    """Median over the inputs where the correlation is defined (0 where none is)."""
    r = r[np.isfinite(r)]
    return float(np.median(r)) if r.size else 0.0


def default_targets(conv_layers: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """Every registry method on every public conv layer (input methods once)."""
    return [
        (m.name, layer)
        for m in METHODS.values()
        for layer in (conv_layers if m.needs_conv else (None,))
    ]


def card_section(results: list[SanityResult], n: int) -> dict:
    """The card's "sanity" entry: plain pass/fail and numbers per method and layer."""
    return {
        "test": "cascading randomisation (Adebayo et al. 2018), output layer down to the first "
        "layer with weights (conv1 on a CNN); Spearman r of the map before and after, median "
        "over inputs",
        "pass_if": f"rank_r_all < {SANITY_MAX_R} and rank_r_ink < {SANITY_MAX_R} "
        "(input-multiplied methods: rank_r_ink only)",
        "inputs": n,
        "command": "python -m training.sanity --model MODEL --data-dir DATA_DIR",
        "methods": {key(r.method, r.layer): r.to_dict() for r in results},
    }
