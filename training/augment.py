"""On-the-fly augmentation that mimics how people actually draw.

Every transform is vectorised over a batch and driven by stateless random ops
with an explicit seed, so a seeded run sees exactly the same augmented stream. The ranges
(`AugmentConfig` and its presets) are part of each model's recipe, `training.recipes`,
which loads no TensorFlow: `python -m training.train --help` answers at once.
"""

from __future__ import annotations

import math

import tensorflow as tf

from training.recipes import AugmentConfig


def _uniform(shape, lo, hi, seed) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed=seed, minval=lo, maxval=hi)


def affine_transforms(n: int, cfg: AugmentConfig, seed: tf.Tensor, size: int = 28) -> tf.Tensor:
    """(n, 8) inverse projective transforms (output -> input pixel) about the image centre."""
    seeds = tf.random.experimental.stateless_split(seed, 5)
    theta = _uniform([n], -cfg.rotation_deg, cfg.rotation_deg, seeds[0]) * (math.pi / 180)
    shear = _uniform([n], -cfg.shear, cfg.shear, seeds[1])
    scale = 1.0 / _uniform([n], cfg.zoom[0], cfg.zoom[1], seeds[2])  # zoom in = sample less
    tx = _uniform([n], -cfg.shift_px, cfg.shift_px, seeds[3])
    ty = _uniform([n], -cfg.shift_px, cfg.shift_px, seeds[4])
    c, s = tf.cos(theta), tf.sin(theta)
    # A = scale * R(theta) @ [[1, shear], [0, 1]]
    a00, a01 = scale * c, scale * (c * shear - s)
    a10, a11 = scale * s, scale * (s * shear + c)
    centre = (size - 1) / 2.0
    a02 = centre - a00 * centre - a01 * centre + tx
    a12 = centre - a10 * centre - a11 * centre + ty
    zeros = tf.zeros([n])
    return tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)


def change_stroke(images: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Thicken (amount > 0) or thin (amount < 0) strokes by blending with a 3x3 dilation/erosion.

    images: (N, 28, 28, 1) float32 in [0, 1]; amount: (N,) in [-1, 1].
    """
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
    a = amount[:, None, None, None]
    return tf.where(a > 0, images + a * (dilated - images), images - a * (eroded - images))


def augment_batch(images: tf.Tensor, cfg: AugmentConfig, seed: tf.Tensor) -> tf.Tensor:
    """Augment (N, 28, 28, 1) float32 in [0, 1]; returns the same shape and range."""
    if cfg.is_identity:
        return images
    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    if cfg.hflip:
        flip = _uniform([n], 0.0, 1.0, seeds[0]) < 0.5
        images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    if cfg.stroke != (0.0, 0.0):
        images = change_stroke(images, _uniform([n], cfg.stroke[0], cfg.stroke[1], seeds[1]))
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=affine_transforms(n, cfg, seeds[2], size=images.shape[1] or 28),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return tf.clip_by_value(images, 0.0, 1.0)


def training_dataset(
    images, labels, batch_size: int, cfg: AugmentConfig, seed: int
) -> tf.data.Dataset:
    """An endless, shuffled, augmented stream of (x, y) batches; use with steps_per_epoch.

    images: (N, 28, 28, 1) float32 in [0, 1]. The random stream is seeded, so the
    whole run is reproducible; `Dataset.random` gives each batch its own seed.
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds)).map(
        lambda xy, s: (augment_batch(xy[0], cfg, s), xy[1]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
