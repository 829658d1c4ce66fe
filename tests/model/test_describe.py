"""Maps in words: where the strongest evidence lies, named as a person would."""

import numpy as np
import pytest

from model.why.describe import describe, describe_map, strongest_region
from model.why.report import report
from tests.helpers import drawn_digit


@pytest.mark.parametrize(
    ("yx", "words"),
    [
        ((2, 2), "the upper left"),
        ((2, 14), "the top"),
        ((14, 25), "the right side"),
        ((14, 14), "the centre"),
        ((25, 14), "the bottom"),
        ((25, 25), "the lower right"),
    ],
)
def test_the_strongest_evidence_is_named_where_it_is(yx, words):
    m = np.zeros((28, 28), np.float32)
    m[yx] = 1.0
    m[27 - yx[0], 27 - yx[1]] = 0.3  # weaker evidence elsewhere does not move it
    assert strongest_region(m) == words


def test_an_empty_map_is_nowhere():
    assert strongest_region(np.zeros((7, 7))) == "nowhere"


def test_a_report_says_method_class_place_and_trust(mnist_cnn):
    r = report(mnist_cnn, drawn_digit(7), method="gradcam", layer="conv3")
    words = describe(r, mnist_cnn.class_names)
    assert words.startswith("Grad-CAM for 7: strongest ")
    assert words.endswith(r.trust.verdict)
    assert describe_map(r.explanation, mnist_cnn.class_names) in words
