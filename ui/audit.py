"""The Model page's audit section: open an audit folder and show its report."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from model.audit import PREDICTIONS, REPORT, audit_model, read_audit

#: Height of the embedded report (it scrolls inside).
REPORT_HEIGHT = 900


def audit_section(model_name: str, reads_digits: bool = True) -> None:
    """A folder field; for an audit folder, its numbers and its report.html. reads_digits:
    the model reads digits (its training set is digits, and it can read numbers)."""
    st.subheader("Audit a whole data set")
    among = "the training digits" if reads_digits else "its training set"
    numbers = "`--number` to read numbers, " if reads_digits else ""
    st.markdown(
        "Run `python -m digitlens audit INPUT --model "
        f"{model_name} --out DIR` (add `--explain default` for maps and their trust, "
        f"`--evidence` for where each input sits among {among}, {numbers}"
        "`--engine ray` to spread it over a Ray cluster), then open `DIR` here."
    )
    folder = st.text_input(
        "Audit folder", placeholder="runs/audit", key="audit_folder", persist_state="session"
    )
    if not folder:
        return
    out = Path(folder).expanduser()
    if not (out / PREDICTIONS).is_file() or not (out / REPORT).is_file():
        st.warning(f"No audit in {folder}: it needs {PREDICTIONS} and {REPORT}.")
        return
    made_with = audit_model(out)
    if made_with is not None and made_with != model_name:
        st.warning(
            f"This audit was made with {made_with}, not {model_name}: its answers are "
            f"{made_with}'s. Choose {made_with} in the sidebar to compare them with its card."
        )
    rows = read_audit(out)
    n = len(rows["path"])
    unreadable = sum(e is not None for e in rows["error"])
    cols = st.columns(3)
    cols[0].metric("Inputs", f"{n:,}")
    cols[1].metric("Unreadable", f"{unreadable:,}")
    if "true_label" in rows:
        known = [(p, t) for p, t in zip(rows["label"], rows["true_label"], strict=True) if t >= 0]
        right = sum(p == t for p, t in known)
        cols[2].metric("Read right", f"{right:,} of {len(known):,}")
    # (the report is this audit's own file: its images inline, no script, nothing fetched)
    st.iframe(out / REPORT, height=REPORT_HEIGHT, alt=f"the audit report of {folder}")
