"""Issue #21's tenth round: letters and digits in Debian's handwriting fonts for the digit
detector (`training.ood --hand-fonts`), and typed digits that stay in DejaVu."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from training import negatives as gen
from training.renders import fonts_available

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture
def font_root(tmp_path):
    """A font folder like Debian's: DejaVu and two handwriting packages (copies of DejaVu
    Sans under their names: only the file names matter here)."""
    if not DEJAVU.is_file():
        pytest.skip("DejaVu Sans is not installed")
    for rel in (
        "truetype/dejavu/DejaVuSans.ttf",
        "truetype/breip/Breip.ttf",
        "truetype/ecolier-court/Ecolier-court.ttf",
        "opentype/bwht/BecauseWeLearn-Regular.otf",
        "truetype/unrelated/Other.ttf",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEJAVU, tmp_path / rel)
    return tmp_path


def test_typed_digits_use_dejavu_whatever_else_is_installed(font_root):
    """The `font` sets and the calibration's typed digits read DejaVu only: a handwriting
    font installed for training must not change them."""
    assert [Path(f).name for f in fonts_available(str(font_root))] == ["DejaVuSans.ttf"]


def test_hand_fonts_are_the_packages_folders(font_root):
    names = [Path(f).name for f in gen.hand_fonts(font_root)]
    assert names == ["BecauseWeLearn-Regular.otf", "Breip.ttf", "Ecolier-court.ttf"]


def test_faces_with_outline_capitals_draw_lower_case_only(font_root, monkeypatch):
    drawn = []
    monkeypatch.setattr(gen, "letter", lambda ch, rng, fonts: drawn.append((fonts[0], ch)))
    fonts = gen.hand_fonts(font_root)
    rng = np.random.default_rng(0)
    for _ in range(300):
        gen.hand_font_glyph(gen.LETTERS, rng, fonts)
    by_face: dict[str, set[str]] = {}
    for font, ch in drawn:
        by_face.setdefault(Path(font).name, set()).add(ch)
    assert set(by_face) == {Path(f).name for f in fonts}
    assert not any(c.isupper() for c in by_face["Ecolier-court.ttf"])
    assert any(c.isupper() for c in by_face["Breip.ttf"])
    assert set().union(*by_face.values()) <= set(gen.LETTERS)  # never a digit-like letter


def test_hand_font_letters_and_digits_are_readable_drawings(font_root, monkeypatch):
    monkeypatch.setattr(gen, "hand_fonts", lambda: [str(font_root / "truetype/breip/Breip.ttf")])
    letters, ok = gen.model_inputs(gen.negatives("hand-font letters", 12, "train", 5))
    digits = gen.hand_font_digits(12, 6)
    assert ok.sum() >= 10 and len(digits) >= 10
    for x in (letters[ok], digits):
        assert x.shape[1:] == (28, 28) and (x.reshape(len(x), -1).max(1) > 0.5).all()


def test_without_the_fonts_the_family_says_what_to_install(monkeypatch):
    monkeypatch.setattr(gen, "hand_fonts", lambda: [])
    with pytest.raises(RuntimeError, match="apt-get install fonts-dkg-handwriting"):
        gen.negatives("hand-font letters", 2, "train", 0)
