"""Real servers on free loopback ports, and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import ARTIFACTS, serving

CHROMIUM = os.environ.get("DIGITLENS_CHROMIUM", "/usr/bin/chromium")
#: Flags for a sandboxed, offline machine (root, no GPU, no network but loopback).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


#: A phone: iPhone 12-14 class viewport, touch only.
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
#: Streamlit options for a headless app on a free loopback port.
STREAMLIT_OPTIONS = [
    "--server.port",
    "{port}",
    "--server.address",
    "127.0.0.1",
    "--server.headless",
    "true",
]
#: `python -m` arguments that start the app with Streamlit's own command.
STREAMLIT_ARGS = ["streamlit", "run", "app.py", *STREAMLIT_OPTIONS]
#: ... and with ours, which also warms the app's model up as the server starts.
DIGITLENS_APP_ARGS = ["digitlens", "app", *STREAMLIT_OPTIONS]
#: When the app under test was started (cold start is measured from here).
STARTED: dict[str, float] = {}


@pytest.fixture(scope="session")
def streamlit_url():
    STARTED["streamlit"] = time.perf_counter()
    with serving(STREAMLIT_ARGS, "/_stcore/health", "streamlit.log") as base:
        STARTED["healthy"] = time.perf_counter()
        yield base


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def watch_hosts(p, allowed: str) -> list[str]:
    """Collect every request the page makes to a host other than `allowed` (host:port)."""
    foreign: list[str] = []

    def note(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != allowed:
            foreign.append(request.url)

    p.on("request", note)
    return foreign


def open_page(browser, base: str, **options):
    """A new page in its own context that fails the test if it requests another host."""
    context = browser.new_context(**options)
    p = context.new_page()
    p.set_default_timeout(60_000)
    p.foreign = watch_hosts(p, urlsplit(base).netloc)
    return context, p


@contextmanager
def watched_page(browser, base: str, **options):
    """`open_page` for a fixture: the page, then its context closed and no other host
    asked for (screenshots go to ARTIFACTS)."""
    ARTIFACTS.mkdir(exist_ok=True)
    context, p = open_page(browser, base, **options)
    yield p
    context.close()
    assert not p.foreign, f"the page requested other hosts: {p.foreign}"


@pytest.fixture
def page(browser, streamlit_url):
    with watched_page(browser, streamlit_url, viewport={"width": 1280, "height": 800}) as p:
        yield p


@pytest.fixture
def phone(browser, streamlit_url):
    """A 390x844 touch screen."""
    with watched_page(browser, streamlit_url, **PHONE) as p:
        yield p
