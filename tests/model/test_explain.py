"""Explanations: every registry method on a tiny named model, our CAMs against
tf-keras-vis, contrastive and empty maps, and the bundled model's behaviour."""

import numpy as np
import pytest

from model import load_classifier
from model.why.attribution import (
    METHODS,
    ExplanationError,
    available_methods,
    compute_maps,
    default_method,
)
from model.why.overlay import overlay
from tests.helpers import drawn_digit

TINY_SHAPE = (12, 12, 1)  # not 28x28: shapes must come from the model
TINY_CONV = ("conv1", "conv2", "conv3")


def tiny_model(shape=TINY_SHAPE, seed=0, zero=False):
    """A tf-keras-vis-style mock: three named 'same' convolutions, a pool, a softmax head."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(3, activation="softmax", name="output")(x)
    net = keras.Model(inp, out, name="tiny")
    if zero:
        for w in net.weights:
            w.assign(keras.ops.zeros_like(w))  # every gradient is exactly zero
    return net


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


@pytest.fixture(scope="module")
def tiny_x():
    rng = np.random.default_rng(1)
    return rng.random((3, *TINY_SHAPE)).astype(np.float32)


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _layers(method):
    return TINY_CONV if METHODS[method].needs_conv else (None,)


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_on_a_tiny_model_gives_finite_maps_in_range(tiny, tiny_x, method):
    for layer in _layers(method):
        maps = compute_maps(tiny, tiny_x, method, layer, np.array([0, 1, 2]))
        assert maps.shape == (3, *TINY_SHAPE[:2]) and maps.dtype == np.float32
        assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
        peaks = maps.reshape(3, -1).max(1)
        assert np.all((peaks == 0) | np.isclose(peaks, 1.0))  # each map scaled on its own


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_works_on_colour_inputs_of_another_size(method):
    net = tiny_model((10, 14, 3), seed=2)
    x = np.random.default_rng(3).random((2, 10, 14, 3)).astype(np.float32)
    maps = compute_maps(net, x, method, _layers(method)[-1], np.array([0, 2]))
    assert maps.shape == (2, 10, 14) and np.isfinite(maps).all()


@pytest.mark.parametrize("method", list(METHODS))
def test_all_zero_gradients_give_all_zero_maps_not_nan(tiny_x, method):
    net = tiny_model(zero=True)
    maps = compute_maps(net, tiny_x, method, _layers(method)[-1], np.array([0, 1, 2]))
    assert np.isfinite(maps).all() and (maps == 0).all()


def test_contrast_changes_the_map_and_equal_scores_cancel(tiny, tiny_x):
    t = np.array([0, 0, 0])
    plain = compute_maps(tiny, tiny_x, "gradcam", "conv3", t)
    versus = compute_maps(tiny, tiny_x, "gradcam", "conv3", t, np.array([1, 1, 1]))
    assert not np.allclose(plain, versus)
    # logit[0] - logit[0] is constant: no evidence at all, for a gradient method too.
    same = compute_maps(tiny, tiny_x, "integrated_gradients", None, t, t)
    assert (same == 0).all()


# ------------------------------------------------------------------ tf-keras-vis reference


def vis_map(net, x, method, layer, target):
    """The same map from tf-keras-vis (the reference), (N, H, W) in [0, 1]."""
    import keras
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    from model.why.attribution import normalise

    cls = {
        "gradcam": Gradcam,
        "gradcam++": GradcamPlusPlus,
        "layercam": Layercam,
        "scorecam": Scorecam,
        "saliency": Saliency,
    }[method]
    vis = cls(net, model_modifier=ReplaceToLinear(), clone=True)
    score = CategoricalScore(list(target))
    if method == "saliency":
        return normalise(np.asarray(vis(score, x)))
    channels = net.get_layer(layer).output.shape[-1]
    extra = (
        {"max_N": min(METHODS["scorecam"].params["max_n"], channels)}
        if method == "scorecam"
        else {}
    )
    keras.config.disable_interactive_logging()  # Score-CAM's model.predict progress bars
    try:
        # seek_penultimate_conv_layer=False: otherwise tf-keras-vis silently moves from
        # `conv3` (a Concatenate in the reference CNN) to the nearest Conv2D.
        maps = vis(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False, **extra)
    finally:
        keras.config.enable_interactive_logging()
    return normalise(np.asarray(maps).reshape(len(x), *x.shape[1:3]))


CAMS_WITH_REFERENCE = ("gradcam", "gradcam++", "layercam", "scorecam")


@pytest.mark.parametrize("method", [*CAMS_WITH_REFERENCE, "saliency"])
def test_our_maps_match_tf_keras_vis_on_the_tiny_model(tiny, tiny_x, method):
    target = np.array([0, 1, 2])
    for layer in _layers(method) if method != "scorecam" else ("conv3",):
        ours = compute_maps(tiny, tiny_x, method, layer, target)
        ref = vis_map(tiny, tiny_x, method, layer, target)
        for a, b in zip(ours, ref, strict=True):
            if a.max() == 0 or b.max() == 0:  # empty in both (ReLU'd CAM)
                assert a.max() == b.max() == 0
                continue
            assert pearson(a, b) >= 0.95, (method, layer)


@pytest.mark.parametrize("method", CAMS_WITH_REFERENCE)
def test_our_cams_match_tf_keras_vis_on_the_bundled_cnn(mnist_cnn, method):
    x = np.stack([mnist_cnn.preprocess(drawn_digit(d)) for d in (4, 7)])[..., None]
    target = np.array([4, 7])
    ours = compute_maps(mnist_cnn.net, x, method, "conv3", target)
    ref = vis_map(mnist_cnn.net, x, method, "conv3", target)
    for a, b in zip(ours, ref, strict=True):
        assert pearson(a, b) >= 0.95


# ------------------------------------------------------------------ the Classifier API


def test_explain_with_no_method_uses_the_cards_default(mnist_cnn):
    e = mnist_cnn.explain(drawn_digit(7))
    assert (e.method, e.layer) == default_method(mnist_cnn)
    assert e.label == 7 and e.heatmap.shape == (28, 28)
    assert e.heatmap_original.shape == (280, 280)


def test_named_method_without_layer_reads_conv3(mnist_cnn):
    e = mnist_cnn.explain(drawn_digit(7), method="gradcam")
    assert e.layer == "conv3" and e.native_hw == (7, 7)
    assert e.resolution == "7x7 map, upsampled"
    np.testing.assert_allclose(e.probabilities, mnist_cnn.probabilities(e.x[None])[0], atol=1e-6)


def test_contrastive_map_and_target_through_the_api(mnist_cnn):
    e = mnist_cnn.explain(drawn_digit(7), method="gradcam", target=7, contrast=1)
    assert (e.label, e.contrast) == (7, 1) and e.question == "why 7 and not 1?"
    with pytest.raises(ExplanationError, match="same class"):
        mnist_cnn.explain(drawn_digit(7), method="gradcam", target=7, contrast=7)
    with pytest.raises(ExplanationError, match="class index"):
        mnist_cnn.explain(drawn_digit(7), method="gradcam", contrast=12)


def test_an_empty_map_is_said_in_words(mnist_cnn):
    # Class 1 has no positive Grad-CAM evidence on conv3 for this drawn 0 (measured).
    x = mnist_cnn.preprocess(drawn_digit(0))
    empty = [
        e
        for t in range(10)
        if (e := mnist_cnn.explain_input(x, "gradcam", "conv3", target=t)).empty
    ]
    assert empty, "expected at least one class without positive evidence"
    e = empty[0]
    assert (e.heatmap == 0).all()
    assert e.summary == f"no positive evidence for {e.class_name} at conv3"
    # how a sure answer can have none: said for a learner (a user test), of its own layer
    assert e.why_empty.startswith("A map on a layer keeps only the places where conv3's")
    full = mnist_cnn.explain_input(x, "gradcam", "conv3", target=0)
    assert not full.empty and full.why_empty == ""


def test_unknown_method_and_layer(mnist_cnn):
    x = mnist_cnn.preprocess(drawn_digit(7))
    with pytest.raises(ExplanationError, match="unknown explanation method"):
        mnist_cnn.explain_input(x, "magic")
    with pytest.raises(ExplanationError, match="unknown layer"):
        mnist_cnn.explain_input(x, "gradcam", "fc1")


def test_mlp_offers_input_gradient_methods_only_and_says_so():
    mlp = load_classifier("mnist-mlp")
    assert available_methods(mlp) == [m for m in METHODS if not METHODS[m].needs_conv]
    with pytest.raises(ExplanationError, match="has none"):
        mlp.explain(drawn_digit(7), "gradcam")
    assert mlp.explain(drawn_digit(7)).layer is None


def test_overlay_is_rgb_and_keeps_the_image_where_there_is_no_heat():
    img = np.full((50, 60), 200, np.uint8)
    heat = np.zeros((28, 28), np.float32)
    heat[10:18, 10:18] = 1.0
    out = overlay(img, heat)
    assert out.shape == (50, 60, 3) and out.dtype == np.uint8
    assert (out[0, 0] == 200).all()  # no heat: the image shows through unchanged
    assert not (out[25, 25] == 200).all()
    assert (overlay(img, heat, alpha=0.0) == 200).all()  # opacity 0: the image alone


def test_heatmap_follows_the_drawing_when_it_moves(mnist_cnn):
    here = mnist_cnn.explain(drawn_digit(7), "gradcam").heatmap_original
    moved = mnist_cnn.explain(drawn_digit(7, offset=(60, 30)), "gradcam").heatmap_original
    assert pearson(np.roll(here, (30, 60), axis=(0, 1)), moved) > 0.95


def test_maps_of_every_layer_and_of_several_networks_log_no_retracing():
    """Each layer's pass (and each network's Keras runtime) is traced once, yet TF's log
    said "5 out of the last 5 calls to <function ...run> triggered tf.function
    retracing" after a few of them: it counts traces by the wrapped function's code,
    shared by every network and layer (`model.runtime.backend.compiled`)."""
    import io
    import logging

    import keras
    import tensorflow as tf

    from model.runtime.runtimes import KerasRuntime
    from model.why.report import report

    said = io.StringIO()
    handler = logging.StreamHandler(said)
    tf.get_logger().addHandler(handler)
    try:
        clf = load_classifier("mnist-cnn", runtime="keras")
        stages = clf.preprocess_stages(drawn_digit(7))
        for layer in ("conv1", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3"):
            assert report(clf, stages, method="gradcam", layer=layer).explanation.label == 7
        for _ in range(6):
            net = keras.models.clone_model(clf.net)
            net.set_weights(clf.net.get_weights())
            assert KerasRuntime(net)(stages.x.reshape(1, 28, 28, 1)).argmax() == 7
    finally:
        tf.get_logger().removeHandler(handler)
    assert "retracing" not in said.getvalue(), said.getvalue()[:300]
