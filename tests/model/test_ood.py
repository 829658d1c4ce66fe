"""The verdict on the bundled models: digits answered, everything else not, in words."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from model.errors import NoiseImageError, TooSmallError
from model.judge.verdict import (
    BLANK_REASON,
    VERDICTS,
    count_loops,
    posthoc_scores,
    read_ood_card,
)
from model.prediction import format_probability
from tests.helpers import drawn_digit

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def letter_on_canvas(ch: str) -> Image.Image:
    """A letter written large on the 280x280 canvas, white on black."""
    img = Image.new("L", (280, 280), 0)
    try:
        font = ImageFont.truetype(FONT, 200)
    except OSError:
        pytest.skip("DejaVu Sans is not installed")
    ImageDraw.Draw(img).text((140, 140), ch, fill=255, font=font, anchor="mm")
    return img


def dot_on_canvas(radius: int = 9) -> Image.Image:
    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).ellipse((130 - radius, 120 - radius, 130 + radius, 120 + radius), 255)
    return img


def uniform_noise(seed: int = 0, shape: tuple[int, ...] = (200, 200)) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.uint8)


def test_bundled_digit_models_have_a_detector(mnist_cnn):
    card = read_ood_card(mnist_cnn.artifact.keras_path)
    assert card is not None and card.reject >= card.unsure
    assert mnist_cnn.judge.method == "detector"


def test_a_clear_seven_is_a_digit(mnist_cnn):
    p = mnist_cnn.predict(drawn_digit(7))
    assert (p.label, p.verdict, p.reason) == (7, "digit", None)


@pytest.mark.parametrize("digit", [0, 1, 4])
def test_other_drawn_digits_are_answered(mnist_cnn, digit):
    assert mnist_cnn.predict(drawn_digit(digit)).verdict == "digit"


def pen_x(width: int = 18) -> Image.Image:
    """The letter X drawn on the canvas with two pen strokes, as a user draws it."""
    img = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(80, 60), (200, 220)], fill=255, width=width)
    d.line([(200, 60), (80, 220)], fill=255, width=width)
    return img


@pytest.mark.parametrize("width", [8, 18])
def test_letter_x_is_not_a_digit(mnist_cnn, width):
    p = mnist_cnn.predict(pen_x(width))
    assert p.verdict == "not_a_digit", (p.verdict, p.ood_score)
    assert "not look like a digit" in p.reason


def test_typed_x_is_not_answered_as_a_digit(mnist_cnn):
    assert mnist_cnn.predict(letter_on_canvas("X")).verdict != "digit"


@pytest.mark.parametrize(
    "seed, shape",
    [(0, (200, 200)), (1, (60, 280, 3)), (2, (250, 30)), (3, (300, 28, 3))],
    ids=["square", "colour", "strip", "colour-strip"],
)
def test_uniform_noise_is_never_a_digit(mnist_cnn, seed, shape):
    """Narrow strips used to become a solid bar after preprocessing: a 1 at 99 %."""
    with pytest.raises(NoiseImageError, match="random noise"):
        mnist_cnn.predict(uniform_noise(seed, shape))


def test_noise_as_a_model_input_is_not_a_digit(mnist_cnn):
    """Past preprocessing (a 28x28 array fed as it is), the detector still says no."""
    x = np.random.default_rng(4).random((28, 28)).astype(np.float32)
    p = mnist_cnn.predict_input(x)
    assert p.verdict == "not_a_digit", (p.verdict, p.ood_score)


@pytest.mark.parametrize("name", ["mnist-cnn", "mnist-mlp", "fashion-cnn"])
def test_a_blank_model_input_is_not_a_digit(name):
    """A model-format input with no ink (a v2 FP32 tensor of zeros, an empty IDX row) was
    answered "1, 99.98 %, digit": preprocessing refuses a blank image before the model
    sees it, an input in model format came without that check. Batched and alone."""
    from model import load_classifier

    clf = load_classifier(name)
    seven = clf.preprocess(drawn_digit(7))
    faint = np.full((28, 28), 0.15, np.float32)  # under the ink level everywhere
    got = clf.predict_inputs(np.stack([np.zeros((28, 28), np.float32), seven, faint]))
    assert [p.verdict for p in got][::2] == ["not_a_digit", "not_a_digit"]
    assert got[0].reason == got[2].reason == BLANK_REASON
    assert got[1].reason != BLANK_REASON
    assert clf.predict_input(np.zeros((28, 28))).reason == BLANK_REASON


def stacked_loops(n: int, width: int = 14) -> Image.Image:
    """n loops stacked on top of each other, white on black: 2 is an 8, 3 no digit."""
    img = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(img)
    h = 230 // n
    for i in range(n):
        d.ellipse((95, 25 + i * h, 185, 29 + (i + 1) * h), outline=255, width=width)
    return img


def trefoil() -> Image.Image:
    """Three touching rings in a triangle."""
    img = Image.new("L", (280, 280), 0)
    for cx, cy in [(140, 95), (100, 165), (180, 165)]:
        ImageDraw.Draw(img).ellipse((cx - 45, cy - 45, cx + 45, cy + 45), outline=255, width=14)
    return img


def test_loops_are_counted_on_the_model_input(mnist_cnn):
    ring = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(ring).ellipse((90, 40, 190, 240), outline=255, width=18)
    assert count_loops(mnist_cnn.preprocess(drawn_digit(7))) == 0
    assert count_loops(mnist_cnn.preprocess(ring)) == 1
    assert count_loops(mnist_cnn.preprocess(stacked_loops(2))) == 2
    assert count_loops(mnist_cnn.preprocess(stacked_loops(3))) == 3


def test_an_eight_is_a_digit_but_more_loops_than_any_digit_is_not(mnist_cnn):
    """The classifier reads all of these as an 8 (the detector alone lets them through);
    no digit has three loops."""
    eight = mnist_cnn.predict(stacked_loops(2))
    assert (eight.verdict, eight.label) == ("digit", 8)
    for img in (stacked_loops(3), stacked_loops(4), trefoil()):
        p = mnist_cnn.predict(img)
        assert p.verdict == "not_a_digit", (p.verdict, p.label, p.ood_score)


def test_a_dot_is_too_small_to_read(mnist_cnn):
    with pytest.raises(TooSmallError, match="too small to read"):
        mnist_cnn.predict(dot_on_canvas())


def test_score_rises_as_a_digit_fades_into_noise(mnist_cnn):
    """Monotone: blending the model input of a 7 toward noise never lowers the score
    before it is rejected, and the verdict never goes back toward `digit`."""
    x = mnist_cnn.preprocess(drawn_digit(7))
    noise = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    preds = [mnist_cnn.predict_input((1 - a) * x + a * noise) for a in np.linspace(0, 1, 6)]
    scores = [p.ood_score for p in preds]
    reject = read_ood_card(mnist_cnn.artifact.keras_path).reject
    for a, b in zip(scores, scores[1:], strict=False):
        assert b >= a - 0.05 or a >= reject, scores
    ranks = [VERDICTS.index(p.verdict) for p in preds]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 2, ranks


def test_batch_and_single_verdicts_agree(mnist_cnn):
    images = [drawn_digit(7), pen_x(), letter_on_canvas("X")]
    batch = mnist_cnn.predict_batch(images)
    single = [mnist_cnn.predict(img) for img in images]
    assert [p.verdict for p in batch] == [p.verdict for p in single]
    np.testing.assert_allclose(
        [p.ood_score for p in batch], [p.ood_score for p in single], atol=1e-4
    )
    d = batch[1].to_dict()
    assert d["verdict"] in VERDICTS and isinstance(d["ood_score"], float) and d["reason"]


def test_a_model_without_detector_falls_back_to_max_softmax(undetected):
    clf = undetected
    assert clf.judge.method == "max-softmax"
    flat = np.full(10, 0.1, np.float32)
    p = clf.to_prediction(flat)
    assert p.verdict == "not_a_digit" and p.ood_score == pytest.approx(np.log(10), rel=1e-4)
    assert "Fashion-MNIST item" in p.reason  # worded for what the model reads
    sure = np.array([0.995] + [0.005 / 9] * 9, np.float32)
    assert clf.to_prediction(sure).verdict == "digit"
    torn = np.array([0.5, 0.45] + [0.05 / 8] * 8, np.float32)
    t = clf.to_prediction(torn)
    assert t.verdict == "unsure" and "T-shirt/top or Trouser" in t.reason


def test_posthoc_score_is_minus_log_max_probability():
    probs = np.array([[1.0] + [0.0] * 9, [0.1] * 10], np.float32)
    np.testing.assert_allclose(posthoc_scores(probs), [0.0, np.log(10)], atol=1e-5)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (1.0, "> 99.9 %"),
        (0.99996, "> 99.9 %"),
        (0.9994, "99.9 %"),
        (0.5, "50.0 %"),
        (0.00004, "< 0.1 %"),
        (0.0, "< 0.1 %"),
    ],
)
def test_probabilities_are_never_shown_as_certain(p, text):
    assert format_probability(p) == text


def test_benchmark_sets_are_disjoint_from_training_sets():
    """What the detector trains on is never what benchmarks/ood.py reports on."""
    from training import negatives as gen

    assert not set(gen.fonts_for("train")) & set(gen.fonts_for("report"))
    assert not set(gen.fonts_for("other")) & set(gen.fonts_for("train"))
    from training.handwriting import MORE_PEN_FONTS, PEN_FONTS, coil, scratch, scrawl

    assert not set(PEN_FONTS["train"]) & set(PEN_FONTS["report"])
    assert not set(MORE_PEN_FONTS) & set(PEN_FONTS["report"])
    assert coil not in gen.SCRIBBLES["report"] and scrawl not in gen.SCRIBBLES["train"]
    assert scratch not in gen.SCRIBBLES["report"]
    from training.handwriting import JOINED_FONT, bezier_loops

    assert JOINED_FONT in PEN_FONTS["train"] and JOINED_FONT not in PEN_FONTS["report"]
    assert bezier_loops not in gen.SCRIBBLES["report"]
    from training.ood import TYPED_FONTS
    from training.renders import fonts_available

    typed = {f for f in gen.fonts_for("train") if f.rsplit("/", 1)[-1].startswith(TYPED_FONTS)}
    assert not typed & set(fonts_available())  # the report's and calibration's typed digits
    assert not set(gen.SHAPES["train"]) & set(gen.SHAPES["report"])
    assert not set(gen.SCRIBBLES["train"]) & set(gen.SCRIBBLES["report"])
    assert not set(gen.LETTERS) & set(gen.AMBIGUOUS)  # digit-like letters never negatives
    from benchmarks.ood import SEED
    from training.ood import _families

    families = len(_families(True, True, True))
    train_seeds = {gen.SEED["train"] + 100 + k for k in range(families)}
    used = set(gen.SEED.values()) | train_seeds
    assert not used & {SEED + 1000 + k for k in range(10)}
    items = gen.negatives("shapes", 4, "report", 0)
    assert len(items) == 4


@pytest.mark.parametrize("kind", ["handwritten letters", "letters, other fonts", "scrawls"])
def test_new_report_families_draw_ink_the_reader_can_read(kind):
    """The benchmark's held-out families (issue #21) make real drawings, not blanks."""
    from training.handwriting import hershey_available
    from training.negatives import fonts_for, model_inputs, negatives

    if kind == "handwritten letters" and not hershey_available():
        pytest.skip("the Hershey-Fonts package is not installed")
    if kind == "letters, other fonts" and not fonts_for("other"):
        pytest.skip("matplotlib's Computer Modern fonts are not installed")
    x, ok = model_inputs(negatives(kind, 6, "report", 5))
    assert ok.sum() >= 5 and x.shape[1:] == (28, 28)
    assert all(0.03 < float((a > 0.5).mean()) < 0.6 for a in x)  # strokes, not a blank or a fill


def test_more_pen_letters_leave_out_each_faces_digit_like_glyphs(monkeypatch):
    """The training-only pen faces (issue #21) never draw a key whose glyph looks like a
    digit in that face (Greek V is an O; Cyrillic C is a 3 turned round)."""
    from training import negatives as gen
    from training.handwriting import MORE_PEN_FONTS, hershey_available

    if not hershey_available():
        pytest.skip("the Hershey-Fonts package is not installed")
    drawn = []

    def record(ch, rng, fonts):
        drawn.append((fonts[0], ch))
        return letter_on_canvas("X")

    monkeypatch.setattr(gen, "pen_letter", record)
    gen.negatives("more pen letters", 400, "train", 3)
    faces = {face for face, _ in drawn}
    assert faces == set(MORE_PEN_FONTS)
    for face, ch in drawn:
        assert ch in gen.LETTERS and ch not in MORE_PEN_FONTS[face], (face, ch)


def test_scratches_turn_back_sharply_at_least_four_times():
    """A training scratch has 4-9 legs, each turning 110-180 degrees from the last (three
    legs draw a Z, an N or a 4: digits are never trained on as negatives)."""
    from training.handwriting import scratch_path

    for seed in range(50):
        pts = scratch_path(np.random.default_rng(seed))
        legs = np.diff(pts, axis=0)
        assert 4 <= len(legs) <= 9
        cos = (
            (legs[1:] * legs[:-1]).sum(1)
            / np.linalg.norm(legs[1:], axis=1)
            / (np.linalg.norm(legs[:-1], axis=1))
        )
        assert (cos <= np.cos(np.radians(110)) + 1e-9).all()


def test_bezier_loops_cross_themselves_once_a_piece():
    """Each piece of a training Bezier chain ties a loop: the curve crosses itself, so it
    is a looped scribble, not a digit's open stroke (issue #21, third round)."""
    from training.handwriting import bezier_path

    def crossings(p: np.ndarray) -> int:
        a, b = p[:-1], p[1:]
        count = 0
        for i in range(len(a)):
            for j in range(i + 2, len(a)):
                d1, d2 = b[i] - a[i], b[j] - a[j]
                den = d1[0] * d2[1] - d1[1] * d2[0]
                if abs(den) < 1e-12:
                    continue
                r = a[j] - a[i]
                t = (r[0] * d2[1] - r[1] * d2[0]) / den
                u = (r[0] * d1[1] - r[1] * d1[0]) / den
                count += bool(0 < t < 1 and 0 < u < 1)
        return count

    for seed in range(20):
        pieces = bezier_path(np.random.default_rng(seed))
        assert 2 <= len(pieces) <= 4
        assert all(crossings(p) == 1 for p in pieces), seed


def test_joined_letters_write_two_or_three_training_letters(monkeypatch):
    """Joined cursive letters (training only) draw only the non-digit-like letters, two or
    three at a time, in the training cursive face."""
    from training import handwriting
    from training.negatives import LETTERS

    drawn = []
    monkeypatch.setattr(
        handwriting, "pen_letter", lambda text, rng, fonts: drawn.append((text, fonts))
    )
    for seed in range(40):
        handwriting.joined_letters(np.random.default_rng(seed), LETTERS)
    assert {len(t) for t, _ in drawn} == {2, 3}
    assert all(set(t) <= set(LETTERS) and f == (handwriting.JOINED_FONT,) for t, f in drawn)


def test_the_thresholds_are_read_from_the_detector_card(tmp_path, mnist_cnn):
    """The verdict's operating point is the card's (`<name>.ood.json`), not a constant: the
    same drawn 7 is `digit` or `unsure` as the card's `unsure` threshold moves past its score."""
    import dataclasses
    import shutil

    from model.judge.verdict import write_ood_card
    from model.judge.which import load_judge

    bundled = mnist_cnn.artifact.keras_path
    card = read_ood_card(bundled)
    shutil.copy(bundled.with_name(card.file), tmp_path / card.file)
    keras_path = tmp_path / "copy.keras"
    x = mnist_cnn.preprocess(drawn_digit(7))[None]
    probs = mnist_cnn.probabilities(x)
    score = float(mnist_cnn.judge.scores(x, probs)[0])
    for unsure, expected in ((score + 0.5, "digit"), (score - 0.5, "unsure")):
        moved = dataclasses.replace(card, unsure=unsure, reject=max(card.reject, unsure + 1))
        write_ood_card(keras_path, moved)
        judge = load_judge(keras_path, mnist_cnn.class_names, mnist_cnn.card)
        assert judge.thresholds(True)[0] == unsure
        assert judge.verdict(float(judge.scores(x, probs)[0]), probs[0], True)[0] == expected


def test_turned_digits_keep_only_the_classes_a_turn_makes_no_digit(monkeypatch):
    """A turned training digit is one of the MNIST digits upside down, mirrored or flipped,
    and only of a class that turn makes no digit: never a 0, 1 or 8 (one turned any way),
    never a 6 or 9 upside down (the other) (issue #21, fourth round)."""
    import types

    import model.datasets
    from training import negatives as gen

    rng = np.random.default_rng(0)
    images = (rng.random((60, 28, 28)) * 255).astype(np.uint8)
    labels = np.arange(60) % 10
    fake = types.SimpleNamespace(images=images, labels=labels)
    monkeypatch.setattr(model.datasets, "locate", lambda name, data_dir=None: "here")
    monkeypatch.setattr(model.datasets, "load_split", lambda where, split: fake)
    seen = []
    monkeypatch.setattr(gen, "GENERATORS", {"canvas": lambda a, rng: seen.append(a)})
    gen.negatives("turned digits", 200, "train", 5)
    turns_used = set()
    for a in seen:
        found = [
            (name, int(labels[i]))
            for name, (turn, _) in gen.TURNS.items()
            for i in range(len(images))
            if np.array_equal(turn(images[i]), a)
        ]
        assert len(found) == 1
        name, label = found[0]
        assert label in gen.TURNS[name][1], (name, label)
        turns_used.add(name)
    assert turns_used == set(gen.TURNS)
    assert not any({0, 1, 8} & classes for _, classes in gen.TURNS.values())
    assert not {6, 9} & gen.TURNS["upside down"][1]


@pytest.mark.parametrize("model", ["mnist-cnn", "fashion-cnn"])
def test_the_ood_benchmark_runs_to_its_table(model, real_data_dir, monkeypatch):
    """`python -m benchmarks.ood` end to end on tiny sets (its table captured, not written):
    the digit path once died at the end, its table's name shadowed by a loop variable."""
    from benchmarks import ood

    written = {}
    monkeypatch.setattr(ood, "write_table", lambda name, text, _: written.update({name: text}))
    assert ood.main(["--model", model, "--n", "4", "--data-dir", str(real_data_dir)]) == 0
    ((name, text),) = written.items()
    assert name == ("ood" if model == "mnist-cnn" else "ood-fashion-cnn")
    assert "| handwritten letters | 4 |" in text and "| short stroke | 4 |" in text


def test_a_model_without_a_data_set_is_a_digit_model_only_if_its_classes_are_digits():
    """A user's three-class model with no card was told "this may not be a digit at all"
    (a user test): a card that names no data set falls back to MNIST's words only for
    the ten digits."""
    from model.judge.verdict import Judge, thing_for
    from model.runtime.card import Card

    shapes = ("circle", "square", "star")
    assert thing_for(Card(), shapes) == "something this model knows"
    assert thing_for(Card(), tuple("0123456789")) == "a digit"
    assert thing_for(Card(dataset="mnist"), tuple("0123456789")) == "a digit"
    spread = np.array([0.34, 0.33, 0.33], np.float32)
    judge = Judge(shapes, thing_for(Card(), shapes))
    _, reason = judge.verdict(float(-np.log(0.34)), spread, detector_score=False)
    assert "digit" not in reason, reason
