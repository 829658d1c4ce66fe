"""The digit atlas: placement by the nearest atlas points on a tiny index, files that
round-trip without pickles, class centres; the shipped atlas of the bundled CNN."""

from __future__ import annotations

import numpy as np
import pytest

from model import load_classifier
from model.errors import EvidenceError
from model.why.atlas import Atlas, Placer, load_atlas, nearest_class, read_atlas, save_atlas
from model.why.index import build_index
from model.why.layers import features
from tests.helpers import bar_digits, drawn_digit, tiny_digit_net

N = 100


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    tiny_digit_net().save(path)
    clf = load_classifier(path)
    images, labels = bar_digits(N)
    x = images[..., None].astype(np.float32) / 255
    index = build_index(clf, x, labels, images=images, dims=6, progress=False)
    rows = np.flatnonzero(np.arange(N) % 3 != 0)  # two in three examples are on the map
    xy = index.embeddings[rows, :2] * 10  # a map made here: two PCA axes, scaled
    atlas = Atlas(
        rows, xy, index.labels[rows], "test map", 1.0,
        np.array([1]), np.zeros((1, 2), np.float32), np.array([1]), np.array([2]),
    )  # fmt: skip
    return clf, index, atlas, x


def test_an_atlas_point_lands_on_itself(tiny):
    clf, index, atlas, x = tiny
    placed = Placer(index, atlas)(index.embeddings[atlas.rows])
    np.testing.assert_allclose(placed, atlas.xy, atol=1e-3 * np.ptp(atlas.xy))


def test_a_new_point_lands_inside_its_nearest_points_hull(tiny):
    clf, index, atlas, x = tiny
    off_map = index.embeddings[::3]  # the examples not on the map
    placer = Placer(index, atlas, k=3)
    placed = placer(off_map)
    rows, dist = placer._points.search(off_map, 3)
    lo, hi = atlas.xy[rows].min(1), atlas.xy[rows].max(1)
    assert np.all(placed >= lo - 1e-4) and np.all(placed <= hi + 1e-4)
    # nearer atlas points pull harder: the placement is nearest to the nearest point
    w = 1 / (dist + 1e-6)
    np.testing.assert_allclose(
        placed, (atlas.xy[rows] * (w / w.sum(1, keepdims=True))[..., None]).sum(1), rtol=1e-4
    )  # noqa: E501


def test_centres_and_nearest_class(tiny):
    _, _, atlas, _ = tiny
    centres = atlas.centres()
    assert centres.shape == (10, 2)
    assert np.array_equal(nearest_class(centres, centres), np.arange(10))


def test_atlas_round_trips_without_pickles(tiny, tmp_path):
    _, _, atlas, _ = tiny
    path = save_atlas(atlas, tmp_path / "a.atlas.npz")
    back = read_atlas(path)
    np.testing.assert_array_equal(back.rows, atlas.rows)
    np.testing.assert_allclose(back.xy, atlas.xy, rtol=1e-3, atol=1e-3)  # float16 on disk
    assert back.method == "test map" and back.misread_answer.tolist() == [2]


def test_a_model_without_an_atlas_says_how_to_make_one(tiny):
    clf = tiny[0]
    with pytest.raises(EvidenceError, match="training.evidence") as err:
        load_atlas(clf)
    # with its data (the look-alikes' command said --data-dir, the atlas's did not)
    assert "--data-dir DIR" in str(err.value)


@pytest.mark.data
def test_built_atlas_places_test_digits_near_their_class(real_data_dir, bundled_evidence):
    from model.datasets import load_split

    test = load_split(real_data_dir / "mnist", "test")
    clf = load_classifier("mnist-cnn")
    atlas = load_atlas(clf)
    assert atlas.trustworthiness >= 0.90 and len(atlas.rows) >= 5000
    answers = clf.probabilities(test.images[..., None] / 255.0).argmax(1)
    assert sorted(atlas.misread_test.tolist()) == np.flatnonzero(answers != test.labels).tolist()
    centres = atlas.centres()
    hits = 0
    for i in range(20):
        p = clf.place(test.images[i])
        hits += p.nearest_class == test.labels[i]
        assert np.isfinite([p.x, p.y]).all()
    assert hits >= 19
    assert clf.place(drawn_digit(7)).label == 7
    assert features(clf.net, test.images[:2, ..., None] / 255.0, "fc2").shape == (2, 128)
    assert centres.shape == (10, 2)
