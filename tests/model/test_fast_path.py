"""The fast path gives the old answers: the PNG fast decoder against Pillow, the fused
classifier+detector graph against the two separate calls, the loop count against
scipy's labelling, on realistic digits, out-of-distribution sets and bad inputs."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from benchmarks.equivalence import concatenated_noise, numpy_bbox, scipy_loops
from model.errors import ImageError
from model.input import decode as decode_module
from model.input import preprocessing as preprocessing_module
from model.input.decode import MAX_PIXELS, decode
from model.input.png import decode_planes, decode_png, encode_up
from model.input.preprocessing import preprocess_stages
from model.judge.verdict import count_loops
from tests.helpers import digits_and_negatives, drawn_digit, png

#: Fused and separate sessions run the same detector nodes on the same thread count: equal
#: to within float32 rounding of a changed kernel order, far below any threshold's width.
FUSED_TOLERANCE = 1e-6
#: ... and the classifier with its batch norms folded into its convolutions
#: (`model.runtime.norm_fold`): exact in real arithmetic, float32 rounding apart.
FOLDED_TOLERANCE = 1e-5


def encode_png(pixels: np.ndarray, filters: list[int]) -> bytes:
    """A PNG of (h, w, c) uint8 with the given filter type on each row (0 None, 1 Sub,
    2 Up, 4 Paeth): what Pillow's encoder does not let a test choose."""
    h, w, c = pixels.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    flat = pixels.reshape(h, w * c).astype(np.int16)
    rows = []
    for r, kind in enumerate(filters):
        above = flat[r - 1] if r else np.zeros(w * c, np.int16)
        left = np.concatenate([np.zeros(c, np.int16), flat[r, :-c]])
        if kind == 0:
            f = flat[r]
        elif kind == 1:
            f = flat[r] - left
        elif kind == 2:
            f = flat[r] - above
        else:  # Paeth
            upleft = np.concatenate([np.zeros(c, np.int16), above[:-c]])
            p = left + above - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - above), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, upleft))
            f = flat[r] - pred
        rows.append(bytes([kind]) + (f % 256).astype(np.uint8).tobytes())

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    head = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    data = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def canvas_pixels(seed: int) -> np.ndarray:
    """(280, 280, 4): white antialiased strokes on a transparent field, like draw.js."""
    rng = np.random.default_rng(seed)
    alpha = np.asarray(
        drawn_digit(
            int(rng.choice([0, 1, 4, 7])), size=1120, width=int(rng.integers(10, 25))
        ).resize((280, 280), Image.Resampling.BOX)
    )
    out = np.zeros((280, 280, 4), np.uint8)
    out[..., :3] = np.where(alpha[..., None] > 0, 255, 0)
    out[..., 3] = alpha
    return out


def pillow(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("filters", ["up", "sub", "none", "mixed"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_fast_png_matches_pillow_bit_for_bit(filters, channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, (23, 31, channels), dtype=np.uint8)
    pixels[4:9] = 0  # runs of equal rows and columns, as on a canvas
    pixels[:, 20:] = pixels[:, 19:20]
    kinds = {
        "up": [2] * 23,
        "sub": [1] * 23,
        "none": [0] * 23,
        "mixed": list(rng.integers(0, 3, 23)),
    }[filters]
    data = encode_png(pixels, kinds)
    fast = decode_png(data, MAX_PIXELS)
    assert fast is not None
    ref = pillow(data)
    assert fast.mode == ref.mode and fast.size == ref.size
    assert np.array_equal(np.asarray(fast), np.asarray(ref))


def test_canvas_like_pngs_take_the_fast_path_and_match_pillow():
    for seed in range(5):
        pixels = canvas_pixels(seed)
        for data in (encode_png(pixels, [2] * 280), encode_up(pixels)):  # Chromium: Up
            fast = decode_png(data, MAX_PIXELS)
            assert fast is not None
            assert np.array_equal(np.asarray(fast), np.asarray(pillow(data)))
            assert np.array_equal(np.asarray(fast), pixels)


@pytest.mark.parametrize(
    "where",
    ["blank", "bottom edge", "top edge", "left and right edges", "corners", "one pixel", "full"],
)
def test_an_up_canvas_reads_exactly_wherever_its_ink_lies(where):
    """The Up filter is undone only inside the box of the filtered samples that are not 0
    (`column_sums`): ink running off any edge, or no ink at all, reads as it was drawn."""
    pixels = np.zeros((40, 36, 4), np.uint8)
    if where == "bottom edge":
        pixels[25:, 10:14] = 255  # a stroke running off the bottom: rows repeat below
        pixels[30:, 20] = 77
    elif where == "top edge":
        pixels[:6, 3:30] = 200
    elif where == "left and right edges":
        pixels[10:20, 0] = pixels[12:30, 35] = 255
    elif where == "corners":
        pixels[0, 0] = pixels[0, -1] = pixels[-1, 0] = pixels[-1, -1] = 255
    elif where == "one pixel":
        pixels[17, 9, 3] = 1
    elif where == "full":
        pixels[:] = np.random.default_rng(0).integers(0, 256, pixels.shape, dtype=np.uint8)
    data = encode_up(pixels)
    assert np.array_equal(np.asarray(decode_png(data, MAX_PIXELS)), pixels)
    mode, planes = decode_planes(data, MAX_PIXELS, 448)
    assert mode == "RGBA" and np.array_equal(np.dstack(planes), pixels)


def test_column_sums_in_the_box_are_the_whole_planes():
    """`column_sums` on random sparse planes (a box of strokes anywhere, a few stray bytes,
    thin and wide shapes) against the running sums of the whole plane, modulo 256."""
    import cv2

    from model.input.png import column_sums

    def whole(plane):
        total = cv2.integral(plane)
        return cv2.subtract(total[1:, 1:], total[1:, :-1]).astype(np.uint8)

    rng = np.random.default_rng(7)
    for _ in range(500):
        h, w = rng.integers(1, 60, 2)
        plane = np.zeros((h, w), np.uint8)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0, h + 1), rng.integers(x0, w + 1)
        plane[y0:y1, x0:x1] = rng.integers(0, 256, (y1 - y0, x1 - x0), dtype=np.uint8)
        plane[rng.integers(0, h, 2), rng.integers(0, w, 2)] = rng.integers(0, 256, 2)
        plane *= rng.random((h, w)) < rng.random()  # sparse, or dense
        assert np.array_equal(column_sums(plane), whole(plane))


@pytest.mark.parametrize(
    "case",
    ["paeth", "palette", "16-bit", "transparency key", "bad crc", "truncated", "bomb", "exif"],
)
def test_what_the_fast_path_declines_goes_to_pillow(case):
    pixels = canvas_pixels(0)[:40, :40]
    if case == "paeth":
        data = encode_png(pixels, [4] * 40)
    elif case == "palette":
        data = png(Image.fromarray(pixels[..., 3]).convert("P"))
    elif case == "16-bit":
        data = png(Image.fromarray(pixels[..., 3].astype(np.uint16) * 200))
    elif case == "transparency key":
        buf = io.BytesIO()
        Image.fromarray(pixels[..., 3]).save(buf, "PNG", transparency=0)
        data = buf.getvalue()
    elif case == "bad crc":
        good = encode_png(pixels, [2] * 40)
        data = good[:30] + bytes([good[30] ^ 1]) + good[31:]
    elif case == "truncated":
        data = encode_png(pixels, [2] * 40)[:-20]
    elif case == "bomb":
        data = encode_png(pixels, [2] * 40)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated: Pillow turns the picture
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "PNG", exif=exif)
        data = buf.getvalue()
    cap = 100 if case == "bomb" else MAX_PIXELS
    assert decode_png(data, cap) is None


def _old_decode(monkeypatch):
    monkeypatch.setattr(decode_module, "decode_png", lambda data, cap: None)
    monkeypatch.setattr(preprocessing_module, "decode_small_png", lambda *args: None)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n" + bytes(40),
        encode_png(np.zeros((8, 8, 4), np.uint8), [2] * 8)[:-30],
        encode_png(np.zeros((8, 8, 4), np.uint8), [9] * 8),
    ],
    ids=["signature only", "zeros", "truncated", "unknown filter"],
)
def test_bad_pngs_get_the_same_message_as_before(data, monkeypatch):
    with pytest.raises(ImageError) as new:
        preprocess_stages(data)
    _old_decode(monkeypatch)
    with pytest.raises(ImageError) as old:
        preprocess_stages(data)
    assert type(new.value) is type(old.value) and str(new.value) == str(old.value)


def test_the_pixel_cap_still_refuses_a_large_png_before_decoding(monkeypatch):
    data = encode_png(np.zeros((50, 50, 4), np.uint8), [2] * 50)
    with pytest.raises(ImageError, match="too large"):
        decode(data, 1000)


def _stages_equal(a, b) -> None:
    assert a.polarity == b.polarity and a.geometry == b.geometry
    for field in ("gray", "ink", "mask", "cropped", "fitted", "x"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert np.array_equal(np.asarray(a.display), np.asarray(b.display))


def test_realistic_canvases_preprocess_exactly_as_before(real_data_dir, monkeypatch):
    """Every canvas of the realistic set (all three styles), sent as PNG bytes with
    Pillow's and with Chromium's filters: every stage identical to Pillow's decoding."""
    from model.datasets import load_split, locate
    from training.renders import make_set

    test = load_split(locate("mnist", str(real_data_dir)), "test")
    images, _ = make_set("canvas", test.images, test.labels, 60, 0)
    sent = []
    for img in images:
        sent.append(png(img))
        a = np.asarray(img)
        sent.append(encode_png(a if a.ndim == 3 else a[..., None], [2] * a.shape[0]))
    # Chromium's files all take the fast path (Pillow's own use Paeth rows: declined).
    assert all(decode_png(d, MAX_PIXELS) is not None for d in sent[1::2])
    new = [preprocess_stages(d) for d in sent]
    _old_decode(monkeypatch)
    for data, stages in zip(sent, new, strict=True):
        _stages_equal(stages, preprocess_stages(data))


def test_loop_count_matches_scipys_labelling(real_data_dir):
    from model.datasets import load_split, locate
    from training.negatives import negatives

    rng = np.random.default_rng(0)
    test = load_split(locate("mnist", str(real_data_dir)), "test")
    inputs = list(test.images[:1000].astype(np.float32) / 255)
    inputs += list(rng.random((300, 28, 28)) ** 3)  # random pockets of every size
    inputs += [np.zeros((28, 28)), np.ones((28, 28))]
    for kind in ("scribbles", "shapes"):
        for item in negatives(kind, 100, "report", 2026):
            inputs.append(preprocess_stages(item).x)
    counts = [(count_loops(x), scipy_loops(x)) for x in inputs]
    assert all(a == b for a, b in counts)
    assert {a for a, _ in counts} >= {0, 1, 2, 3}


def test_fused_graph_answers_as_the_two_separate_calls(mnist_cnn, real_data_dir):
    assert mnist_cnn.fused
    x = np.stack(digits_and_negatives(mnist_cnn, real_data_dir, 500, 50))[..., None]
    for batch in (x[:1], x[:3], x):  # the single-threaded and the batch session
        probs, logodds = mnist_cnn.runtime.predict_and_detect(batch)
        np.testing.assert_allclose(probs, mnist_cnn.runtime(batch), atol=FOLDED_TOLERANCE)
        separate = mnist_cnn.judge.detector.scores(batch)
        np.testing.assert_allclose(logodds, separate, atol=FUSED_TOLERANCE)
    fused = mnist_cnn.predict_inputs(x)
    before = mnist_cnn.to_predictions(mnist_cnn.runtime(x), x)  # detector called separately
    assert [(p.label, p.verdict, p.reason) for p in fused] == [
        (p.label, p.verdict, p.reason) for p in before
    ]
    np.testing.assert_allclose(
        [p.ood_score for p in fused], [p.ood_score for p in before], atol=1e-5
    )


def test_the_fused_graph_holds_the_classifier_with_its_norms_folded():
    """The classifier's post-ReLU batch norms (a Mul and an Add on each feature map) are
    folded in the fused graph (`model.runtime.norm_fold`): no Mul is left, and each Add that
    is left works on a pooled map (a quarter of the values) or went into fc1's bias."""
    import onnx

    from model.runtime.artifacts import resolve
    from model.runtime.fused import fuse

    path = resolve("mnist-cnn").keras_path.with_suffix(".onnx")
    plain = onnx.load(str(path))
    fused = onnx.load_from_string(fuse(path, path.with_name("mnist-cnn.ood.onnx")))

    def norms(graph) -> list[tuple[str, str]]:
        """(op, the op making its first input) of each batch-norm node."""
        made_by = {out: n.op_type for n in graph.node for out in n.output}
        return [(n.op_type, made_by.get(n.input[0], "")) for n in graph.node if "_bn" in n.name]

    assert sorted(op for op, _ in norms(plain.graph)) == ["Add"] * 4 + ["Mul"] * 4
    assert norms(fused.graph) == [("Add", "MaxPool")] * 3  # conv3's went into fc1's bias


def _tiny_classifier(shared_weights: bool):
    """A (N, 28, 28, 1) -> (N, 10) ONNX classifier with a post-ReLU scale that norm_fold
    misreads: two convolutions share one weight (it would scale it twice), or the weight
    is made by a Constant node (it looks for an initializer)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def const(name, a):
        return numpy_helper.from_array(np.asarray(a, np.float32), name)

    w, b = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=4)
    inits = [numpy_helper.from_array(np.array([-1, 1, 28, 28], np.int64), "shape")]
    inits += [
        const("b", b),
        const("s1", rng.random((1, 4, 1, 1)) + 0.5),
        const("wd", rng.normal(size=(4, 10))),
    ]
    nodes = [helper.make_node("Reshape", ["image", "shape"], ["nchw"], "reshape")]
    if shared_weights:
        inits += [const("w", w), const("s2", rng.random((1, 4, 1, 1)) + 2)]
        nodes += [helper.make_node("Neg", ["nchw"], ["neg"], "neg")]
        for k, src in ((1, "nchw"), (2, "neg")):
            nodes += [
                helper.make_node("Conv", [src, "w", "b"], [f"z{k}"], f"conv{k}"),
                helper.make_node("Relu", [f"z{k}"], [f"r{k}"], f"relu{k}"),
                helper.make_node("Mul", [f"r{k}", f"s{k}"], [f"m{k}"], f"scale{k}"),
            ]
        nodes += [helper.make_node("Add", ["m1", "m2"], ["m"], "sum")]
    else:
        nodes += [
            helper.make_node("Constant", [], ["w"], "weight", value=const("wv", w)),
            helper.make_node("Conv", ["nchw", "w", "b"], ["z"], "conv"),
            helper.make_node("Relu", ["z"], ["r"], "relu"),
            helper.make_node("Mul", ["r", "s1"], ["m"], "scale"),
        ]
    nodes += [
        helper.make_node("GlobalAveragePool", ["m"], ["gap"], "gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], "flat"),
        helper.make_node("MatMul", ["flat", "wd"], ["logits"], "dense"),
        helper.make_node("Softmax", ["logits"], ["probs"], "softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    opsets = [helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 2)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


@pytest.mark.parametrize("shared_weights", [True, False])
def test_a_classifier_the_fold_misreads_is_fused_as_it_is(tmp_path, shared_weights):
    """Where norm_fold would raise or change the answers, the fused graph keeps the
    classifier unfolded: its probabilities are the file's own."""
    import onnx

    from model.runtime.artifacts import resolve
    from model.runtime.fused import fuse
    from model.runtime.runtimes import _session

    path = tmp_path / "tiny.onnx"
    onnx.save(_tiny_classifier(shared_weights), str(path))
    detector = resolve("mnist-cnn").keras_path.with_name("mnist-cnn.ood.onnx")
    graph = fuse(path, detector)
    assert graph is not None
    x = np.random.default_rng(1).random((16, 28, 28, 1), dtype=np.float32)
    want = _session(path, 1).run(None, {"image": x})[0]
    got = _session(graph, 1).run(None, {"image": x})[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=FUSED_TOLERANCE)


def test_fusion_declines_files_it_cannot_join(tmp_path):
    import onnx

    from model.runtime.artifacts import resolve
    from model.runtime.fused import fuse

    keras_path = resolve("mnist-cnn").keras_path
    onnx_path = keras_path.with_suffix(".onnx")
    assert fuse(onnx_path, keras_path.with_name("mnist-cnn.ood.onnx")) is not None
    other = onnx.load(str(onnx_path))  # the same net taking 3-channel inputs
    other.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 3
    onnx.save(other, str(tmp_path / "rgb.onnx"))
    assert fuse(onnx_path, tmp_path / "rgb.onnx") is None


def test_the_fused_graph_is_built_once_per_pair_of_files(tmp_path, monkeypatch):
    from model.runtime import fused
    from model.runtime.artifacts import CACHE_ENV, resolve

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    weights = resolve("mnist-cnn").keras_path.parent
    cnn = (weights / "mnist-cnn.onnx", weights / "mnist-cnn.ood.onnx")
    mlp = (weights / "mnist-mlp.onnx", weights / "mnist-mlp.ood.onnx")
    built = fused.fused_graph(*cnn)
    assert built == fused.fuse(*cnn) and len(list((tmp_path / "cache").rglob("*.onnx"))) == 1

    def refuse(*args):
        raise AssertionError("built again")

    monkeypatch.setattr(fused, "fuse", refuse)
    assert fused.fused_graph(*cnn) == built  # read back
    with pytest.raises(AssertionError, match="built again"):
        fused.fused_graph(*mlp)  # other files: never the cached graph
    retrained = tmp_path / "retrained.ood.onnx"  # the same detector, one byte changed
    retrained.write_bytes(cnn[1].read_bytes() + b"\0")
    with pytest.raises(AssertionError, match="built again"):
        fused.fused_graph(cnn[0], retrained)


def test_a_cache_that_cannot_be_written_still_gives_the_graph(tmp_path, monkeypatch):
    from model.runtime import fused
    from model.runtime.artifacts import CACHE_ENV, resolve

    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    weights = resolve("mnist-cnn").keras_path.parent
    pair = (weights / "mnist-cnn.onnx", weights / "mnist-cnn.ood.onnx")
    assert fused.fused_graph(*pair) == fused.fuse(*pair)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # nothing left behind


def test_allocator_thresholds_are_in_force_after_loading(mnist_cnn):
    from model.runtime import allocator

    assert allocator._tuned  # load_classifier applied them (glibc, Linux)
    assert allocator.tune_allocator()  # and applying them again is harmless


def test_preprocessing_helpers_match_numpy_and_scipy_exactly():
    """The box (OpenCV), the zero padding, the centre of mass and the median give the numbers of
    numpy's and scipy's general functions, on every shape the pipeline meets: sparse and
    dense masks, strided views, single pixels, maps with negative zeros and tiny values."""
    from model.input.filters import median
    from model.input.preprocessing import _bbox, _centre_of_mass, _padded

    rng = np.random.default_rng(7)
    for _ in range(500):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        mask = rng.random((h, w)) > rng.choice([0.5, 0.99, 0.9999])
        mask[rng.integers(h), rng.integers(w)] = True  # never empty
        assert _bbox(mask) == numpy_bbox(mask)
        view = mask[::2, ::-1]  # a strided view, as the pipeline's slices are
        if view.any():
            assert _bbox(view) == numpy_bbox(view)
        a = (rng.random((h, w), dtype=np.float32) ** 4) * (rng.random((h, w)) > 0.3)
        pad = int(rng.integers(0, 12))
        assert np.array_equal(_padded(a, pad), np.pad(a, pad))
        assert _padded(a, pad).dtype == np.float32
        if a.sum() > 0:
            assert _centre_of_mass(a) == ndimage.center_of_mass(a)
        border = a[:, : int(rng.integers(1, w + 1))]  # odd and even sizes
        assert median(border) == float(np.median(border))


def test_noise_rule_counts_the_same_differences_as_before():
    """`looks_like_noise` (counting where the differences are made) decides exactly as the
    count over `_neighbour_differences` it replaced: on noise of every strength around the
    threshold, odd and even sizes, one-pixel strips, and exact ties (half the differences
    over the line: not noise)."""
    from model.input.refusals import looks_like_noise

    rng = np.random.default_rng(3)
    cases = [np.array([[0, 1, 1], [1, 0, 1]], np.float32)]  # 2 of 4 differences over: a tie
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        strength = float(rng.choice([0.05, 0.15, 0.2, 0.25, 0.3, 1.0]))
        gray = (rng.random((h, w)) * strength).astype(np.float32)
        gray[: h // 2] = 0  # some images half blank: near the threshold
        cases.append(gray)
    decided = [looks_like_noise(g) for g in cases]
    assert decided == [concatenated_noise(g) for g in cases]
    assert not decided[0] and set(decided) == {True, False}
