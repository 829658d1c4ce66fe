import numpy as np
import tensorflow as tf

from training.augment import augment_batch, change_stroke
from training.recipes import FASHION, HANDWRITING, AugmentConfig


def _digit_batch(n=16):
    x = np.zeros((n, 28, 28, 1), np.float32)
    x[:, 6:22, 12:16] = 1.0  # a "1"
    return tf.constant(x)


def test_keeps_shape_dtype_and_range():
    x = _digit_batch()
    for cfg in (HANDWRITING, FASHION):
        y = augment_batch(x, cfg, tf.constant([1, 2], tf.int64)).numpy()
        assert y.shape == x.shape and y.dtype == np.float32
        assert y.min() >= 0.0 and y.max() <= 1.0


def test_is_seeded():
    x = _digit_batch()
    a = augment_batch(x, HANDWRITING, tf.constant([1, 2], tf.int64))
    b = augment_batch(x, HANDWRITING, tf.constant([1, 2], tf.int64))
    c = augment_batch(x, HANDWRITING, tf.constant([1, 3], tf.int64))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_actually_changes_images_but_keeps_the_ink():
    x = _digit_batch()
    y = augment_batch(x, HANDWRITING, tf.constant([5, 6], tf.int64)).numpy()
    assert not np.allclose(x.numpy(), y)
    ink = y.reshape(len(y), -1).sum(axis=1)
    assert (ink > 0.3 * x.numpy()[0].sum()).all()  # no digit is pushed off the canvas


def test_identity_config_is_a_no_op():
    x = _digit_batch()
    np.testing.assert_array_equal(
        augment_batch(x, AugmentConfig(), tf.constant([0, 0], tf.int64)), x
    )


def test_stroke_width_thickens_and_thins():
    x = _digit_batch(2)
    out = change_stroke(x, tf.constant([1.0, -1.0])).numpy()
    base = x.numpy()[0].sum()
    assert out[0].sum() > base  # thick pen
    assert out[1].sum() < base  # thin pen
