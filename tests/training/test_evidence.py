"""`python -m training.evidence` end to end on a tiny named model and a tiny IDX data
set: every file it writes loads back and agrees with the data it was made from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model import load_classifier
from model.datasets import load_split, to_model_input
from model.runtime.artifacts import file_sha256
from model.why.atlas import load_atlas
from model.why.cache import CACHE_ENV, evidence_dir
from model.why.layers import layer_outputs, load_patches
from model.why.neighbours import load_index
from tests.helpers import drawn_digit, tiny_digit_net
from training.evidence import main


@pytest.fixture(scope="module")
def equipped(tmp_path_factory):
    """A tiny model's evidence, built into a cache of this module's own."""
    from tests.helpers import make_idx_dataset

    root = tmp_path_factory.mktemp("ev")
    make_idx_dataset(root / "data" / "mnist", n_train=200, n_test=50)
    path = root / "tiny.keras"
    tiny_digit_net().save(path)
    argv = ["--model", str(path), "--data-dir", str(root / "data"), "--dims", "8",
            "--atlas-points", "100", "--atlas-method", "pca", "--top-patches", "3"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(root / "cache"))
        assert main(argv) == 0
        train = load_split(root / "data" / "mnist", "train")
        test = load_split(root / "data" / "mnist", "test")
        yield load_classifier(path), train, test, evidence_dir()


def test_every_file_is_written_and_described(equipped):
    clf, train, _, root = equipped
    names = {p.name for p in root.iterdir()}
    stem = f"tiny-{file_sha256(clf.artifact.keras_path)[:16]}"  # its name and its content
    kinds = (".index.npz", ".atlas.npz", ".patches.npz", ".evidence.json")
    assert {stem + kind for kind in kinds} <= names
    info = json.loads((root / f"{stem}.evidence.json").read_text())
    assert info["keras_sha256"] == file_sha256(clf.artifact.keras_path)
    assert info["index"]["file"] == f"{stem}.index.npz"
    assert info["pixels"]["file"] in names and info["pixels"]["file"].startswith("mnist-train-")
    assert info["index"]["layer"] == "fc" and info["index"]["dims"] == 8
    assert info["pixels"]["examples"] == len(train)
    assert set(info["atlas"]["trustworthiness_k10_5000"]) == {"pca"}


def test_the_index_holds_the_training_set(equipped):
    clf, train, test, _ = equipped
    index = load_index(clf)
    assert np.array_equal(index.images, train.images)
    nb = clf.neighbours(test.images[0], k=5)
    for n in nb:
        assert np.array_equal(n.image, train.images[n.index]) and n.label == train.labels[n.index]


def test_the_atlas_and_placement(equipped):
    clf, train, test, _ = equipped
    atlas = load_atlas(clf)
    assert len(atlas.rows) == 100 and np.array_equal(atlas.labels, train.labels[atlas.rows])
    answers = clf.probabilities(to_model_input(test.images)).argmax(1)
    assert atlas.misread_test.tolist() == np.flatnonzero(answers != test.labels).tolist()
    p = clf.place(drawn_digit(7))
    lo, hi = atlas.xy.min(0), atlas.xy.max(0)
    assert lo[0] <= p.x <= hi[0] and lo[1] <= p.y <= hi[1]


def test_top_patches_are_where_each_filter_fires_most(equipped):
    clf, train, _, _ = equipped
    patches = load_patches(clf)
    assert set(patches) == {"conv1"}
    p = patches["conv1"]
    assert p.images.shape == (4, 3, 3, 3)  # 4 filters, top 3, 3x3 receptive field
    (maps,) = layer_outputs(clf.net, to_model_input(train.images), ["conv1"])
    peak = maps.reshape(len(maps), -1, 4).max(1)  # (N, 4): each digit's best response
    for f in range(4):
        np.testing.assert_allclose(p.activation[f], np.sort(peak[:, f])[::-1][:3], rtol=1e-5)
        np.testing.assert_allclose(peak[p.index[f], f], p.activation[f], rtol=1e-5)


def test_evidence_of_another_version_of_the_model_is_refused(equipped, tmp_path):
    import shutil

    from model.errors import EvidenceError

    clf, _, test, _ = equipped
    shutil.copy(clf.artifact.keras_path, tmp_path / "tiny.keras")  # its evidence: in the cache
    assert load_classifier(tmp_path / "tiny.keras").neighbours(test.images[0], k=2).k == 2
    tiny_digit_net(seed=1).save(tmp_path / "tiny.keras")  # retrained: new weights
    with pytest.raises(EvidenceError, match="another version"):
        load_classifier(tmp_path / "tiny.keras").neighbours(test.images[0], k=2)


def test_two_models_of_one_name_in_two_folders_keep_their_own_evidence(tmp_path, monkeypatch):
    """`my_digits.keras` in two folders, two different models: building the second's
    evidence once overwrote the first's (one name, `<cache>/evidence/my_digits.*`), and the
    first was then refused as "made from another version of the model"."""
    from tests.helpers import make_idx_dataset

    make_idx_dataset(tmp_path / "data" / "mnist", n_train=60, n_test=20)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    paths = [tmp_path / folder / "my_digits.keras" for folder in ("a", "b")]
    for seed, path in enumerate(paths):
        path.parent.mkdir()
        tiny_digit_net(seed=seed).save(path)
    assert file_sha256(paths[0]) != file_sha256(paths[1])
    models = [arg for path in paths for arg in ("--model", str(path))]
    argv = [*models, "--data-dir", str(tmp_path / "data"), "--dims", "4",
            "--atlas-points", "30", "--atlas-method", "pca", "--top-patches", "2"]  # fmt: skip
    assert main(argv) == 0  # a's evidence first, then b's
    cards = (tmp_path / "cache" / "evidence").glob("*.evidence.json")
    made_from = {json.loads(card.read_text())["keras_sha256"] for card in cards}
    assert made_from == {file_sha256(path) for path in paths}
    for path in paths:
        clf = load_classifier(path)
        assert clf.neighbours(drawn_digit(7), k=3).k == 3
        assert clf.place(drawn_digit(7)) is not None and set(load_patches(clf)) == {"conv1"}


def test_a_cache_made_before_names_carried_the_key(equipped, tmp_path, monkeypatch):
    """Evidence named `<stem><suffix>` (no key) is still read where its card records this
    very file's SHA-256, and refused as another version's where it does not."""
    import shutil

    from model.errors import EvidenceError

    clf, _, test, root = equipped
    key = f"-{file_sha256(clf.artifact.keras_path)[:16]}"
    old = tmp_path / "cache" / "evidence"
    old.mkdir(parents=True)
    for f in root.iterdir():
        if f.name.startswith("mnist-train-") or f.name.startswith(f"tiny{key}."):
            shutil.copy(f, old / f.name.replace(key, ""))  # tiny-<key>.index.npz -> tiny.index.npz
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    shutil.copy(clf.artifact.keras_path, tmp_path / "tiny.keras")
    copy = load_classifier(tmp_path / "tiny.keras")
    assert copy.neighbours(test.images[0], k=2).k == 2 and set(load_patches(copy)) == {"conv1"}
    tiny_digit_net(seed=1).save(tmp_path / "tiny.keras")  # retrained: new weights
    retrained = load_classifier(tmp_path / "tiny.keras")
    with pytest.raises(EvidenceError, match="another version"):
        retrained.neighbours(test.images[0], k=2)
    with pytest.raises(EvidenceError, match="atlas of tiny.keras was made from another version"):
        load_atlas(retrained)
    assert load_patches(retrained) == {}  # another version's patches are not shown


def test_the_data_set_is_chosen_and_a_model_of_other_inputs_is_refused(
    tmp_path, monkeypatch, capsys
):
    """A card-less clothes model's look-alikes were built from MNIST digits without a
    word (no way to choose), and a 32x32 RGB model's build died with numpy's "cannot
    reshape array of size 392000" (a user test). --dataset chooses, the log names the
    set, and a model of other inputs is told, exit 2, to index a folder instead."""
    import keras

    from tests.helpers import make_idx_dataset

    make_idx_dataset(tmp_path / "data" / "fashion-mnist", n_train=120, n_test=20)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    clothes = tmp_path / "clothes.keras"
    tiny_digit_net().save(clothes)
    argv = ["--model", str(clothes), "--data-dir", str(tmp_path / "data"), "--dims", "4",
            "--atlas-points", "50", "--atlas-method", "pca", "--top-patches", "2"]  # fmt: skip
    assert main([*argv, "--dataset", "fashion-mnist"]) == 0
    assert "from the fashion-mnist training set" in capsys.readouterr().out
    stem = f"clothes-{file_sha256(clothes)[:16]}"
    info = json.loads((evidence_dir() / f"{stem}.evidence.json").read_text())
    assert info["dataset"] == "fashion-mnist"
    assert info["pixels"]["file"].startswith("fashion-mnist-train-")

    rgb = tmp_path / "rgb.keras"
    keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")]
    ).save(rgb)
    assert main(["--model", str(rgb), "--data-dir", str(tmp_path / "data")]) == 2
    said = capsys.readouterr().err
    assert "takes 32x32x3 inputs" in said and "index=FOLDER" in said, said
