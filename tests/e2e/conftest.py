"""Real servers on free loopback ports, and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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


@pytest.fixture(scope="session")
def streamlit_url():
    with serving(
        [
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            "{port}",
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        "/_stcore/health",
        "streamlit.log",
    ) as base:
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


@pytest.fixture
def page(browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()
