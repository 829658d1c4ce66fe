"""The audit on a real local Ray (Ray Data actors), against the local loop: the same rows,
the same answers. One Ray for the module: starting one costs seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from model.audit import audit, read_audit
from model.audit.batch import AuditConfig
from model.audit.engines import (
    QUIET_DATA_CONTEXT,
    RowAuditBatch,
    run_local,
    run_ray,
    start_ray,
)
from model.audit.inputs import list_inputs
from model.datasets import FILES, IMAGES_MAGIC, LABELS_MAGIC
from model.input.samples import drawn_digit
from tests.helpers import ROOT, run_python, write_idx

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    start_ray(num_cpus=2)  # (usage statistics off, workers preloading DigitLens)
    yield
    ray.shutdown()


@pytest.fixture
def inputs(tmp_path):
    """A folder of images (one corrupt) and an IDX file of 150 labelled digits."""
    folder = tmp_path / "images"
    folder.mkdir()
    drawn_digit(7).save(folder / "seven.png")
    (folder / "broken.png").write_bytes(b"\x89PNG but not really")
    rng = np.random.default_rng(1)
    images = rng.integers(0, 30, (150, 28, 28)).astype(np.uint8)
    labels = (np.arange(150) % 2).astype(np.uint8)
    images[labels == 1, 5:23, 12:16] = 255  # a bar: a 1
    write_idx(tmp_path / FILES["test_images"], images, IMAGES_MAGIC)
    write_idx(tmp_path / FILES["test_labels"], labels, LABELS_MAGIC)
    return [str(folder), str(tmp_path / FILES["test_images"])]


def test_workers_start_with_ray_data_and_digitlens_imported(local_ray):
    """`start_ray`'s Ray preloads them in every worker process (an actor's start)."""

    @ray.remote
    def preloaded() -> list[str]:  # (sent by value: it imports nothing of ours itself)
        return [m for m in ("ray.data", "model.audit.engines") if m in sys.modules]

    assert ray.get(preloaded.remote()) == ["ray.data", "model.audit.engines"]


def test_ray_gives_the_local_rows(local_ray, inputs):
    rows = list_inputs(inputs)
    config = AuditConfig()
    local = run_local(rows, config, batch_size=32)
    spread = run_ray(rows, config, batch_size=32, actors=2)  # 5 blocks over 2 actors
    assert list(spread["path"]) == list(local["path"])  # order restored
    assert list(spread["label"]) == list(local["label"])
    assert list(spread["verdict"]) == list(local["verdict"])
    assert list(spread["error"]) == list(local["error"])
    np.testing.assert_allclose(spread["probability"], local["probability"], rtol=1e-4)
    assert "cannot be read" in local["error"][0]


def test_the_command_on_ray_shows_its_own_progress_and_summary_only(inputs, tmp_path):
    """`digitlens audit --engine ray`, run as a user runs it (a Ray of its own): Ray Data's
    plan, log folder, "progress bars disabled" and "execution finished" lines, and Ray's
    token-authentication warning, were printed around the audit's own bar and summary."""
    done = subprocess.run(
        [sys.executable, "-m", "digitlens", "audit", *inputs, "--engine", "ray"]
        + ["--out", str(tmp_path / "out"), "--limit", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("40 inputs") and "on ray" in done.stdout, done.stdout
    for note in ("Starting execution", "Execution plan", "execution finished", "Progress bars"):
        assert note not in done.stderr, done.stderr
    assert "Token authentication" not in done.stderr, done.stderr
    # 40 inputs are one block: no second actor started for nothing (and Ray's "The
    # minimum number of concurrent actors ... only received 1 input(s)", a user test)
    assert "concurrent actors" not in done.stderr, done.stderr


def test_ray_data_is_as_it_was_after_an_audit(local_ray, inputs):
    """Its DataContext flags and its terminal handlers' levels are set back (a program
    that audits in-process and uses Ray Data afterwards gets its own settings)."""
    import logging

    ctx = ray.data.DataContext.get_current()
    flags = {name: getattr(ctx, name) for name in QUIET_DATA_CONTEXT}
    levels = [h.level for h in logging.getLogger("ray.data").handlers]
    run_ray(list_inputs(inputs), AuditConfig(), batch_size=32, actors=2)
    assert {name: getattr(ctx, name) for name in QUIET_DATA_CONTEXT} == flags
    assert [h.level for h in logging.getLogger("ray.data").handlers] == levels


def test_the_ray_engine_writes_the_same_file(local_ray, inputs, tmp_path):
    audit(inputs, tmp_path / "local", engine="local")
    audit(inputs, tmp_path / "ray", engine="ray", actors=2)
    a, b = read_audit(tmp_path / "local"), read_audit(tmp_path / "ray")
    assert a.keys() == b.keys() and "true_label" in a
    for name in ("path", "frame", "label", "verdict", "true_label", "error"):
        assert list(a[name]) == list(b[name]), name
    for x, y in zip(a["top_k"], b["top_k"], strict=True):  # one ORT thread per actor
        if x is not None:
            tx, ty = json.loads(x), json.loads(y)
            assert [t["label"] for t in tx] == [t["label"] for t in ty]
            np.testing.assert_allclose(
                [t["probability"] for t in tx], [t["probability"] for t in ty], atol=1e-5
            )


def test_a_killed_actor_is_restarted_and_the_run_completes(local_ray, inputs, tmp_path):
    marker = tmp_path / "died"

    class DiesOnce(RowAuditBatch):  # defined here: Ray ships it, marker included, by value
        """Kills its own process on the first batch any actor gets (a lost node, an OOM)."""

        def __call__(self, batch):
            if not marker.exists():
                marker.write_text("died")
                os._exit(1)
            return super().__call__(batch)

    rows = list_inputs(inputs)
    out = run_ray(rows, AuditConfig(), batch_size=32, actors=2, work=DiesOnce)
    assert marker.read_text() == "died"  # an actor did die
    assert list(out["path"]) == list(rows.path)  # and every row came back, in order
    assert int((out["label"] >= 0).sum()) == len(rows) - 1  # all but the corrupt file


def test_the_local_engine_never_imports_ray(inputs, tmp_path):
    code = (
        "import sys; from model.audit import audit; "
        f"audit({inputs!r}, {str(tmp_path / 'out')!r}); "
        "print('ray' in sys.modules)"
    )
    done = run_python(code, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("False")
