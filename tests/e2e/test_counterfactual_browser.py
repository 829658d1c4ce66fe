"""The real app in real Chromium: draw a 7 on the Explain page, click "Make it a 1", see
the edited digit read as 1 beside its adversarial twin."""

from __future__ import annotations

import pytest

from tests.e2e.test_app_browser import STROKES, mouse_stroke, wait_ready
from tests.helpers import ARTIFACTS

pytestmark = pytest.mark.e2e


def test_a_drawn_seven_made_a_one_on_the_explain_page(page, streamlit_url):
    page.goto(streamlit_url + "/explain")
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("SmoothGrad").first.wait_for(timeout=120_000)  # the example's maps
    page.locator("[data-testid='stRadio']").get_by_text("Draw", exact=True).click()
    main.get_by_text("Draw a digit to explain it.").wait_for()
    wait_ready(page)
    mouse_stroke(page, STROKES[7], expect_live="7")
    main.locator(".dl-label:text-is('7')").wait_for(timeout=60_000)
    main.get_by_role("button", name="a 1", exact=True).click()  # (its tooltip: Make it a 1)
    answer = main.get_by_text("The model reads 1 (", exact=False).first
    answer.wait_for(timeout=120_000)
    assert "after this edit" in answer.text_content()
    main.get_by_text("Its adversarial twin", exact=True).wait_for()
    assert main.get_by_text("The edited digit", exact=True).count() == 1
    for alt in ("your strokes, edited", "the edited digit"):
        main.get_by_alt_text(alt).wait_for()
    pictures = page.evaluate(
        "() => [...document.querySelectorAll('figure.dl-fig img')]"
        ".filter(i => i.alt.includes('edited') || i.alt.includes('twin'))"
        ".map(i => i.complete && i.naturalWidth)"
    )
    assert len(pictures) == 3 and all(pictures), pictures
    assert page.locator("text=Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "explain-seven-made-a-one.png"), full_page=True)


def test_the_targets_wrap_on_a_phone(phone, streamlit_url):
    """On a 390-pixel screen Streamlit stacks columns one a row: the nine "a 0 ... a 9"
    buttons took nine rows, ~900 px of scrolling (a user test). They wrap: three rows."""
    phone.goto(streamlit_url + "/explain")
    phone.get_by_text("What would make it").first.wait_for(timeout=90_000)
    row = phone.locator("[class*='st-key-dl-targets']").first
    buttons = row.get_by_role("button")
    buttons.nth(8).wait_for(timeout=60_000)  # (the heading comes a moment before them: CI)
    assert buttons.count() == 9
    tall = buttons.first.bounding_box()["height"]
    assert row.bounding_box()["height"] < 4 * tall + 30, row.bounding_box()
    phone.screenshot(path=str(ARTIFACTS / "targets-on-a-phone.png"), full_page=True)


#: The element that has the keyboard's focus, through shadow roots: (tag, its text).
FOCUSED = """() => { let e = document.activeElement;
  while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
  return e ? [e.tagName, (e.innerText || "").trim()] : null; }"""


def test_a_target_chosen_by_keyboard_keeps_the_focus_and_stands_out(page, streamlit_url):
    """Enter on "a 1" shows the edit, the button stands out, and the focus stays on it:
    it fell to the page when the chosen button was redrawn as another kind (a user test).
    Enter again lets the choice go, the focus still there."""
    page.goto(streamlit_url + "/explain")
    main = page.locator("[data-testid='stMain']")
    button = main.get_by_role("button", name="a 1", exact=True)
    button.wait_for(timeout=120_000)  # the example 7's page
    colour = "(b) => getComputedStyle(b).backgroundColor"
    plain = button.evaluate(colour)
    button.focus()
    page.keyboard.press("Enter")
    main.get_by_text("The model reads 1 (", exact=False).first.wait_for(timeout=120_000)
    chosen = "document.querySelector('.st-key-cf_make_1 button')"
    page.wait_for_function(f"() => ({colour})({chosen}) === 'rgb(185, 60, 22)'")
    assert page.evaluate(FOCUSED) == ["BUTTON", "a 1"]
    assert main.get_by_role("button", name="a 2", exact=True).evaluate(colour) == plain
    page.keyboard.press("Enter")  # (the focus is still on it) let it go
    main.get_by_text("The model reads 1 (", exact=False).first.wait_for(state="detached")
    page.wait_for_function(f"() => ({colour})({chosen}) !== 'rgb(185, 60, 22)'")
    assert page.evaluate(FOCUSED) == ["BUTTON", "a 1"]
