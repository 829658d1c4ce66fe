"""report(): map + overlay + trust + sanity; the overlay keeps the whole map; the CLI's JSON."""

import json
import subprocess
import sys

import numpy as np
import pytest

from model.why.report import report
from tests.helpers import ROOT, drawn_digit


def ink_box(img) -> tuple[int, int, int, int]:
    ink = np.asarray(img.convert("L")) > 128
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def test_overlay_of_a_one_keeps_the_heat_outside_the_ink_box(mnist_cnn):
    one = drawn_digit(1)
    y0, y1, x0, x1 = ink_box(one)
    e = mnist_cnn.explain(one, method="gradcam", layer="conv3")  # a coarse 7x7 map
    back = e.heatmap_original
    outside = back.copy()
    outside[y0:y1, x0:x1] = 0
    # The 28x28 map is hot beside the narrow stroke; that heat must survive projection.
    assert outside.sum() > 0.2 * back.sum()
    # Nothing is lost: each model pixel's heat is found where its centre lands.
    g = e.stages.geometry
    sy = (g.box[1] - g.box[0]) / g.fitted_hw[0]
    sx = (g.box[3] - g.box[2]) / g.fitted_hw[1]
    for r, c in [(14, 3), (14, 24), (5, 5), (20, 22)]:
        yy = round(g.box[0] + (r - g.offset[0] + 0.5) * sy - 0.5)
        xx = round(g.box[2] + (c - g.offset[1] + 0.5) * sx - 0.5)
        if 0 <= yy < back.shape[0] and 0 <= xx < back.shape[1]:
            assert back[yy, xx] == pytest.approx(e.heatmap[r, c], abs=0.05)
    # ... and the drawn overlay is coloured there, not only inside the box.
    rgb = report(mnist_cnn, one, "gradcam", "conv3").overlay
    plain = np.asarray(one.convert("RGB"))
    changed = np.abs(rgb.astype(int) - plain).sum(-1) > 0
    changed[y0:y1, x0:x1] = False
    assert changed.sum() > 1000


def test_report_carries_trust_and_sanity(mnist_cnn):
    r = report(mnist_cnn, drawn_digit(7), "gradcam", "conv3", contrast=1)
    d = r.to_dict()
    assert d["method"] == "gradcam" and d["contrast"] == 1 and d["label"] == 7
    assert d["trust"]["verdict"] == r.trust.verdict and "score" in d["trust"]
    assert d["sanity"] == {
        "pass": True,
        "rank_r_all": d["sanity"]["rank_r_all"],
        "rank_r_ink": d["sanity"]["rank_r_ink"],
    }
    assert "sanity check: pass, the map changes when the model's weights" in r.sanity_text
    assert "measured once" in r.sanity_text  # the card's, not this input's (it read as one)
    assert r.overlay.shape == (280, 280, 3)
    json.dumps(d)  # JSON-ready


def test_report_on_a_model_format_input_and_an_empty_map(mnist_cnn):
    x = mnist_cnn.preprocess(drawn_digit(0))
    for t in range(10):
        r = report(mnist_cnn, x, "gradcam", "conv3", target=t)
        if r.explanation.empty:
            break
    else:
        pytest.fail("expected a class without positive evidence")
    assert r.trust.verdict == "empty map: nothing to check"
    assert r.to_dict()["summary"].startswith("no positive evidence for")
    assert r.overlay.shape == (280, 280, 3)


def test_cli_json_carries_trust_and_the_default_method(tmp_path):
    img = tmp_path / "seven.png"
    drawn_digit(7).save(img)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "model.predict",
            str(img),
            "--json",
            "--out",
            str(tmp_path),
            "--explain",
            "--contrast",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout.splitlines()[0])["explanation"]
    from model import load_classifier
    from model.why.attribution import default_method

    assert (rec["method"], rec["layer"]) == default_method(load_classifier("mnist-cnn"))
    assert rec["contrast"] == 1 and rec["trust"]["verdict"]
    assert np.load(rec["map"]).shape == (28, 28)


def test_server_explain_answers_trust_sanity_and_contrast():
    import io

    from fastapi.testclient import TestClient

    from server.config import ServerConfig
    from server.main import create_app

    buf = io.BytesIO()
    drawn_digit(7).save(buf, "PNG")
    app = create_app(ServerConfig(models=("mnist-cnn",)))
    with TestClient(app) as client:
        r = client.post(
            "/v1/explain",
            content=buf.getvalue(),
            headers={"Content-Type": "image/png"},
            params={"method": "gradcam", "contrast": 1},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["contrast"] == 1 and body["target"] == 7 and body["layer"] == "conv3"
        assert body["trust"]["verdict"] and body["sanity"]["pass"] is True
        assert "faithfulness" in body and len(body["heatmap"]) == 28  # older fields kept
        bad = client.post(
            "/v1/explain",
            content=buf.getvalue(),
            headers={"Content-Type": "image/png"},
            params={"contrast": 7},  # the prediction itself
        )
        assert bad.status_code == 422 and "same class" in bad.json()["error"]["message"]


def test_warm_up_builds_the_drawing_passes_and_skips_photo_models():
    """After warm_up, the explainer cache holds Grad-CAM and the default, and the
    classifier and its detector are joined (the runtime for single inputs chosen); a
    photo model is left alone (its Keras network is not even loaded)."""
    from model import load_classifier
    from model.why.attribution import default_method, passes_for
    from model.why.onnx_passes import INPUT
    from model.why.report import warm_up

    clf = load_classifier("mnist-cnn")
    assert clf._net is None
    warm_up(clf)
    layer = default_method(clf)[1]
    # Grad-CAM's and the default's passes: traced, or their ONNX export's session made.
    passes = passes_for(clf.net)
    exported = passes.exported._sessions if passes.exported else {}
    warmed = set(passes._fns) | {None if key == INPUT else key for key, _ in exported}
    assert {"conv3", layer} <= warmed
    assert "fused" in vars(clf) and clf.fused  # (a cached property, made at warm-up)

    photo = load_classifier("mobilenet_v2", weights=None, input_shape=(32, 32, 3))
    before = photo._net
    warm_up(photo)
    assert photo._net is before


def test_the_sanity_text_never_says_minus_zero():
    from model.why.report import Report

    r = Report(None, None, None, {"pass": True, "rank_r_all": -0.001, "rank_r_ink": -0.004})
    assert "-0.00" not in r.sanity_text and "+0.00 over all pixels" in r.sanity_text
