"""The quantized runtimes shipped beside each bundled model agree with the float model."""

import shutil

import numpy as np
import pytest

from model import ModelLoadError, load_classifier
from model.input.samples import EXAMPLES
from model.runtime.artifacts import BUNDLED, WEIGHTS_DIR
from model.runtime.runtimes import ONNX_VARIANTS, variant_info
from tests.helpers import drawn_digit

QUANTIZED = [r for r in ONNX_VARIANTS if r != "onnx"]
#: Test images compared per model; the export checked 2,000 and found >= 99 % agreement.
N_CHECK = 1000


@pytest.mark.parametrize("runtime", QUANTIZED)
@pytest.mark.parametrize("name", BUNDLED)
def test_variant_is_shipped_recorded_and_loads_without_keras(name, runtime):
    clf = load_classifier(name, runtime=runtime)
    assert clf.runtime.name == f"onnxruntime-{runtime.split('-')[1]}" and clf._net is None
    info = variant_info(clf.artifact, runtime)
    assert info["check"]["top1_agreement_with_float"] >= 0.99
    size = clf.runtime.path.stat().st_size
    assert size < (WEIGHTS_DIR / f"{name}.onnx").stat().st_size * 0.6  # int8 ~1/4, fp16 ~1/2


@pytest.mark.parametrize("runtime", QUANTIZED)
def test_variants_read_drawn_digits_like_float(runtime):
    images = [drawn_digit(d, offset=(k * 9 - 9, 0)) for d in EXAMPLES for k in range(3)]
    ref = load_classifier("mnist-cnn").predict_batch(images)
    got = load_classifier("mnist-cnn", runtime=runtime).predict_batch(images)
    assert [p.label for p in got] == [p.label for p in ref]
    diff = max(
        np.abs(a.probabilities - b.probabilities).max() for a, b in zip(got, ref, strict=True)
    )
    assert diff < (1e-3 if runtime == "onnx-fp16" else 0.2)


@pytest.mark.parametrize("runtime", QUANTIZED)
@pytest.mark.parametrize("name", BUNDLED)
def test_variant_probabilities_sum_to_one(name, runtime):
    """An int8 softmax quantized came out in steps of 1/255: summed, 0.992 for a confident
    digit (the shipped graphs keep it float; a user's older export may not)."""
    clf = load_classifier(name, runtime=runtime)
    images = [drawn_digit(d, offset=(k * 9 - 9, 0)) for d in EXAMPLES for k in range(2)]
    for batch in ([images[0]], images):  # one input and a batch: both paths
        sums = [p.probabilities.sum() for p in clf.predict_batch(batch)]
        assert np.allclose(sums, 1.0, atol=1e-5), sums


@pytest.mark.parametrize("name", BUNDLED)
def test_int8_probabilities_are_not_rounded_to_255ths(name):
    """The int8 graphs keep their softmax in float: quantized, every probability was a
    multiple of 1/255 and a confident answer came back as exactly 1 and 0 (a user test)."""
    clf = load_classifier(name, runtime="onnx-int8")
    images = [drawn_digit(d) for d in EXAMPLES]
    for p in clf.predict_batch(images) + [clf.predict(images[0])]:
        probs = p.probabilities
        assert probs.max() < 1.0, probs
        assert ((probs > 0) & (probs < 1 / 510)).any(), probs  # below half a step


@pytest.mark.data
@pytest.mark.parametrize("runtime", QUANTIZED)
@pytest.mark.parametrize("name", BUNDLED)
def test_variants_agree_with_float_on_the_test_set(name, runtime, real_data_dir):
    from model.datasets import load_split, locate, to_model_input

    float_clf = load_classifier(name)
    test = load_split(locate(float_clf.card.dataset, real_data_dir), "test")
    idx = np.random.default_rng(1).choice(len(test), N_CHECK, replace=False)
    x = to_model_input(test.images[idx])
    ref = float_clf.probabilities(x).argmax(1)
    got = load_classifier(name, runtime=runtime).probabilities(x).argmax(1)
    assert (got == ref).mean() >= 0.99
    # Quality is kept: accuracy within half a point of the float model's.
    labels = test.labels[idx]
    assert (got == labels).mean() >= (ref == labels).mean() - 0.005


def test_stale_or_missing_variant_is_refused(tmp_path):
    for suffix in (".keras", ".json", ".onnx", ".int8.onnx", ".int8.json"):
        shutil.copy(WEIGHTS_DIR / f"mnist-mlp{suffix}", tmp_path / f"mnist-mlp{suffix}")
    path = tmp_path / "mnist-mlp.keras"
    assert load_classifier(path, runtime="onnx-int8").runtime.name == "onnxruntime-int8"
    with pytest.raises(ModelLoadError, match="no onnx-fp16 export"):
        load_classifier(path, runtime="onnx-fp16")
    path.write_bytes((WEIGHTS_DIR / "mnist-cnn.keras").read_bytes())  # retrained, not re-exported
    with pytest.raises(ModelLoadError, match="no onnx-int8 export"):
        load_classifier(path, runtime="onnx-int8")
    with pytest.raises(ModelLoadError, match="unknown runtime"):
        load_classifier("mnist-cnn", runtime="tpu")


def test_close_calls_of_int8_are_answered_by_float():
    """fashion-cnn's int8 sidecar names a margin: inputs whose two most likely classes int8
    puts nearer than it are answered by the float model, the others by int8 itself."""
    from model.runtime.runtimes import OnnxRuntime

    clf = load_classifier("fashion-cnn", runtime="onnx-int8")
    float_path, margin = clf.runtime.close_calls
    assert float_path.name == "fashion-cnn.onnx" and 0 < margin < 1
    rng = np.random.default_rng(1)
    x = (rng.random((64, 28, 28, 1)) * rng.random((64, 1, 1, 1))).astype(np.float32)
    pure = OnnxRuntime(clf.runtime.path)(x)
    top2 = np.sort(pure, axis=1)[:, -2:]
    close = top2[:, 1] - top2[:, 0] < margin
    assert close.any() and not close.all()  # both kinds among these inputs
    got = clf.runtime(x.copy())
    whole = pure / pure.sum(axis=1, keepdims=True)  # (int8's own answers, made whole)
    np.testing.assert_array_equal(got[~close], whole[~close])
    np.testing.assert_allclose(got[close], OnnxRuntime(float_path)(x[close]), atol=1e-6)


def test_the_margin_is_the_smallest_that_keeps_the_answers():
    from model.runtime.export import CLOSE_CALL_AGREEMENT, choose_margin

    n = 10_000
    reference = np.tile([[0.9, 0.1]], (n, 1)).astype(np.float32)
    quantized = reference.copy()
    flips = int(n * (1 - CLOSE_CALL_AGREEMENT)) + 5  # a few too many to keep as they are
    quantized[:flips] = [0.45, 0.55]  # flipped, and close (margin 0.1)
    assert choose_margin(reference, quantized) == 0.12  # the first margin above 0.1
    quantized[:flips] = [0.1, 0.9]  # flipped with confidence: no margin catches them
    assert choose_margin(reference, quantized) is None
    assert choose_margin(reference, reference) == 0.0  # nothing to settle
