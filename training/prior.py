"""Train the generative prior of counterfactuals: `python -m training.prior`.

    python -m training.prior --data-dir DATA_DIR   # -> model/weights/mnist.prior.keras
    python -m training.prior --dataset mnist --epochs 2 --limit 5000 --output /tmp/p.keras

A small convolutional variational autoencoder (Kingma & Welling, 2014) learns
what handwritten digits look like; `model.why.counterfactual` searches its latent
space so an edit stays a digit. Only the deterministic path (encoder mean ->
decoder) is saved, as one `.keras` file (safe mode, no custom layers) holding
the two nested models `encoder` and `decoder`. Beside it, `<dataset>.prior.json`
(`model.why.counterfactual.PriorCard`) records the training command, the held-out
reconstruction error and each class's latent prototypes (k-means centres of its
training digits' codes, as in Van Looveren & Klaise's CFProto).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.runtime.artifacts import WEIGHTS_DIR
from model.why.prior import PriorCard, prior_card_path, write_prior_card

#: Latent size: 16 reconstructs MNIST well (held-out BCE ~ see the card) and keeps the
#: search small; the decoder stays under ~100 k parameters.
LATENT_DIM = 16
#: Prototypes per class: the k-means centres of the class's codes (a "1" leans left or
#: right, a "7" has a bar or not: one mean would be a blur of them).
PROTOTYPES = 4


@dataclass(frozen=True)
class PriorConfig:
    dataset: str = "mnist"
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 2e-3
    beta: float = 1.0  # KL weight of the VAE loss (1: the plain evidence lower bound)
    seed: int = 7
    data_dir: str | None = None
    output: str | None = None  # default: model/weights/<dataset>.prior.keras
    limit: int | None = None  # train on the first N training images (smoke runs)


def build_prior(latent_dim: int = LATENT_DIM):
    """(encoder: image -> (z_mean, z_log_var), decoder: z -> image, saved: image -> image)."""
    import keras
    from keras import layers

    inp = keras.Input((28, 28, 1), name="image")
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc_conv1")(inp)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="enc_conv2")(h)
    h = layers.Flatten(name="enc_flatten")(h)  # (N, 7 * 7 * 64)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    encoder_train = keras.Model(inp, [z_mean, z_log_var], name="encoder_train")
    encoder = keras.Model(inp, z_mean, name="encoder")

    z = keras.Input((latent_dim,), name="z")
    g = layers.Dense(7 * 7 * 64, activation="relu", name="dec_dense")(z)
    g = layers.Reshape((7, 7, 64), name="dec_reshape")(g)
    g = layers.Conv2DTranspose(
        32, 3, strides=2, padding="same", activation="relu", name="dec_conv1"
    )(g)
    g = layers.Conv2DTranspose(1, 3, strides=2, padding="same", name="dec_logits")(g)
    out = layers.Activation("sigmoid", name="decoded")(g)  # (N, 28, 28, 1) in [0, 1]
    decoder = keras.Model(z, out, name="decoder")

    saved = keras.Model(inp, decoder(encoder(inp)), name="prior")
    return encoder_train, encoder, decoder, saved


def train_prior(cfg: PriorConfig, command: str) -> Path:
    """Train the VAE, save `<output>` and its card; return the `.keras` path."""
    import keras
    import tensorflow as tf

    from model.datasets import to_model_input
    from training.data import load_dataset
    from training.evaluate import library_versions

    keras.utils.set_random_seed(cfg.seed)
    data = load_dataset(cfg.dataset, cfg.data_dir, val_fraction=0.1, seed=cfg.seed)
    x_train = to_model_input(data.train.images[: cfg.limit])  # (N, 28, 28, 1) in [0, 1]
    y_train = data.train.labels[: cfg.limit]
    x_val = to_model_input(data.val.images)
    encoder_train, encoder, decoder, saved = build_prior()
    opt = keras.optimizers.Adam(cfg.learning_rate)
    weights = encoder_train.trainable_weights + decoder.trainable_weights

    def loss_fn(x, training: bool):
        mean, log_var = encoder_train(x, training=training)
        eps = tf.random.normal(tf.shape(mean)) if training else tf.zeros_like(mean)
        x_hat = decoder(mean + tf.exp(0.5 * log_var) * eps, training=training)
        x_hat = tf.clip_by_value(x_hat, 1e-6, 1 - 1e-6)
        bce = -tf.reduce_sum(x * tf.math.log(x_hat) + (1 - x) * tf.math.log(1 - x_hat), [1, 2, 3])
        kl = -0.5 * tf.reduce_sum(1 + log_var - mean**2 - tf.exp(log_var), 1)
        return tf.reduce_mean(bce), tf.reduce_mean(kl)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
    def step(x):
        with tf.GradientTape() as tape:
            bce, kl = loss_fn(x, True)
            loss = bce + cfg.beta * kl
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
        return bce, kl

    start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    history: dict[str, list[float]] = {"bce": [], "kl": [], "val_bce": []}
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(x_train))
        sums = np.zeros(2)
        n = 0
        for i in range(0, len(order), cfg.batch_size):
            bce, kl = step(x_train[order[i : i + cfg.batch_size]])
            sums += [float(bce), float(kl)]
            n += 1
        val_bce = float(
            np.mean(
                [float(loss_fn(x_val[i : i + 1000], False)[0]) for i in range(0, len(x_val), 1000)]
            )
        )
        history["bce"].append(round(sums[0] / n, 3))
        history["kl"].append(round(sums[1] / n, 3))
        history["val_bce"].append(round(val_bce, 3))
        print(
            f"epoch {epoch + 1}/{cfg.epochs}: bce {sums[0] / n:.2f} kl {sums[1] / n:.2f} "
            f"val_bce {val_bce:.2f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    seconds = time.perf_counter() - start

    codes = encoder.predict(x_train, batch_size=1000, verbose=0)  # (N, LATENT_DIM)
    prototypes = class_prototypes(codes, y_train, PROTOTYPES, cfg.seed)
    recon = saved.predict(x_val, batch_size=1000, verbose=0)
    val_mse = float(np.mean((recon - x_val) ** 2))

    output = Path(cfg.output) if cfg.output else WEIGHTS_DIR / f"{cfg.dataset}.prior.keras"
    output.parent.mkdir(parents=True, exist_ok=True)
    saved.save(output, include_optimizer=False)
    card = PriorCard(
        file=output.name,
        dataset=cfg.dataset,
        kind="vae",
        input_shape=(28, 28, 1),
        latent_dim=LATENT_DIM,
        class_names=tuple(data.class_names),
        prototypes=tuple(
            tuple(tuple(round(float(v), 5) for v in c) for c in cls) for cls in prototypes
        ),
        metrics={
            "val_bce": history["val_bce"][-1],
            "val_mse": round(val_mse, 5),
            "val_samples": len(x_val),
        },
        training={
            "command": command,
            "seed": cfg.seed,
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "learning_rate": cfg.learning_rate,
            "beta": cfg.beta,
            "train_samples": len(x_train),
            "seconds": round(seconds, 1),
            "history": history,
        },
        parameters=int(saved.count_params()),
        size_bytes=output.stat().st_size,
        versions=library_versions(),
    )
    write_prior_card(output, card)
    record_in_cards(output, cfg.dataset, command)
    print(f"wrote {output} ({output.stat().st_size / 1e3:.0f} KB) and {prior_card_path(output)}")
    return output


def record_in_cards(prior: Path, dataset: str, command: str) -> list[str]:
    """Each bundled model of `dataset` names the shipped prior in its card
    (`explanations.counterfactual_prior`: the file, its card, the command). A prior
    written elsewhere (`--output`) is recorded nowhere."""
    from model.runtime.artifacts import BUNDLED, resolve
    from model.runtime.card import write_card

    if prior.parent.resolve() != WEIGHTS_DIR.resolve():
        return []
    section = {"file": prior.name, "card": prior_card_path(prior).name, "command": command}
    named = []
    for name in BUNDLED:
        artifact = resolve(name)
        if artifact.card.dataset == dataset:
            write_card(
                artifact.keras_path,
                artifact.card.with_explanations("counterfactual_prior", section),
            )
            named.append(name)
    return named


def class_prototypes(codes: np.ndarray, labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(N, D) codes and (N,) labels -> (C, k, D) k-means centres of each class's codes."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    out = np.zeros((len(classes), k, codes.shape[1]), np.float32)
    for c in classes:
        z = codes[labels == c]
        centres = z[rng.choice(len(z), k, replace=False)]
        for _ in range(30):  # Lloyd's iterations; a few thousand codes converge fast
            assign = np.argmin(((z[:, None] - centres[None]) ** 2).sum(-1), 1)
            centres = np.stack(
                [z[assign == j].mean(0) if np.any(assign == j) else centres[j] for j in range(k)]
            )
        order = np.argsort(-np.bincount(assign, minlength=k))  # the most common shape first
        out[int(c)] = centres[order]
    return out


def neutral_command(argv: list[str]) -> str:
    """The command for the card, without machine-specific paths (`--data-dir DATA_DIR`)."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        flag, eq, _ = arg.partition("=")
        if flag == "--output":
            if not eq:
                next(args, None)
            continue
        if flag == "--data-dir":
            if not eq:
                next(args, None)
            out += [flag, "DATA_DIR"]
            continue
        out.append(arg)
    return "python -m training.prior " + shlex.join(out)


def parse_args(argv: list[str] | None = None) -> PriorConfig:
    p = argparse.ArgumentParser(
        prog="python -m training.prior",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", default=PriorConfig.dataset, choices=["mnist", "fashion-mnist"])
    p.add_argument("--epochs", type=int, default=PriorConfig.epochs)
    p.add_argument("--batch-size", type=int, default=PriorConfig.batch_size)
    p.add_argument("--learning-rate", type=float, default=PriorConfig.learning_rate)
    p.add_argument("--beta", type=float, default=PriorConfig.beta)
    p.add_argument("--seed", type=int, default=PriorConfig.seed)
    p.add_argument("--data-dir", help="folder with the IDX .gz files (or $DIGITLENS_DATA_DIR)")
    p.add_argument("--output", help="where to write the .keras file (default model/weights/)")
    p.add_argument("--limit", type=int, help="use only the first N training images (smoke)")
    a = p.parse_args(argv)
    return PriorConfig(
        a.dataset,
        a.epochs,
        a.batch_size,
        a.learning_rate,
        a.beta,
        a.seed,
        a.data_dir,
        a.output,
        a.limit,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    train_prior(parse_args(argv), neutral_command(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
