"""The Upload page's results as files to download: one row per image, the API's values."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

#: Columns of a results row shown on the page only (a thumbnail, "> 99.9 %").
ON_SCREEN_ONLY = ("thumbnail", "sure")


def download_rows(rows: Sequence[dict]) -> list[dict]:
    """The rows without their on-screen columns; missing values stay None."""
    return [{k: v for k, v in r.items() if k not in ON_SCREEN_ONLY} for r in rows]


def results_csv(rows: Sequence[dict]) -> str:
    """CSV: labels as whole numbers ("7", not "7.0" where another row has none), a missing
    value an empty field."""
    table = pd.DataFrame(download_rows(rows))
    if "label" in table:
        table["label"] = table["label"].astype("Int64")
    return table.to_csv(index=False)


def results_json(rows: Sequence[dict]) -> str:
    """JSON that parses: null for a missing value (pandas wrote NaN, which is not JSON)."""
    return json.dumps(download_rows(rows), indent=2, allow_nan=False)
