"""A textured picture of a thing is not random noise (fashion recipe): 72 of Fashion-MNIST's
10,000 test images (checks, prints, knits) were refused as "random noise". Noise is still
refused for every recipe, and the digit recipe's rule is unchanged."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.errors import NoiseImageError, TooSmallError
from model.input.preprocessing import preprocess_stages
from model.input.refusals import MIN_STRUCTURE, looks_like_noise, structure
from training.negatives import noise, noise_mix


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def test_noise_has_no_structure():
    """Every noise image the rule refuses keeps well under MIN_STRUCTURE of its spread."""
    rng = np.random.default_rng(7)
    kept = []
    for gen in (noise, noise_mix):
        for _ in range(150):
            a = gen(rng).astype(np.float32) / 255
            a = a.mean(axis=2) if a.ndim == 3 else a
            if looks_like_noise(a):
                kept.append(structure(a))
    assert len(kept) > 150
    assert max(kept) < 0.75 * MIN_STRUCTURE, max(kept)


def test_flat_and_tiny_images_have_no_structure():
    assert structure(np.full((28, 28), 0.5, np.float32)) == 0.0
    assert structure(np.random.default_rng(0).random((10, 10)).astype(np.float32)) == 0.0


@pytest.mark.parametrize("side", [28, 280, 1200])
@pytest.mark.parametrize("colour", [False, True])
def test_noise_is_refused_for_things_too(side, colour):
    rng = np.random.default_rng(side)
    a = (rng.random((side, side, 3) if colour else (side, side)) * 255).astype(np.uint8)
    for recipe in ("fashion", "mnist"):
        with pytest.raises(NoiseImageError):
            preprocess_stages(png(a), recipe)


def test_textured_fashion_items_are_read_not_refused(real_data_dir):
    """The first 2,000 test images hold 14 of the 72 once refused as noise: none is now,
    for the fashion recipe; for the digit recipe the same images still are (unchanged)."""
    from model.datasets import load_split, locate

    test = load_split(locate("fashion-mnist", real_data_dir), "test")
    noisy = []
    for i, image in enumerate(test.images[:2000]):
        try:
            preprocess_stages(png(image), "fashion")
        except NoiseImageError:
            noisy.append(i)
        except TooSmallError:  # (3 of the 10,000 are, 1 of these: not this test's)
            pass
    assert noisy == []
    for i in (7, 17, 248, 389):  # a check shirt, a print, ... (refused before)
        assert structure(test.images[i].astype(np.float32) / 255) >= MIN_STRUCTURE
        with pytest.raises(NoiseImageError):
            preprocess_stages(png(test.images[i]), "mnist")
