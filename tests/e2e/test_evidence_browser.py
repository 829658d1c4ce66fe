"""The Evidence page in real Chromium: draw a 7 on the pad, see look-alikes that are 7s,
see where it lands on the atlas, then draw a 1 instead and see the input move to the 1s,
the layer view with each filter's training patches, and a look-alike opened in Explain."""

from __future__ import annotations

import pytest

from tests.e2e.test_app_browser import STROKES, mouse_stroke, wait_ready
from tests.helpers import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("bundled_evidence")]


def test_draw_a_seven_see_its_look_alikes_its_place_and_its_layers(page, streamlit_url):
    page.goto(streamlit_url + "/evidence")
    main = page.locator("[data-testid='stMain']")
    page.locator("[data-testid='stRadio']").get_by_text("Draw", exact=True).click()
    main.get_by_text("Draw a digit (or pick an example) to see its evidence.").wait_for()
    wait_ready(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    main.get_by_text("of 8 look-alikes are 7s").wait_for(timeout=90_000)
    agree = main.get_by_text("of 8 look-alikes are 7s").first.text_content()
    assert int(agree.strip().lstrip("✓!✗ ").split()[0]) >= 5  # most of them agree
    main.locator("img[alt*='#']").nth(7).wait_for(
        timeout=30_000
    )  # 8 look-alikes, each with its index

    main.get_by_role("tab", name="Atlas").click()
    main.get_by_text("read as 7, nearest the 7 cluster").wait_for(timeout=60_000)
    main.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=60_000)  # the map

    page.locator(".dl-clear").click()
    main.get_by_text("of 8 look-alikes").first.wait_for(state="detached", timeout=60_000)
    mouse_stroke(page, STROKES[1])
    main.get_by_text("look-alikes are 1s").first.wait_for(timeout=90_000)
    main.get_by_role("tab", name="Atlas").click()  # a rerun opens the first tab again
    main.get_by_text("read as 1, nearest the 1 cluster").wait_for(timeout=60_000)  # it moved

    main.get_by_role("tab", name="Layers").click()
    main.get_by_text("The training patches that excite a filter most").wait_for(timeout=60_000)
    assert page.locator("text=Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "evidence-drawn-one.png"), full_page=True)

    main.get_by_role("tab", name="Look-alikes").click()
    main.get_by_role("button", name="Explain").first.click()  # the nearest look-alike
    main.get_by_text("labelled 1").first.wait_for(timeout=60_000)  # on the Explain page
    assert page.url.endswith("/explain")
    main.get_by_text("Integrated Gradients").first.wait_for(timeout=60_000)  # and its maps
