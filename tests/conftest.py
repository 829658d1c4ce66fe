"""Shared fixtures: tiny synthetic IDX files, and the real data sets where present.

Helpers live in `tests/helpers.py`; this file only defines fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import TEST_DATA, make_idx_dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def fake_data_dir(tmp_path: Path) -> Path:
    """A folder laid out like the real data folder, with a synthetic `mnist/`."""
    make_idx_dataset(tmp_path / "mnist")
    return tmp_path


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """$DIGITLENS_TEST_DATA, or skip: the behavioural tests need the real test sets."""
    if TEST_DATA is None or not (TEST_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(
            "real MNIST not found: set DIGITLENS_TEST_DATA to the folder holding mnist/ "
            f"(now {TEST_DATA})"
        )
    return TEST_DATA


@pytest.fixture(scope="session")
def mnist_cnn():
    """The real bundled mnist-cnn, loaded once."""
    from model import load_classifier

    return load_classifier("mnist-cnn")


@pytest.fixture(scope="session")
def undetected(tmp_path_factory):
    """fashion-cnn as a user's own `.keras` file with its card and ONNX export but no
    detector beside it: a model whose verdict is the max-softmax judge."""
    import shutil

    from model import load_classifier
    from model.runtime.artifacts import WEIGHTS_DIR

    folder = tmp_path_factory.mktemp("undetected")
    for suffix in (".keras", ".json", ".onnx"):
        shutil.copy(WEIGHTS_DIR / f"fashion-cnn{suffix}", folder / f"fashion-cnn{suffix}")
    return load_classifier(folder / "fashion-cnn.keras")


#: The evidence the bundled models' look-alikes, atlas and top patches are read from:
#: built from the training sets (never kept in the repository), as a user builds it.
#: (models, other flags) of each build: fashion-cnn's covers its first 10,000 examples.
EVIDENCE_BUILDS = ((("mnist-cnn", "mnist-mlp"), ()), (("fashion-cnn",), ("--limit", "10000")))


@pytest.fixture(scope="session")
def bundled_evidence(real_data_dir: Path) -> None:
    """The bundled models' evidence in the cache (`model.why.cache`): built once with
    `python -m training.evidence` where missing or made from another model file (about
    100 s on 2 cores), then reused by every run."""
    from model import load_classifier
    from model.errors import EvidenceError
    from model.why.neighbours import load_index
    from training.evidence import main as build

    for names, flags in EVIDENCE_BUILDS:
        try:
            for name in names:
                load_index(load_classifier(name))
        except EvidenceError:
            models = [arg for name in names for arg in ("--model", name)]
            assert build([*models, *flags, "--data-dir", str(real_data_dir)]) == 0
