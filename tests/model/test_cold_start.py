"""Prediction on ONNX Runtime never imports TensorFlow: proved where importing it fails.

A folder on PYTHONPATH holds `tensorflow` and `keras` packages that raise on import,
so any import of either on the predict path (CLI, server) breaks the run.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from model.runtime.artifacts import BUNDLED
from tests.helpers import ROOT, drawn_digit

BLOCKED = ("tensorflow", "keras", "tf_keras_vis")
BLOCK_MESSAGE = "importing {name} is blocked in this test"


@pytest.fixture
def no_tensorflow(tmp_path):
    """Environment variables for a subprocess in which `import tensorflow` raises."""
    blocker = tmp_path / "blocker"
    for name in BLOCKED:
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(
            f"raise ImportError({BLOCK_MESSAGE.format(name=name)!r})\n"
        )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}


def python(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_blocker_blocks(no_tensorflow):
    """The control: in this environment TensorFlow and Keras really cannot be imported."""
    for name in ("tensorflow", "keras"):
        r = python(no_tensorflow, "-c", f"import {name}")
        assert r.returncode != 0 and BLOCK_MESSAGE.format(name=name) in r.stderr


def test_cli_predicts_without_tensorflow(no_tensorflow, tmp_path):
    seven = tmp_path / "seven.png"
    drawn_digit(7).save(seven)
    for name in BUNDLED[:2]:  # both digit models: a CNN and the MLP
        r = python(no_tensorflow, "-m", "model.predict", str(seven), "--json", "--model", name)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["label"] == 7
    r = python(no_tensorflow, "-m", "model.predict", "--help")
    assert r.returncode == 0 and "--runtime" in r.stdout


def test_server_predicts_and_lists_models_without_tensorflow(no_tensorflow, tmp_path):
    seven = tmp_path / "seven.png"
    drawn_digit(7).save(seven)
    script = textwrap.dedent(
        f"""
        import sys
        from fastapi.testclient import TestClient
        from server.config import ServerConfig
        from server.main import create_app

        with TestClient(create_app(ServerConfig())) as c:
            data = open({str(seven)!r}, "rb").read()
            r = c.post("/v1/predict", content=data, headers={{"Content-Type": "image/png"}})
            assert r.status_code == 200 and r.json()["label"] == 7, r.text
            assert len(c.get("/v1/models").json()) == {len(BUNDLED)}
            assert c.get("/v2/models/mnist-cnn/ready").status_code == 200
        assert "tensorflow" not in sys.modules
        print("ok")
        """
    )
    r = python(no_tensorflow, "-c", script, timeout=180)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@pytest.mark.parametrize("name", BUNDLED)
def test_keras_loads_on_first_use(name):
    """An ONNX classifier loads its Keras network only when asked, and reads its conv
    layers from the `.keras` file's config exactly as the loaded network names them."""
    from model import load_classifier
    from model.architecture import conv_layer_names

    clf = load_classifier(name)
    assert clf._net is None and clf.runtime.name == "onnxruntime"
    from_file = clf.conv_layers
    assert from_file == conv_layer_names(clf.net) and clf._net is not None


def test_tensorflow_start_up_noise_is_dropped_and_real_lines_kept(capfd):
    """Only the known banner lines go; anything else written to fd 2 comes through."""
    from model.runtime.backend import IMPORT_NOISE, filtered_stderr

    with filtered_stderr(IMPORT_NOISE):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are ...\n")
        os.write(
            2,
            b"I0000 00:00:1796095081.319087    8376 port.cc:153] oneDNN custom "
            b"operations are on. You may see slightly different numerical results\n",
        )
        os.write(2, b"E0000 00:00:1.0 1 cuda.cc:1] a real error\n")
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1.0 1 cuda.cc:1] a real error\n"


def test_keras_runtime_prints_no_tensorflow_banner(tmp_path):
    """The CLI on the Keras runtime (TensorFlow imported) answers with a clean stderr."""
    seven = tmp_path / "seven.png"
    drawn_digit(7).save(seven)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = python(env, "-m", "model.predict", str(seven), "--runtime", "keras", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["label"] == 7, r.stderr
    assert "oneDNN" not in r.stderr and "absl" not in r.stderr, r.stderr
    assert "UserWarning" not in r.stderr, r.stderr


def test_counterfactuals_print_no_tensorflow_banner(tmp_path):
    """--counterfactual (TensorFlow imported on the ONNX runtime, first by the prior's
    load) answers with a clean stderr: the banner was printed twice."""
    seven = tmp_path / "seven.png"
    drawn_digit(7).save(seven)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = python(env, "-m", "model.predict", str(seven), "--counterfactual", "1", "--out", tmp_path)
    assert r.returncode == 0 and "counterfactual: The model reads 1" in r.stdout, r.stderr
    assert "oneDNN" not in r.stderr and "absl" not in r.stderr, r.stderr


def test_predicting_imports_neither_tensorflow_nor_scipy(tmp_path):
    """Every process that only predicts (a server worker, an audit's worker or Ray actor)
    starts without SciPy's 0.2 s import: it is needed only to place a map on the display."""
    seven = tmp_path / "seven.png"
    drawn_digit(7).save(seven)
    script = textwrap.dedent(
        f"""
        import sys
        from model import load_classifier

        clf = load_classifier("mnist-cnn")
        assert clf.predict({str(seven)!r}).label == 7
        print(sorted(m for m in ("scipy", "tensorflow") if m in sys.modules))
        """
    )
    r = python({**os.environ, "PYTHONPATH": str(ROOT)}, "-c", script)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr + r.stdout
