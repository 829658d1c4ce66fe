"""LiteRT for single inputs (`model.runtime.litert`): the file answers as ONNX Runtime's
fused graph (labels, verdicts and reasons identical), a stale file is never used, `auto`
picks the faster by measurement and `onnx` never uses LiteRT, and the export rebuilds the
detector weight for weight."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model import load_classifier
from model.runtime import litert
from model.runtime.artifacts import CACHE_ENV, sources_sha256
from model.runtime.litert import MAX_ABS_DIFF, faster, litert_path_for, load_pair
from tests.helpers import digits_and_negatives, drawn_digit

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module", autouse=True)
def fresh_cache(tmp_path_factory):
    """A cache of this module's own: the first load measures, as on a new machine."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def auto():
    clf = load_classifier("mnist-cnn")
    assert clf.fused  # attaches the detector, which finds the LiteRT file and times it
    return clf


@pytest.fixture(scope="module")
def inputs(auto, real_data_dir) -> np.ndarray:
    return np.stack(digits_and_negatives(auto, real_data_dir, 300, 40))[..., None]


def test_auto_timed_both_and_litert_answers_as_the_fused_graph(auto, inputs):
    assert set(auto.runtime.single_ms) == {"onnxruntime", "litert"}
    answers = {}
    for name in ("litert", "onnxruntime"):
        auto.runtime.answer_single_with(name)
        answers[name] = [auto.predict_input(a) for a in inputs]
    lite, onnx = answers["litert"], answers["onnxruntime"]
    assert [(p.label, p.verdict, p.reason) for p in lite] == [
        (p.label, p.verdict, p.reason) for p in onnx
    ]
    assert {p.verdict for p in onnx} == {"digit", "unsure", "not_a_digit"}
    probs = np.stack([p.probabilities for p in lite]) - np.stack([p.probabilities for p in onnx])
    assert np.abs(probs).max() < MAX_ABS_DIFF
    assert np.abs(probs).max() > 0  # LiteRT really answered: its rounding is its own
    assert max(abs(a.ood_score - b.ood_score) for a, b in zip(lite, onnx, strict=True)) < 1e-3


def test_the_choice_is_remembered_and_reused_without_measuring(auto, monkeypatch):
    from model.runtime.artifacts import resolve

    keras_path = resolve("mnist-cnn").keras_path
    path = litert.choice_path(keras_path)
    assert path.is_file()  # the fixture's load measured and wrote it
    work = load_classifier("mnist-cnn")._between_predictions().key
    code = sorted((Path(litert.__file__).parents[1] / "input").glob("*.py"))  # model/input
    assert len(code) > 5 and work["code_sha256"] == sources_sha256(tuple(code))
    known = litert.remembered(keras_path, litert.choice_key(keras_path, work))
    assert known is not None and known["single"] in ("litert", "onnxruntime")

    def no_timing(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(litert, "faster", no_timing)
    for single in ("onnxruntime", "litert"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "single": single}))
        clf = load_classifier("mnist-cnn")
        assert clf.fused and clf.runtime.single == single
        # Where ONNX Runtime won, LiteRT is not even loaded (nor imported), until asked.
        assert (clf.runtime._pair is None) == (single == "onnxruntime")
        clf.runtime.answer_single_with("litert")
    monkeypatch.undo()
    valid = json.loads(path.read_text())
    assert litert.remembered(keras_path, litert.choice_key(keras_path, work)) is not None
    # Each of these alone has the choice measured again: a fused graph built otherwise,
    # another way of timing, another machine, another recipe or preprocessing code timed
    # between the calls (the caller's own description of its work), or none.
    for field, value in (
        ("fused_code_sha256", "a fused graph built otherwise"),
        ("method", "interleaved, the calls alone"),
        ("cores", -1),
        ("between", {**work, "code_sha256": "other preprocessing code"}),
    ):
        other = json.loads(json.dumps(valid))
        other["key"][field] = value
        path.write_text(json.dumps(other))
        assert litert.remembered(keras_path, litert.choice_key(keras_path, work)) is None, field
    path.write_text(json.dumps(valid))
    fashion = load_classifier("mnist-cnn", preprocessing="fashion")
    assert fashion._between_predictions().key["preprocessing"] == "fashion"
    for key in (fashion._between_predictions().key, None):
        assert litert.remembered(keras_path, litert.choice_key(keras_path, key)) is None
    path.write_text(json.dumps(other))  # (another machine's: the load measures again)
    clf = load_classifier("mnist-cnn")
    assert clf.fused and json.loads(path.read_text())["key"]["cores"] != -1


def test_a_block_answered_by_the_other_runtime_gives_the_choice_back():
    clf = load_classifier("mnist-cnn")
    assert clf.fused
    chosen = clf.runtime.single
    other = {"litert": "onnxruntime", "onnxruntime": "litert"}[chosen]
    with clf.runtime.answering_single_with(other):
        assert clf.runtime.single == other
    assert clf.runtime.single == chosen
    with pytest.raises(RuntimeError), clf.runtime.answering_single_with(other):
        raise RuntimeError("a failing block")
    assert clf.runtime.single == chosen


def test_onnx_runtime_never_uses_litert():
    clf = load_classifier("mnist-cnn", runtime="onnx")
    assert clf.fused and clf.runtime.single == "onnxruntime" and not clf.runtime.single_ms
    with pytest.raises(ValueError, match="no LiteRT file"):
        clf.runtime.answer_single_with("litert")


def test_the_faster_candidate_wins_on_a_fake_clock():
    now = [0.0]
    cost = {"slow": 3e-4, "fast": 1e-4}

    def call(name):
        def fn(x):
            now[0] += cost[name]

        return fn

    chosen, ms = faster({k: call(k) for k in cost}, np.zeros(1), calls=9, clock=lambda: now[0])
    assert chosen == "fast" and ms == pytest.approx({"slow": 0.3, "fast": 0.1})


def test_the_choice_counts_what_each_candidate_leaves_the_caller():
    """With `between` (a caller's work after each call), the candidate whose own call is
    faster but leaves the next work slower loses: each call is timed with that work, in
    blocks of calls of one candidate, as a process runs the one it chose."""
    now, last = [0.0], [None]
    call_cost = {"fast alone": 1e-4, "lean": 2e-4}
    work_after = {"fast alone": 5e-4, "lean": 1e-4}

    def call(name):
        def fn(x):
            now[0] += call_cost[name]
            last[0] = name

        return fn

    def between():
        now[0] += work_after[last[0]]

    candidates = {k: call(k) for k in call_cost}
    alone, _ = faster(candidates, np.zeros(1), calls=9, clock=lambda: now[0])
    chosen, ms = faster(candidates, np.zeros(1), calls=9, clock=lambda: now[0], between=between)
    assert alone == "fast alone" and chosen == "lean"
    assert ms == pytest.approx({"fast alone": 0.6, "lean": 0.3})


def test_each_candidate_is_timed_in_blocks_of_its_own_calls():
    """A process runs the runtime it chose call after call: a candidate that is fast only
    on its own warm caches wins in blocks (the first calls of each, untimed, pay for the
    switch), and would lose if the calls alternated one by one."""
    now, last = [0.0], [None]
    warm = {"a": 1e-4, "b": 2e-4}
    cold = {"a": 5e-4, "b": 2.2e-4}  # right after the other candidate's call

    def call(name):
        def fn(x):
            now[0] += warm[name] if last[0] == name else cold[name]
            last[0] = name

        return fn

    candidates = {k: call(k) for k in warm}
    chosen, ms = faster(candidates, np.zeros(1), clock=lambda: now[0])
    assert chosen == "a" and ms == pytest.approx({"a": 0.1, "b": 0.2})
    alternating, _ = faster(candidates, np.zeros(1), clock=lambda: now[0], block=1)
    assert alternating == "b"


def test_a_digit_model_times_the_runtimes_with_a_canvas_preprocessed_between(monkeypatch):
    """`Classifier.fused` hands the choice a drawing's preprocessing to run between calls."""
    from model.input import samples
    from model.runtime import runtimes

    seen = {}

    def spy(keras_path, detector, onnx, x, between=None):
        seen["between"] = between
        return "onnxruntime", {}, None

    monkeypatch.setattr(runtimes, "choose", spy)
    clf = load_classifier("mnist-cnn")
    assert clf.fused and seen["between"] is not None
    assert np.array_equal(seen["between"].run(), clf.preprocess(samples.sample_canvas()))
    assert seen["between"].key["preprocessing"] == "mnist"


def _copy_model(tmp_path: Path) -> Path:
    from model.runtime.artifacts import resolve

    keras_path = resolve("mnist-cnn").keras_path
    for name in ("mnist-cnn.keras", "mnist-cnn.json", "mnist-cnn.onnx", "mnist-cnn.ood.onnx"):
        shutil.copy(keras_path.with_name(name), tmp_path / name)
    shutil.copy(keras_path.with_name("mnist-cnn.ood.json"), tmp_path / "mnist-cnn.ood.json")
    return tmp_path / "mnist-cnn.keras"


def test_a_stale_litert_file_is_never_used(tmp_path):
    import onnx
    from onnx import numpy_helper

    from model.runtime.artifacts import resolve

    src = resolve("mnist-cnn").keras_path
    keras_path = _copy_model(tmp_path)
    for name in ("mnist-cnn.tflite", "mnist-cnn.litert.json"):
        shutil.copy(src.with_name(name), tmp_path / name)
    detector = tmp_path / "mnist-cnn.ood.onnx"
    assert litert_path_for(keras_path, detector) == tmp_path / "mnist-cnn.tflite"
    retrained = onnx.load(str(detector))  # a retrained detector: other weights
    bias = retrained.graph.initializer[2]
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.5, bias.name))
    onnx.save(retrained, str(detector))
    assert litert_path_for(keras_path, detector) is None and load_pair(keras_path, detector) is None
    clf = load_classifier(keras_path)  # the retrained detector still joins ONNX Runtime's graph
    assert clf.fused and clf.runtime.single == "onnxruntime" and not clf.runtime.single_ms


def test_export_rebuilds_the_detector_and_writes_a_file_auto_uses(tmp_path):
    from model.judge.verdict import Detector
    from model.runtime.export import main
    from model.runtime.litert_export import detector_net

    keras_path = _copy_model(tmp_path)
    detector = tmp_path / "mnist-cnn.ood.onnx"
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    rebuilt = np.asarray(detector_net(detector)(x)).reshape(-1)
    np.testing.assert_allclose(rebuilt, Detector(detector).scores(x), atol=MAX_ABS_DIFF)
    assert main(["--model", str(keras_path), "--format", "litert"]) == 0
    assert load_pair(keras_path, detector) is not None
    clf = load_classifier(keras_path)
    assert clf.fused and set(clf.runtime.single_ms) == {"onnxruntime", "litert"}


def test_a_cache_that_cannot_be_written_still_loads_and_chooses(tmp_path, monkeypatch):
    """The choice is measured and used, though it cannot be remembered (a read-only home)."""
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    clf = load_classifier("mnist-cnn")
    assert clf.fused and set(clf.runtime.single_ms) == {"onnxruntime", "litert"}
    assert clf.predict(drawn_digit(7)).label == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_a_tie_within_the_margin_keeps_the_first_candidate():
    """Two runtimes 1-2 % apart swapped from one load to the next (LiteRT was chosen as
    often as not on a tie): the first, ONNX Runtime, is kept unless another is faster by
    more than CHOICE_MARGIN."""
    from model.runtime.litert import CHOICE_MARGIN

    now = [0.0]

    def candidates(second: float) -> dict:
        cost = {"first": 1e-4, "second": second}

        def call(name):
            def fn(x):
                now[0] += cost[name]

            return fn

        return {k: call(k) for k in cost}

    near = 1e-4 * (1 - CHOICE_MARGIN / 2)
    assert faster(candidates(near), np.zeros(1), calls=9, clock=lambda: now[0])[0] == "first"
    far = 1e-4 * (1 - 2 * CHOICE_MARGIN)
    assert faster(candidates(far), np.zeros(1), calls=9, clock=lambda: now[0])[0] == "second"
