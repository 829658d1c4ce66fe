"""Building a model's evidence from the app: where its look-alike index, atlas or layer
patches are missing (a fresh clone: they are made from the training set, never shipped),
the page says so and offers to make them here, by the command a user would run
(`python -m training.evidence`), in a process of its own, its log shown as it goes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import streamlit as st

from model.why.neighbours import model_arg
from ui.resources import default_data_dir

#: The repository: where `python -m training.evidence` runs from.
ROOT = Path(__file__).resolve().parents[1]
#: What a build takes on a 2-core machine, said on its button (the tests' fixture builds
#: mnist-cnn and mnist-mlp in about 100 s).
ABOUT = "about a minute"


def build_command(clf) -> list[str]:
    """The command that builds `clf`'s evidence: from $DIGITLENS_DATA_DIR where it is set,
    else from the data set's download cache (or a download, where there is internet)."""
    data_dir = default_data_dir()
    data = ["--data-dir", data_dir] if data_dir else []
    return [sys.executable, "-m", "training.evidence", "--model", model_arg(clf), *data]


def missing_evidence(clf, message: str, key: str) -> None:
    """Say what is missing and, for a model of 28x28 grey inputs (whose evidence comes
    from MNIST or Fashion-MNIST), offer to build it now; on success the page reruns with
    it. key: the button's, one per place the offer is made."""
    st.info(message)
    if tuple(clf.input_shape) != (28, 28, 1):
        return
    where = default_data_dir() or "the data set's download cache"
    if not st.button(
        f"Build it now ({ABOUT})",
        key=f"build_evidence_{key}",
        help=f"Runs `python -m training.evidence --model {model_arg(clf)}` on the training "
        f"set in {where}: the look-alike index, the atlas and the layer patches, kept in "
        "the evidence cache for every later start.",
    ):
        return
    with st.status(f"Building {clf.name}'s evidence...", expanded=True) as status:
        log = st.empty()
        lines: list[str] = []
        with subprocess.Popen(
            build_command(clf),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip())
                log.code("\n".join(lines[-12:]), language=None)
        if proc.returncode != 0:
            status.update(label="The evidence could not be built", state="error")
            return
        status.update(label=f"{clf.name}'s evidence is built", state="complete")
    st.rerun()
