"""A fresh clone has no evidence (it is made from the training set, never shipped): the
Evidence page said so with a command for a terminal (a user test). It now offers to build
it here, runs `python -m training.evidence` in a process of its own, and shows it."""

from __future__ import annotations

import threading

from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT


def test_the_evidence_page_builds_missing_evidence_on_a_click(tmp_path, monkeypatch, real_data_dir):
    monkeypatch.setenv("DIGITLENS_CACHE", str(tmp_path / "cache"))  # (nothing built there)
    monkeypatch.setenv("DIGITLENS_DATA_DIR", str(real_data_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/evidence.py").run()
    at.sidebar.selectbox(key="model_name").set_value("mnist-mlp").run()  # (the quickest build)
    assert not at.exception, at.exception
    said = "\n".join(i.value for i in at.info)
    assert "mnist-mlp has no look-alike index yet" in said, said
    button = at.button(key="build_evidence_looks")
    assert button.label.startswith("Build it now")
    button.click().run()  # the real command, on the real training set (about 30 s)
    assert not at.exception, at.exception
    page = "\n".join(str(m.value) for m in at.markdown)
    assert "look-alikes are" in page, page[:1500]
    assert not [i.value for i in at.info if "no look-alike index" in i.value]
    assert len(at.get("vega_lite_chart")) == 1  # the atlas, built by the same command
    for t in threading.enumerate():  # (the app's warm-up timers: TensorFlow and exit)
        if isinstance(t, threading.Timer):
            t.join(120)


def test_explain_says_what_is_missing_in_the_index_own_words_and_offers_the_build(
    tmp_path, monkeypatch
):
    """Explain's training image wrote its own command beside the index's: it now shows
    the index's words (what is missing, the command that makes it) and the same offer."""
    monkeypatch.setenv("DIGITLENS_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/explain.py").run()
    at.radio(key="explain_source").set_value("Training image").run()
    assert not at.exception, at.exception
    said = "\n".join(i.value for i in at.info)
    assert "mnist-cnn has no look-alike index yet" in said, said
    assert "python -m training.evidence --model mnist-cnn" in said, said
    assert at.button(key="build_evidence_explain").label.startswith("Build it now")
