"""Look-alikes: an index over a tiny data set in a tiny named model, checked against an
independent brute-force search; files round-trip without pickles; a user's folder is
indexed once and cached; the shipped index matches the real MNIST training set."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model import load_classifier
from model.errors import EvidenceError
from model.why.index import build_index, default_layer, read_index, save_index
from model.why.neighbours import index_for_folder, load_index, nearest, neighbours_of
from tests.helpers import bar_digits, drawn_digit, tiny_digit_net

N_TRAIN = 120


@pytest.fixture(scope="module")
def tiny_clf(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    tiny_digit_net().save(path)
    return load_classifier(path)


@pytest.fixture(scope="module")
def tiny_data():
    return bar_digits(N_TRAIN)


@pytest.fixture(scope="module")
def tiny_index(tiny_clf, tiny_data):
    images, labels = tiny_data
    x = images[..., None].astype(np.float32) / 255
    return build_index(tiny_clf, x, labels, images=images, dims=8, progress=False)


def brute_force(tiny_clf, index, x):
    """Distances computed here, not by the index: the layer by its own sub-model."""
    import keras

    net = tiny_clf.net
    sub = keras.Model(net.inputs, net.get_layer(index.layer).output)
    f = np.asarray(sub(x, training=False))
    p = (f - index.mean) @ index.components
    return np.linalg.norm(p[:, None, :] - index.embeddings[None], axis=2)


def test_the_representation_is_the_layer_feeding_the_output_past_dropout(tiny_clf):
    assert default_layer(tiny_clf.net) == "fc"


def test_neighbours_are_the_brute_force_nearest_in_order(tiny_clf, tiny_index, tiny_data):
    rng = np.random.default_rng(5)
    x = rng.random((3, 28, 28, 1)).astype(np.float32)
    rows, dist = nearest(tiny_clf, x, 5, tiny_index)
    d = brute_force(tiny_clf, tiny_index, x)
    assert rows.shape == dist.shape == (3, 5)
    for i in range(3):
        np.testing.assert_allclose(dist[i], np.sort(d[i])[:5], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(d[i, rows[i]], dist[i], rtol=1e-3, atol=1e-3)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_each_neighbour_carries_its_training_pixels_and_label(tiny_clf, tiny_index, tiny_data):
    images, labels = tiny_data
    x = images[7][..., None].astype(np.float32) / 255
    nb = neighbours_of(tiny_clf, x, 4, tiny_index)
    assert nb.k == 4 and nb[0].index == 7 and nb[0].distance < 1e-2  # itself first
    for n in nb:
        assert np.array_equal(n.image, images[n.index]) and n.label == labels[n.index]
    answer = int(tiny_clf.probabilities(x[None]).argmax())
    assert nb.answer == answer
    assert nb.agree == sum(int(labels[n.index]) == answer for n in nb)
    assert nb.summary == f"{nb.agree} of 4 look-alikes are {answer}s"
    assert nb.credibility == nb.agree / 4


def test_index_round_trips_without_pickles(tiny_index, tmp_path):
    path = save_index(tiny_index, tmp_path / "t.index.npz")
    with np.load(path, allow_pickle=False) as z:
        assert z["embeddings"].dtype == np.float16
    back = read_index(path)
    assert back.layer == tiny_index.layer and np.array_equal(back.images, tiny_index.images)
    np.testing.assert_array_equal(back.embeddings, tiny_index.embeddings)  # stored as float16
    np.testing.assert_array_equal(back.labels, tiny_index.labels)


def test_index_with_a_shared_pixel_file(tiny_index, tmp_path):
    np.savez_compressed(tmp_path / "px.npz", images=tiny_index.images, labels=tiny_index.labels)
    path = save_index(tiny_index, tmp_path / "t.index.npz", pixels="px.npz")
    with np.load(path, allow_pickle=False) as z:
        assert "images" not in z.files
    assert np.array_equal(read_index(path).images, tiny_index.images)
    (tmp_path / "px.npz").unlink()
    with pytest.raises(EvidenceError, match="px.npz"):
        read_index(path)


def test_a_model_without_an_index_says_how_to_make_one(tiny_clf):
    with pytest.raises(EvidenceError, match="training.evidence"):
        load_index(tiny_clf)
    with pytest.raises(EvidenceError):
        tiny_clf.neighbours(drawn_digit(4))


def test_a_users_folder_is_indexed_once_and_cached(tiny_clf, tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLENS_CACHE", str(tmp_path / "cache"))
    images, labels = tiny_data
    folder = tmp_path / "digits"
    for i in range(20):
        (folder / str(labels[i])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(folder / str(labels[i]) / f"{i}.png")
    index = index_for_folder(tiny_clf, folder, progress=False)
    assert len(index) == 20 and sorted(index.labels.tolist()) == sorted(labels[:20].tolist())
    cached = list((tmp_path / "cache" / "index").glob("*.npz"))
    assert len(cached) == 1
    written = cached[0].stat().st_mtime_ns
    fresh = load_classifier(tiny_clf.artifact.keras_path)  # nothing cached in memory
    again = index_for_folder(fresh, folder, progress=False)
    np.testing.assert_array_equal(again.embeddings, index.embeddings)
    assert cached[0].stat().st_mtime_ns == written  # read back, not rebuilt
    nb = tiny_clf.neighbours(Image.fromarray(images[3]), k=3, index=folder)
    assert len(nb) == 3 and all(0 <= n.index < 20 for n in nb)


def test_a_photo_models_folder_keeps_pictures_people_can_read(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("DIGITLENS_CACHE", str(tmp_path / "cache"))
    net = keras.Sequential(
        [keras.Input((10, 14, 3)), keras.layers.Flatten(name="flat"),
         keras.layers.Dense(16, activation="relu", name="fc"),
         keras.layers.Dense(2, activation="softmax", name="out")]
    )  # fmt: skip
    net.save(tmp_path / "photo.keras")
    clf = load_classifier(tmp_path / "photo.keras", preprocessing="0-255")
    rng = np.random.default_rng(0)
    folder = tmp_path / "pics"
    folder.mkdir()
    pictures = rng.integers(0, 256, (5, 10, 14, 3)).astype(np.uint8)
    for i, a in enumerate(pictures):
        Image.fromarray(a).save(folder / f"{i}.png")
    index = index_for_folder(clf, folder, progress=False)
    assert index.layer == "fc" and index.labels.tolist() == [-1] * 5  # unlabelled
    assert np.array_equal(index.images, pictures)  # not the 0-255 model input clipped
    nb = clf.neighbours(folder / "3.png", k=2, index=folder)
    assert nb[0].index == 3 and nb.agree == 0


@pytest.mark.data
@pytest.mark.parametrize("name", ["mnist-cnn", "mnist-mlp"])
def test_built_index_loads_offline_and_its_pixels_are_mnist_train(
    name, real_data_dir, bundled_evidence
):
    from model.datasets import load_split

    train = load_split(real_data_dir / "mnist", "train")
    test = load_split(real_data_dir / "mnist", "test")
    clf = load_classifier(name)
    index = load_index(clf)
    assert len(index) == len(train)
    for i in (0, 1, 2, 3):
        nb = clf.neighbours(test.images[i], k=8)
        assert nb.k == 8
        for n in nb:
            assert np.array_equal(n.image, train.images[n.index])
            assert n.label == train.labels[n.index]
        assert nb.agree >= 6  # clean MNIST test digits: look-alikes share the answer


def test_cli_neighbours_flag(tmp_path, tiny_clf, bundled_evidence):
    import json

    from tests.helpers import predict_cli

    cli = predict_cli

    drawn_digit(7).save(tmp_path / "seven.png")
    r = cli(tmp_path / "seven.png", "--json", "--neighbours", "3")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout.strip().splitlines()[-1])
    want = load_classifier("mnist-cnn").neighbours(drawn_digit(7), k=3)
    assert [n["index"] for n in record["neighbours"]["neighbours"]] == [n.index for n in want]
    assert record["neighbours"]["summary"] == want.summary
    plain = cli(tmp_path / "seven.png", "--neighbours", "2")
    assert plain.returncode == 0 and "of 2 look-alikes are 7s: training #" in plain.stdout
    none = cli(tmp_path / "seven.png", "--model", tiny_clf.artifact.keras_path, "--neighbours", "2")
    assert none.returncode == 2 and "training.evidence" in none.stderr


def test_an_index_that_cannot_be_read_is_said_without_its_folder(tmp_path):
    """A review: reading failures quoted the OSError, which names the whole path (a server
    passes the sentence on to its clients), and a corrupt file raised BadZipFile, past the
    EvidenceError a server answers as a 4xx."""
    from model.why.atlas import read_atlas

    folder = tmp_path / "private-folder"
    (folder / "own.index.npz").mkdir(parents=True)  # (not a file: the OSError names it)
    (folder / "own.atlas.npz").write_bytes(b"PK\x03\x04garbage")
    for read, name in ((read_index, "own.index.npz"), (read_atlas, "own.atlas.npz")):
        with pytest.raises(EvidenceError) as raised:
            read(folder / name)
        assert name in str(raised.value) and "private-folder" not in str(raised.value)
