"""The gradient passes exported to ONNX give TensorFlow's maps, and only where they may.

The bundled models' passes (`python -m training.passes`) are checked against the traced
`tf.function` on real digits for every method; a copy of the network (the sanity check's)
or a `.keras` file that changed never uses them; and the exporter converts a small
two-branch CNN (concatenation, pooling, ReLU: every op it writes itself) on any batch size.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from model.why.onnx_passes import INPUT, INPUT_MAX_BATCH, OnnxPasses, pass_path, sidecar_path

#: Maps are scaled to [0, 1]; Grad-CAM++ raises the gradients to the third power, where a
#: 1e-6 difference in a gradient becomes a few 1e-4 in the map.
MAP_TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def digits(mnist_cnn, real_data_dir):
    from model.datasets import load_split, locate, to_model_input

    test = load_split(locate("mnist", real_data_dir), "test")
    x = to_model_input(test.images[:8])[..., 0]
    labels = np.array([p.label for p in mnist_cnn.predict_inputs(x[..., None])])
    return x, labels


@pytest.mark.parametrize("batch", [1, 8])
def test_every_method_gives_tensorflows_map_through_the_exported_passes(mnist_cnn, digits, batch):
    from model.why.attribution import METHODS, compute_maps, passes_for

    x, labels = digits[0][:batch], digits[1][:batch]
    p = passes_for(mnist_cnn.net)
    exported = p.exported
    assert exported is not None and exported.serves("conv3", batch)
    assert exported.serves(None, 1) and not exported.serves(None, INPUT_MAX_BATCH + 1)
    for name, method in METHODS.items():
        layer = "conv3" if method.needs_conv else None
        try:
            via_onnx = compute_maps(mnist_cnn.net, x, name, layer, labels)
            p.exported = None  # the traced tf.function, as for any other network
            via_tf = compute_maps(mnist_cnn.net, x, name, layer, labels)
        finally:
            p.exported = exported
        gap = float(np.abs(via_onnx - via_tf).max())
        assert gap < MAP_TOLERANCE, f"{name}: {gap:.1e}"


def test_one_input_runs_on_the_pass_with_its_batch_fixed(mnist_cnn, digits, tmp_path, monkeypatch):
    """One map goes to the pass with its batch dimension fixed to 1 (`one_input_graph`):
    the outputs of the file's own graph bit for bit, and the graph made once, then read
    back from the cache."""
    from model.runtime.artifacts import CACHE_ENV
    from model.runtime.runtimes import _session
    from model.why import onnx_passes
    from model.why.attribution import passes_for

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    exported = OnnxPasses.for_file(passes_for(mnist_cnn.net).exported.keras_path)
    x, labels = digits
    contrast = np.full(1, -1, np.int32)
    for layer in (None, "conv3"):
        path = exported._files[layer or INPUT]
        plain = _session(path, 1)
        names = [i.name for i in plain.get_inputs()]
        for k in range(len(x)):
            feeds = (x[k : k + 1, ..., None], labels[k : k + 1].astype(np.int32), contrast)
            want = plain.run(None, dict(zip(names, feeds, strict=True)))
            got = exported.gradients(*feeds, layer)
            for a, b in zip(got, want, strict=True):  # (bit for bit here; kernels may vary)
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
        session, _ = exported._session(layer or INPUT, 1)
        assert [d for i in session.get_inputs() for d in i.shape[:1]] == [1, 1, 1]
    assert len(list((tmp_path / "passes").glob("*.onnx"))) == 2

    def refuse(path):
        raise AssertionError("built again")

    import onnx

    load = onnx.load
    monkeypatch.setattr(onnx, "load", refuse)
    assert onnx_passes.one_input_graph(exported._files[INPUT]) is not None  # read back
    monkeypatch.setattr(onnx, "load", load)

    damaged = OnnxPasses.for_file(exported.keras_path)
    for cached in (tmp_path / "passes").glob("*.onnx"):
        cached.write_bytes(b"not a graph")
    got = damaged.gradients(x[:1, ..., None], labels[:1].astype(np.int32), contrast, None)
    assert np.isfinite(got[2]).all()
    assert len(list((tmp_path / "passes").glob("*.onnx"))) == 1  # the damaged input's: gone


def test_a_copy_of_the_network_runs_on_tensorflow(mnist_cnn):
    """The sanity check randomises a clone: the file's passes must never explain it."""
    import keras

    from model.runtime.loading import source_of
    from model.why.attribution import passes_for

    copy = keras.models.clone_model(mnist_cnn.net)
    assert source_of(mnist_cnn.net) == mnist_cnn.artifact.keras_path
    assert source_of(copy) is None and passes_for(copy).exported is None


def test_passes_of_another_file_are_never_used(mnist_cnn, tmp_path):
    keras_path = mnist_cnn.artifact.keras_path
    copied = tmp_path / keras_path.name
    shutil.copy(keras_path, copied)
    for layer in (None, "conv3"):
        shutil.copy(pass_path(keras_path, layer), pass_path(copied, layer))
    record = json.loads(sidecar_path(keras_path).read_text())
    sidecar_path(copied).write_text(json.dumps(record))
    assert OnnxPasses.for_file(copied) is not None  # the same bytes: served
    copied.write_bytes(copied.read_bytes() + b"\0")  # the file changed since the export
    assert OnnxPasses.for_file(copied) is None
    assert OnnxPasses.for_file(None) is None


def test_the_exporter_converts_a_two_branch_cnn_for_any_batch(tmp_path):
    """Concatenation (ConcatOffset), max-pooling (MaxPoolGrad), ReLU (ReluGrad) and a
    batch of any size (ShapeN, BroadcastGradientArgs): exported, checked against
    TensorFlow by the exporter itself, then served for the file it was made from. Its
    input gradients are those of logit[target] - logit[contrast] written out here with
    a tape of our own (no contrast, another class, the target itself), on ONNX Runtime
    and on TensorFlow."""
    import keras
    import tensorflow as tf

    from model.runtime.loading import load_net
    from model.why.passes import Passes
    from training.passes import export_passes

    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inp)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="b")(inp)
    joined = keras.layers.Concatenate(name="joined")([a, b])
    pooled = keras.layers.MaxPooling2D(name="pool")(joined)
    flat = keras.layers.Flatten(name="flat")(pooled)
    out = keras.layers.Dense(3, activation="softmax", name="out")(flat)
    path = tmp_path / "tiny.keras"
    keras.Model(inp, out).save(path)

    record = export_passes(path, [None, "joined"])
    assert set(record["layers"]) == {INPUT, "joined"}
    net = load_net(path)
    passes = Passes(net)
    assert passes.exported is not None
    x = np.random.default_rng(1).random((5, 12, 12, 1), dtype=np.float32)
    target = np.array([0, 1, 2, 0, 1])
    passes_tf = Passes(net)
    passes_tf.exported = None
    features, head = keras.Model(net.inputs, net.get_layer("flat").output), net.get_layer("out")

    def by_hand(contrast: np.ndarray) -> np.ndarray:
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            logits = tf.matmul(features(xt), head.kernel) + head.bias
            score = tf.stack(
                [
                    logits[i, t] - (logits[i, c] if c >= 0 else 0.0)
                    for i, (t, c) in enumerate(zip(target, contrast, strict=True))
                ]
            )
        return tape.gradient(score, xt).numpy()

    for contrast in (None, np.array([1, -1, 0, 2, 1])):  # (the last: its own target)
        sent = np.full(5, -1) if contrast is None else contrast
        for layer in (None, "joined"):
            got = passes.exported.gradients(
                x, target.astype(np.int32), sent.astype(np.int32), layer
            )
            want = passes_tf.gradients(x, target, contrast, layer)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(g, w, atol=1e-5)
            if layer is None:
                np.testing.assert_allclose(got[2], by_hand(sent), atol=1e-5)
            if contrast is not None:
                assert not got[2][4].any() and not want[2][4].any()  # logit 1 - logit 1


def test_a_class_the_network_does_not_have_is_refused_not_mapped_blank(mnist_cnn, digits):
    """A target or contrast outside 0..9 raises, on ONNX Runtime and on TensorFlow: a
    one-hot of it would be all zeros (a blank map that reads as an answer), and ONNX's
    OneHot would take -1 as the last class."""
    from model.errors import ExplanationError
    from model.why.attribution import compute_maps, passes_for

    x = digits[0][:1]
    p = passes_for(mnist_cnn.net)
    exported = p.exported
    try:
        for engine in (exported, None):
            p.exported = engine
            for target, contrast in ((10, None), (-1, None), (3, 10), (3, -2)):
                given = None if contrast is None else np.array([contrast])
                with pytest.raises(ExplanationError, match="from 0 to 9"):
                    compute_maps(mnist_cnn.net, x, "saliency", None, np.array([target]), given)
    finally:
        p.exported = exported
