"""The Draw page's number mode in real Chromium: "42" written with the mouse on the wide pad
is read as 4 and 2, each digit with its own answer, map and trust, and the 4 made a 9."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS

pytestmark = pytest.mark.e2e

#: The number pad's canvas pixels (ui.canvas.NUMBER_PAD_SIZE).
PAD_W, PAD_H = 700, 280
#: "42" in two strokes, in number-pad pixels: a 4 on the left, a 2 on the right.
FOUR = [(190, 230), (190, 50), (100, 170), (220, 170)]
TWO = [(370, 90), (400, 60), (440, 55), (475, 80), (475, 120), (440, 170), (370, 230), (490, 230)]
#: Pointer positions per segment of a stroke.
STEPS = 6


def stroke(page, points) -> None:
    """One mouse stroke through `points` (number-pad pixels) on the wide pad."""
    box = page.locator(".dl-pad.dl-wide .dl-canvas").bounding_box()
    sx, sy = box["width"] / PAD_W, box["height"] / PAD_H
    pts = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        pts += [
            (x0 + (x1 - x0) * t / STEPS, y0 + (y1 - y0) * t / STEPS) for t in range(1, STEPS + 1)
        ]
    page.mouse.move(box["x"] + pts[0][0] * sx, box["y"] + pts[0][1] * sy)
    page.mouse.down()
    for x, y in pts[1:]:
        page.mouse.move(box["x"] + x * sx, box["y"] + y * sy)
    page.mouse.up()


def digit(page, i: int, key: str = "dl-digit"):
    """The i-th digit's answer block (under the pad; `key` on the Upload page)."""
    return page.locator(f".st-key-{key}-{i}")


def test_number_mode_reads_42_digit_by_digit_with_maps(page, streamlit_url):
    page.goto(streamlit_url)
    page.locator(".dl-pad").first.wait_for(timeout=60_000)
    page.get_by_text("A number", exact=True).click()
    pad = page.locator(".dl-pad.dl-wide")
    pad.wait_for()
    box = pad.locator(".dl-canvas").bounding_box()
    assert box["width"] > 2 * box["height"], box  # the wide pad, not the square one
    page.get_by_text("Write a number on the wide pad").wait_for()
    # before a stroke the pad asks for a number and times no round trip yet (it said
    # "draw a digit" and "server – ms round trip")
    assert pad.locator(".dl-live-sure").text_content() == "write a number"
    assert "round trip" not in pad.locator(".dl-stats").text_content()

    stroke(page, FOUR)
    digit(page, 0).locator(".dl-label:text-is('4')").wait_for(timeout=30_000)
    stroke(page, TWO)
    page.locator(".dl-live-digit:text-is('42')").wait_for(timeout=30_000)  # the pad's answer
    page.locator(".dl-number-text:text-is('42')").wait_for(timeout=30_000)
    for i, label in enumerate("42"):
        block = digit(page, i)
        block.locator(f".dl-label:text-is('{label}')").wait_for(timeout=30_000)
        # its map, inline, loaded, with a text alternative that names the digit
        img = block.locator("figure.dl-fig img")
        img.wait_for()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0")
        assert f" for {label}" in img.get_attribute("alt")
        text = block.text_content()
        assert "sure" in text and "Trust:" in text  # its probability, its map's trust
    assert digit(page, 2).count() == 0  # two digits, no more
    # The page says what is drawn ("Draw a digit" stayed over a number) and the pad's line
    # says a number was read ("digit · server"); each map fits one square, so a tall
    # digit's sits level with the others (a 1 was drawn twice as tall, its caption lower).
    page.get_by_role("heading", name="Draw a number").wait_for()
    assert pad.locator(".dl-live-sure").text_content().startswith(("read", "unsure"))
    for i in range(2):
        shown = digit(page, i).locator("figure.dl-fig img").bounding_box()
        assert shown["height"] <= 151 and shown["width"] <= 151, shown
    # "Make the 4 a 9": the first digit is the one chosen to change; its edit alone
    page.get_by_role("button", name="a 9", exact=True).click()
    page.get_by_text("The model reads 9 ").first.wait_for(timeout=120_000)
    page.get_by_text("The edited digit", exact=True).wait_for()
    assert page.locator("text=Traceback").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw-number-42.png"), full_page=True)


def test_upload_reads_a_number_on_paper(page, streamlit_url, tmp_path):
    """A photo-like upload of "741" (dark ink on paper) is read digit by digit."""
    import numpy as np
    from PIL import Image

    from model.input.samples import drawn_digit

    inks = [np.asarray(drawn_digit(d).convert("L")) for d in (7, 4, 1)]
    inks = [a[:, a.max(axis=0) > 0] for a in inks]  # each trimmed to its ink
    field = np.zeros((280, sum(a.shape[1] for a in inks) + 30 * 4), np.uint8)
    x = 30
    for a in inks:
        field[:, x : x + a.shape[1]] = a
        x += a.shape[1] + 30
    path = tmp_path / "number.png"
    Image.fromarray(230 - (field.astype(np.float32) * 0.8).astype(np.uint8)).save(path)
    page.goto(streamlit_url + "/upload")
    page.locator("input[type='file']").first.set_input_files(str(path))
    page.locator(".dl-number-text:text-is('741')").wait_for(timeout=60_000)
    for i, label in enumerate("741"):
        block = digit(page, i, "dl-upload-0-digit")  # (the first upload's digits)
        block.locator(f".dl-label:text-is('{label}')").wait_for()
        maps = block.locator("figure.dl-fig img")
        maps.first.wait_for()  # the label can be on the page a moment before its map
        assert maps.count() == 1
    assert page.locator("text=Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "upload-number-741.png"), full_page=True)
