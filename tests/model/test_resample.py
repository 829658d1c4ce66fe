"""model.input.resample against Pillow, whose BOX and BILINEAR resizing it replaces on
small maps: the same coefficients, the same result within one float32 rounding."""

import numpy as np
import pytest
from PIL import Image

from model.input.resample import MAX_DENSE_WORK, dense_work, resize, weights

#: One float32 rounding of a value below 1 (2**-24 below 0.5, 2**-23 up to 1 ...) and one more.
ULP = 2.0**-23


def pillow(a: np.ndarray, hw: tuple[int, int], box: bool) -> np.ndarray:
    filt = Image.Resampling.BOX if box else Image.Resampling.BILINEAR
    out = Image.fromarray(np.ascontiguousarray(a, np.float32), mode="F").resize(hw[::-1], filt)
    return np.asarray(out, np.float32)


def digit_maps() -> list[np.ndarray]:
    """Antialiased strokes in [0, 1], like the maps preprocessing resizes."""
    from model.input.samples import EXAMPLES, drawn_digit

    maps = []
    for d in EXAMPLES:
        img = drawn_digit(d, size=112, width=9).resize((28, 28), Image.Resampling.BOX)
        maps.append(np.asarray(img, np.float32) / 255)
    return maps


def test_every_small_resize_is_pillows_within_one_rounding():
    rng = np.random.default_rng(0)
    cases = []
    for a in digit_maps():
        # the lighting check's copy, a fitted crop (up and down), the 20x20 box
        cases += [(a, (64, 64)), (a[4:24, 6:21], (80, 60)), (a[4:24, 6:21], (20, 15))]
        cases += [(a, (10, 13)), (a, (28, 20))]
    for _ in range(400):
        hi, wi, ho, wo = (int(v) for v in rng.integers(1, 70, 4))
        cases.append((rng.random((hi, wi), np.float32), (ho, wo)))
    dense = 0
    for a, hw in cases:
        for box in (True, False):
            ours, theirs = resize(a, hw, box), pillow(a, hw, box)
            assert ours.shape == theirs.shape == hw and ours.dtype == np.float32
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=ULP)
            dense += dense_work(a.shape, hw) <= MAX_DENSE_WORK
    assert dense > 0.9 * 2 * len(cases)  # (the matrix products, not Pillow, were tested)


def test_large_maps_go_to_pillow_unchanged():
    a = np.random.default_rng(1).random((300, 200), np.float32)
    assert dense_work(a.shape, (64, 43)) > MAX_DENSE_WORK
    np.testing.assert_array_equal(resize(a, (64, 43), True), pillow(a, (64, 43), True))
    np.testing.assert_array_equal(resize(a, (150, 300), False), pillow(a, (150, 300), False))


@pytest.mark.parametrize(
    "shape,hw",
    [
        ((36, 64), (252, 448)),
        ((64, 64), (448, 448)),
        ((20, 30), (200, 300)),
        ((80, 40), (600, 40)),
        ((1, 300), (448, 448)),
    ],
)
def test_a_large_bilinear_enlargement_is_pillows_within_one_rounding(shape, hw):
    """Enlarging a map by a tent is bilinear interpolation (OpenCV's, for large maps: a
    photo's lighting estimate brought back to its working copy), edges included."""
    rng = np.random.default_rng(2)
    for a in (rng.random(shape, np.float32), np.kron(rng.random((4, 4)), np.ones(shape))):
        a = np.ascontiguousarray(a[: shape[0], : shape[1]], np.float32)
        assert dense_work(a.shape, hw) > MAX_DENSE_WORK
        ours, theirs = resize(a, hw, False), pillow(a, hw, False)
        assert ours.shape == theirs.shape == hw and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ULP)


@pytest.mark.parametrize("n_in,n_out,box", [(28, 64, False), (64, 28, True), (17, 5, True)])
def test_weights_are_a_normalised_filter(n_in, n_out, box):
    k = weights(n_in, n_out, box)
    np.testing.assert_allclose(k.sum(axis=1), 1.0, atol=1e-12)
    assert (k >= 0).all()
    # each output pixel reads only input pixels near its own centre
    centres = (np.arange(n_out) + 0.5) * n_in / n_out
    reach = (0.5 if box else 1.0) * max(n_in / n_out, 1.0) + 1
    cols = np.arange(n_in) + 0.5
    assert (k[np.abs(cols[None, :] - centres[:, None]) > reach] == 0).all()


def test_weights_are_pillows():
    """The vectorised weights against Pillow's loop written out (precompute_coeffs)."""
    for n_in, n_out, box in [(28, 64, False), (64, 28, True), (200, 20, True), (7, 3, False)]:
        scale = n_in / n_out
        fs = max(scale, 1.0)
        support = (0.5 if box else 1.0) * fs
        want = np.zeros((n_out, n_in))
        for out in range(n_out):
            centre = (out + 0.5) * scale
            lo = max(int(centre - support + 0.5), 0)
            hi = min(int(centre + support + 0.5), n_in)
            ws = []
            for x in range(lo, hi):
                t = (x - centre + 0.5) * (1.0 / fs)  # (Pillow multiplies by the inverse)
                ws.append((1.0 if -0.5 < t <= 0.5 else 0.0) if box else max(1.0 - abs(t), 0.0))
            total = 0.0
            for v in ws:
                total += v
            want[out, lo:hi] = [v / total for v in ws]
        np.testing.assert_array_equal(weights(n_in, n_out, box), want)


def test_a_map_of_the_same_size_is_copied():
    a = np.random.default_rng(2).random((12, 9), np.float32)
    out = resize(a, (12, 9), True)
    assert out is not a
    np.testing.assert_array_equal(out, a)


def test_the_pillow_round_trip_is_pillows_resize_bit_for_bit():
    """pillow_resize (Pillow reading the array's buffer, its bytes read back) against
    Image.fromarray / np.asarray, on the large maps a canvas crop makes and random ones,
    contiguous or not."""
    from model.input.resample import pillow_resize

    rng = np.random.default_rng(1)
    cases = [(rng.random((182, 109), np.float32), (80, 48)), (rng.random((200, 150)), (20, 15))]
    for _ in range(200):
        hi, wi, ho, wo = (int(v) for v in rng.integers(1, 300, 4))
        a = rng.random((hi, wi), np.float32) * (rng.random((hi, wi)) < 0.3)
        cases.append((a if rng.random() < 0.5 else np.asfortranarray(a), (ho, wo)))
    for a, hw in cases:
        for box in (True, False):
            out = pillow_resize(a, hw, box)
            assert out.shape == hw and out.dtype == np.float32
            assert np.array_equal(out.view(np.uint32), pillow(a, hw, box).view(np.uint32))
