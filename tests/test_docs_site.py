"""The docs site builds, strictly, and loads nothing from another host; the README stays one
screen that opens with the two set-up commands and types no measured figure; every
benchmark table a page includes is a file some benchmark wrote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.tables import write_table
from tests.helpers import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
GENERATED = DOCS / "benchmarks" / "generated"
#: The README's first two commands: set up and run the app; set up and run the tests.
SETUP_COMMANDS = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt"
    " && streamlit run app.py",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements-dev.txt"
    " && python -m pytest",
)
#: One screen or so: the rest lives in docs/.
README_MAX_LINES = 250
#: A pymdownx.snippets include line: --8<-- "path"
INCLUDE = re.compile(r'^\s*--8<--\s+"([^"]+)"', re.MULTILINE)
#: A figure with a unit: a measurement belongs in a generated table, not in the README.
FIGURE = re.compile(r"\d[\d,.]*\s*(?:ms|µs|req/s|img/s|images/s|requests/s|%|×)(?![a-z])")
#: Tags that make a browser fetch something: <link href>, <script src>, <img src>, ...
LOADS = re.compile(
    r"<(?:link|script|img|iframe|source|video|audio|embed|object)\b[^>]*?"
    r"\b(?:href|src|data)\s*=\s*[\"']?(https?:)?//",
    re.IGNORECASE,
)
#: CSS that makes a browser fetch something from another host.
CSS_LOADS = re.compile(r"(?:@import\s+(?:url\()?|url\()\s*[\"']?(?:https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as CI builds it (strict: any warning fails)."""
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner, not a warning
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return out


def test_the_site_loads_nothing_from_another_host(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    found = []
    for path in pages:
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(site)}: {m.group(0)}" for m in LOADS.finditer(text)]
        found += [f"{path.relative_to(site)}: {m.group(0)}" for m in CSS_LOADS.finditer(text)]
    for path in site.rglob("*.css"):
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(site)}: {m.group(0)}" for m in CSS_LOADS.finditer(text)]
    assert not found, "\n".join(found[:20])


def test_the_api_pages_are_generated_from_the_docstrings(site):
    page = (site / "api" / "classifier" / "index.html").read_text()
    assert "load_classifier" in page and "Classifier" in page


def test_the_readme_is_one_screen_that_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    commands = [line for line in lines if line.startswith("python3 -m venv")]
    assert tuple(commands[:2]) == SETUP_COMMANDS
    first_code = next(i for i, line in enumerate(lines) if line.startswith("```"))
    assert tuple(lines[first_code + 1 : first_code + 3]) == SETUP_COMMANDS


def test_the_readme_links_straight_to_explaining_your_own_model():
    assert "](docs/tutorial/your-model.md)" in README.read_text()


def test_the_readme_types_no_measured_figure():
    figures = FIGURE.findall(README.read_text())
    assert not figures, f"measured figures belong in docs/benchmarks/generated/: {figures}"


def test_every_included_table_exists():
    included = {
        (page.relative_to(ROOT), target)
        for page in DOCS.rglob("*.md")
        if GENERATED not in page.parents
        for target in INCLUDE.findall(page.read_text())
    }
    assert included, "no page includes a generated table"
    missing = [
        f"{page} includes {target}" for page, target in included if not (ROOT / target).is_file()
    ]
    assert not missing, "\n".join(missing)


def test_every_generated_table_names_the_benchmark_that_made_it():
    tables = sorted(GENERATED.glob("*.md"))
    assert tables
    for path in tables:
        last = path.read_text().rstrip("\n").splitlines()[-1]
        assert re.fullmatch(
            r"Made by `python -m benchmarks\.\w+[^`]*` on \d{4}-\d\d-\d\d .+\.", last
        ), f"{path.name}: {last!r}"


def test_write_table_writes_the_table_and_where_it_came_from(tmp_path):
    path = write_table(
        "demo-1", "| a |\n| --- |\n| 1 |\n", "python -m benchmarks.demo --n 3", tmp_path
    )
    assert path == tmp_path / "demo-1.md"
    text = path.read_text()
    assert text.startswith("| a |\n| --- |\n| 1 |\n\nMade by `python -m benchmarks.demo --n 3` on ")
    assert re.search(r"\d+ cores, ", text)
    with pytest.raises(ValueError, match="table name"):
        write_table("../escape", "x", "python -m benchmarks.demo", tmp_path)
