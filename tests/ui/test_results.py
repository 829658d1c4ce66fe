"""The Upload page's downloads: a row without a label (an error, a number) among others."""

from __future__ import annotations

import csv
import io
import json

from ui.results import results_csv, results_json

ROWS = [
    {"file": "seven.png", "thumbnail": "data:", "label": 7, "class": "7", "probability": 0.99,
     "sure": "99.0 %", "verdict": "digit", "reason": None, "error": None},
    {"file": "white.png", "thumbnail": None, "label": None, "class": None, "probability": None,
     "sure": None, "verdict": None, "reason": None, "error": "the image looks blank"},
    {"file": "n.png", "thumbnail": None, "label": None, "class": "427", "probability": None,
     "sure": None, "verdict": "digit", "reason": None, "error": None},
]  # fmt: skip


def test_the_json_download_parses_with_null_for_what_is_missing():
    """pandas wrote NaN for a missing label or error: not JSON (Node's JSON.parse failed)."""
    text = results_json(ROWS)
    assert "NaN" not in text
    got = json.loads(text)
    assert [r["label"] for r in got] == [7, None, None]
    assert got[1]["error"] == "the image looks blank" and got[0]["error"] is None
    assert "thumbnail" not in got[0] and "sure" not in got[0]


def test_the_csv_download_writes_whole_labels():
    """A row without a label made the column floats: "7.0"."""
    got = list(csv.DictReader(io.StringIO(results_csv(ROWS))))
    assert [r["label"] for r in got] == ["7", "", ""]
    assert got[2]["class"] == "427" and "thumbnail" not in got[0]
