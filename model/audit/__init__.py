"""Audit a whole data set: where is the model wrong, unsure, or explained by a map that
cannot be trusted?

    from model.audit import audit
    result = audit(["mnist:test"], out="runs/audit", model="mnist-cnn", explain="default")
    result.path("predictions.parquet"), result.path("report.html")

    python -m model.audit INPUT... --model NAME_OR_PATH --out DIR [--explain METHOD]
                          [--engine local|ray] [--ray-address ADDR]

One row per input (`model.audit.inputs`), the same work on every batch
(`model.audit.batch.AuditBatch`) run by a local loop or by Ray Data
(`model.audit.engines`), then `predictions.parquet` and a self-contained
`report.html` (`model.audit.report`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.audit.batch import BATCH_SIZE, AuditBatch, AuditConfig
from model.audit.engines import ENGINES, EngineError, run_local, run_ray
from model.audit.inputs import DEFAULT_FPS, UNKNOWN, AuditInputError, list_inputs
from model.writers import output_folder_problem

if TYPE_CHECKING:
    from model.why.choice import MeasuredDefault

PREDICTIONS = "predictions.parquet"
REPORT = "report.html"

__all__ = [
    "ENGINES",
    "AuditInputError",
    "AuditResult",
    "EngineError",
    "audit",
    "audit_model",
    "read_audit",
]


@dataclass(frozen=True)
class AuditResult:
    """The rows of an audit (column -> (N,) array) and where they were written."""

    columns: dict[str, np.ndarray] = field(repr=False)
    out: Path
    seconds: float
    engine: str

    def __len__(self) -> int:
        return len(self.columns.get("path", ()))

    def path(self, name: str) -> Path:
        return self.out / name


def _schema(explaining: bool, labelled: bool, evidence: bool = False, number: bool = False):
    """One schema for every engine, so their files compare equal."""
    import pyarrow as pa

    fields = [
        ("path", pa.string()),
        ("frame", pa.int64()),
        ("label", pa.int64()),
        ("class_name", pa.string()),
        ("probability", pa.float64()),
        ("verdict", pa.string()),
        ("ood_score", pa.float64()),
        ("reason", pa.string()),
        ("top_k", pa.string()),
        ("error", pa.string()),
    ]
    if labelled:
        fields.append(("true_label", pa.int64()))
    if explaining:
        fields += [
            ("method", pa.string()),
            ("trust", pa.float64()),
            ("trust_verdict", pa.string()),
            ("map", pa.binary()),
        ]
    if number:
        fields += [("number", pa.string()), ("number_verdict", pa.string())]
        fields += [("number_refusal", pa.string())]
    if evidence:
        fields += [
            ("embedding", pa.list_(pa.float32())),
            ("atlas_x", pa.float64()),
            ("atlas_y", pa.float64()),
            ("lookalikes_agree", pa.float64()),
        ]
    return pa.schema(fields)


def write_predictions(
    columns: dict[str, np.ndarray], path: Path, explaining: bool, model: str | None = None
) -> None:
    """The rows as Parquet; `model` (its name) in the file's metadata (`audit_model`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema(
        explaining, "true_label" in columns, "embedding" in columns, "number" in columns
    )

    def values(name: str) -> list:
        v = columns[name]
        if name in ("probability", "ood_score", "trust", "atlas_x", "atlas_y", "lookalikes_agree"):
            return [None if not np.isfinite(x) else float(x) for x in v]
        if name == "embedding":  # float32 bytes (what engines pass around) -> numbers
            return [None if x is None else np.frombuffer(x, "<f4").tolist() for x in v]
        return [None if x is None else x for x in v.tolist()]

    if model is not None:
        schema = schema.with_metadata({"digitlens.model": model})
    table = pa.table({f.name: pa.array(values(f.name), f.type) for f in schema}, schema=schema)
    pq.write_table(table, path)


def audit_model(out: str | os.PathLike) -> str | None:
    """The name of the model an audit was made with (None: an audit from before it was
    recorded)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(Path(out) / PREDICTIONS).metadata or {}
    name = meta.get(b"digitlens.model")
    return name.decode() if name else None


def read_audit(out: str | os.PathLike) -> dict[str, np.ndarray]:
    """The columns of an audit's `predictions.parquet` (e.g. for the app's Model page)."""
    import pyarrow.parquet as pq

    table = pq.read_table(Path(out) / PREDICTIONS)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _output_folder(out: str | os.PathLike) -> Path:
    """`out`, made where missing; AuditInputError where it cannot hold the results."""
    out = Path(out)
    problem = output_folder_problem(out)
    if problem:
        raise AuditInputError(f"--out {out}: {problem}")
    return out


def _check_labels(rows, class_names: tuple[str, ...]) -> None:
    """Every given label is one of the model's classes (by its number)."""
    bad = rows.true_label[(rows.true_label != UNKNOWN) & (rows.true_label >= len(class_names))]
    if bad.size:
        raise AuditInputError(
            f"{bad.size} label(s) name no class of the model (e.g. {int(bad[0])}): its classes "
            f"are 0 to {len(class_names) - 1} ({', '.join(class_names[:10])}"
            f"{', ...' if len(class_names) > 10 else ''})"
        )


def _measured_default(local: AuditBatch, rows) -> MeasuredDefault | None:
    """For a model whose default map is measured on its own inputs (a card-less file,
    `model.why.choice`): the methods ranked by trust on the first FOLDER_INPUTS inputs
    it can read, in the order listed. None for any other model, or none readable. (The
    workers each fell back to the fixed default, Grad-CAM, where the CLI and the server
    chose by measurement: three front ends, three maps, a user test.)"""
    from model.errors import DigitLensError
    from model.why.choice import (
        FOLDER_INPUTS,
        choose_on,
        first_readable,
        measures_its_own_default,
    )

    if not measures_its_own_default(local.clf):
        return None
    xs = first_readable(
        lambda row: local.model_input(str(row[0]), int(row[1])),
        zip(rows.path, rows.frame, strict=True),
        FOLDER_INPUTS,
        (DigitLensError, OSError, ValueError),
    )
    if not xs:
        return None
    return choose_on(local.clf, np.stack(xs), f"the first {len(xs)} inputs of the audit")


def audit(
    inputs: list[str],
    out: str | os.PathLike,
    model: str = "mnist-cnn",
    explain: str | None = None,
    layer: str | None = None,
    engine: str = "local",
    runtime: str = "auto",
    fps: float = DEFAULT_FPS,
    preprocessing: str | None = None,
    data_dir: str | os.PathLike | None = None,
    batch_size: int = BATCH_SIZE,
    ray_address: str | None = None,
    actors: int | None = None,
    workers: int | None = None,
    evidence: bool = False,
    number: bool = False,
    progress=None,
    limit: int | None = None,
    listed: Callable[[int], None] | None = None,
) -> AuditResult:
    """Audit every input; write `predictions.parquet` and `report.html` into `out`.

    workers: the local engine's processes (default: one per CPU); actors: Ray's.
    evidence: also each input's representation, atlas position and look-alike agreement
    (the model's evidence must be built: `python -m training.evidence`).
    number: also read each input as a written number (`model.number`).
    limit: audit only the first `limit` inputs, in the order listed (a quick look).
    preprocessing: a scaling or digit recipe instead of the model card's (as the CLI's).
    progress: called with the number of inputs each finished batch held; listed: with the
    number of inputs to audit, once they are listed (a progress bar's total).
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if batch_size < 1:
        raise AuditInputError(f"the batch size must be 1 or more, not {batch_size}")
    out = _output_folder(out)  # before the work: a bad --out never costs a whole run
    config = AuditConfig(
        model=model,
        runtime=runtime,
        preprocessing=preprocessing,
        explain=explain,
        layer=layer,
        fps=fps,
        evidence=evidence,
        number=number,
    )
    # Fail on a bad model or method here, once, before any engine starts.
    local = AuditBatch(config)
    if limit is not None and limit < 1:
        raise AuditInputError(f"the limit must be 1 or more inputs, not {limit}")
    found = list_inputs(inputs, fps, data_dir)
    rows = found.head(limit)
    if not len(rows):
        raise AuditInputError(
            f"no inputs found in {', '.join(map(str, inputs))}: images, videos, IDX files or "
            "Parquet/CSV lists of them (model.audit.inputs)"
        )
    _check_labels(rows, local.clf.class_names)
    chosen = None
    if explain == "default" and layer is None:
        chosen = _measured_default(local, rows)
        if chosen is not None:  # every worker explains with the one method chosen here
            config = replace(config, explain=chosen.method, layer=chosen.layer)
            local.method, local.layer = chosen.method, chosen.layer
    if listed is not None:
        listed(len(rows))
    t0 = time.perf_counter()
    if engine == "ray":
        columns = run_ray(rows, config, batch_size, ray_address, actors, progress=progress)
    else:
        columns = run_local(rows, config, batch_size, progress, workers)
    seconds = time.perf_counter() - t0
    if not rows.labelled:
        columns.pop("true_label", None)
    explaining = bool(explain)
    write_predictions(columns, out / PREDICTIONS, explaining, local.clf.name)
    from model.audit.report import render

    def model_input(path: str, frame: int) -> np.ndarray | None:
        try:
            return local.model_input(path, frame)
        except Exception:  # shown without a picture; the error is in its row
            return None

    meta = {
        # (how its input was fitted, where it was: the CLI and the server say it too)
        "model": local.clf.name + (f" ({local.clf.input_note})" if local.clf.input_note else ""),
        "verdicts by": local.clf.judge.method,  # (mnist-cnn's detector, lent to a user's model)
        "inputs": str(len(rows))
        + (f" (the first of {len(found)})" if len(rows) < len(found) else ""),
        "engine": engine,
        "seconds": f"{seconds:.1f}",
        "map": f"{local.method}"
        + (f" on {local.layer}" if local.layer else "")
        + (f" ({chosen.reason})" if chosen is not None else "")
        if explaining
        else "not asked (--explain METHOD)",
    }
    html = render(
        columns,
        meta,
        list(local.clf.class_names),
        model_input,
        local.clf.input_shape[:2],
        atlas=local.atlas,
    )
    (out / REPORT).write_text(html)
    return AuditResult(columns, out, seconds, engine)
