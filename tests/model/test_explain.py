"""Explanations: registry, fused Grad-CAM against tf-keras-vis, maps, overlays, faithfulness."""

import numpy as np
import pytest

from model import load_classifier
from model.architecture import CONV_LAYERS
from model.explain import (
    METHODS,
    ExplanationError,
    FusedGradCAM,
    available_methods,
    overlay,
    tf_keras_vis_map,
)
from model.faithfulness import faithfulness
from tests.helpers import drawn_digit


def pearson(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def seven(mnist_cnn):
    return mnist_cnn.preprocess(drawn_digit(7))


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_a_finite_map_in_range(mnist_cnn, method):
    e = mnist_cnn.explain(drawn_digit(7), method=method)
    assert e.method == method and e.label == 7
    assert e.heatmap.shape == (28, 28) and e.heatmap.dtype == np.float32
    assert np.isfinite(e.heatmap).all()
    assert e.heatmap.min() >= 0 and e.heatmap.max() == pytest.approx(1.0)
    assert e.heatmap_original.shape == (280, 280)
    assert e.layer == ("conv3" if METHODS[method].needs_conv else None)


@pytest.mark.parametrize("layer", CONV_LAYERS)
def test_fused_gradcam_agrees_with_tf_keras_vis(mnist_cnn, seven, layer):
    e = mnist_cnn.explain_input(seven, "gradcam", layer)
    reference = tf_keras_vis_map(mnist_cnn, seven, "gradcam", layer, e.label)
    assert pearson(e.heatmap, reference) >= 0.95


def test_fused_gradcam_returns_the_prediction_too(mnist_cnn, seven):
    e = mnist_cnn.explain_input(seven)
    np.testing.assert_allclose(e.probabilities, mnist_cnn.probabilities(seven[None])[0], atol=1e-5)


def test_heatmap_follows_the_drawing_when_it_moves(mnist_cnn):
    here = mnist_cnn.explain(drawn_digit(7)).heatmap_original
    moved = mnist_cnn.explain(drawn_digit(7, offset=(60, 30))).heatmap_original
    assert pearson(np.roll(here, (30, 60), axis=(0, 1)), moved) > 0.95
    strokes = np.asarray(drawn_digit(7, offset=(60, 30))) > 128
    rows, cols = np.flatnonzero(strokes.any(1)), np.flatnonzero(strokes.any(0))
    inside = moved[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].sum()
    assert inside >= 0.99 * moved.sum()  # no heat on the empty part of the canvas


def test_all_zero_gradients_give_an_all_zero_map():
    import keras

    from model.architecture import CNNConfig, build_cnn

    net = build_cnn(
        CNNConfig(conv1_filters=2, conv2_filters=2, conv3_filters=2, fc1_units=4, fc2_units=4)
    )
    for w in net.weights:
        w.assign(keras.ops.zeros_like(w))  # every gradient is exactly zero
    probs, maps, _ = FusedGradCAM(net, "conv3")(np.random.rand(2, 28, 28, 1))
    assert not np.isnan(maps).any() and (maps == 0).all()
    np.testing.assert_allclose(probs, 0.1, atol=1e-6)


def test_unknown_method_and_layer(mnist_cnn, seven):
    with pytest.raises(ExplanationError, match="unknown explanation method"):
        mnist_cnn.explain_input(seven, "magic")
    with pytest.raises(ExplanationError, match="unknown layer"):
        mnist_cnn.explain_input(seven, "gradcam", "fc1")


def test_mlp_offers_gradient_methods_only_and_says_so():
    mlp = load_classifier("mnist-mlp")
    assert available_methods(mlp) == ["saliency", "smoothgrad"]
    with pytest.raises(ExplanationError, match="has none"):
        mlp.explain(drawn_digit(7), "gradcam")
    assert mlp.explain(drawn_digit(7), "saliency").heatmap.shape == (28, 28)


def test_overlay_is_rgb_and_keeps_the_image_where_there_is_no_heat():
    img = np.full((50, 60), 200, np.uint8)
    heat = np.zeros((28, 28), np.float32)
    heat[10:18, 10:18] = 1.0
    out = overlay(img, heat)
    assert out.shape == (50, 60, 3) and out.dtype == np.uint8
    assert (out[0, 0] == 200).all()  # no heat: the image shows through unchanged
    assert not (out[25, 25] == 200).all()


def test_ranking_the_ink_first_beats_random(mnist_cnn, seven):
    # Deleting the strokes first must destroy the answer faster than deleting random
    # pixels (mostly background), and inserting them first must restore it faster.
    f = faithfulness(mnist_cnn.probabilities, seven, seven, 7)
    assert f.deletion_auc < f.random_deletion_auc
    assert f.insertion_auc > f.random_insertion_auc
    assert f.score > 0.2


def test_ranking_the_background_first_is_worse_than_random(mnist_cnn, seven):
    f = faithfulness(mnist_cnn.probabilities, seven, 1 - seven, 7)
    assert f.score < 0


@pytest.mark.parametrize("method", ["layercam", "scorecam"])
def test_the_most_faithful_methods_beat_random_here(mnist_cnn, seven, method):
    e = mnist_cnn.explain_input(seven, method)
    assert faithfulness(mnist_cnn.probabilities, seven, e.heatmap, e.label).score > 0
