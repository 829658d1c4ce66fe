"""The example images the docs' commands run on read as the docs say (docs/tutorial/upload.md)."""

from __future__ import annotations

from model import load_classifier
from tests.helpers import ROOT

EXAMPLES = ROOT / "examples"


def test_the_examples_read_as_the_tutorial_says():
    clf = load_classifier("mnist-cnn")
    for name, label in (("seven.png", 7), ("nine.png", 9)):
        p = clf.predict(EXAMPLES / name)
        assert (p.label, p.verdict) == (label, "digit"), (name, p)
    assert clf.read_number(EXAMPLES / "age.png").text == "42"
    page = (ROOT / "docs" / "tutorial" / "upload.md").read_text()
    assert "python -m model.predict seven.png nine.png" in page and "--number age.png" in page
