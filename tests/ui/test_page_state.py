"""A page's inputs are as the person left them after a visit to another page
(`ui.state`): Streamlit forgets the widgets of a page that is not shown."""

import logging

import pytest
from streamlit.elements.lib import policies
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT


class Said(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def warned(monkeypatch):
    """What Streamlit warns about widgets (it says it once a process: made to say it again)."""
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    said = Said()
    policies._LOGGER.addHandler(said)
    yield said.lines
    policies._LOGGER.removeHandler(said)


def test_inputs_are_kept_across_pages(warned):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.segmented_control(key="draw_what").set_value("number").run()
    at.switch_page("app_pages/explain.py").run()
    at.select_slider(key="explain_example").set_value(1).run()
    at.slider(key="explain_opacity").set_value(0.3).run()
    at.switch_page("app_pages/evidence.py").run()
    at.slider(key="evidence_k").set_value(16).run()
    at.switch_page("app_pages/explain.py").run()
    assert at.select_slider(key="explain_example").value == 1
    assert at.slider(key="explain_opacity").value == 0.3
    at.switch_page("app_pages/draw.py").run()
    assert at.segmented_control(key="draw_what").value == "number"
    at.switch_page("app_pages/evidence.py").run()
    assert at.slider(key="evidence_k").value == 16
    assert not at.exception, at.exception
    # A kept widget gets no default argument beside its session-state value.
    assert not [line for line in warned if "created with a default value" in line]
