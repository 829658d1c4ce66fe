import gzip
import struct

import numpy as np
import pytest

from model.datasets import (
    DATA_DIR_ENV,
    FILES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    DatasetError,
    load_split,
    locate,
    to_model_input,
)
from tests.helpers import write_idx
from training.data import load_dataset, validation_split


def test_reads_synthetic_idx(fake_data_dir):
    ds = load_dataset("mnist", fake_data_dir, val_fraction=0.2, seed=1)
    assert ds.train.images.shape[1:] == (28, 28) and ds.train.images.dtype == np.uint8
    assert len(ds.train) + len(ds.val) == 200
    assert len(ds.test) == 50
    assert set(np.unique(ds.val.labels)) == set(range(10))  # stratified


def test_data_dir_from_environment(fake_data_dir, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(fake_data_dir))
    assert locate("mnist") == fake_data_dir / "mnist"


def test_validation_split_is_seeded_and_disjoint(fake_data_dir):
    train = load_split(fake_data_dir / "mnist", "train")
    a_train, a_val = validation_split(train, 0.1, seed=3)
    b_train, b_val = validation_split(train, 0.1, seed=3)
    c_train, c_val = validation_split(train, 0.1, seed=4)
    np.testing.assert_array_equal(a_val.images, b_val.images)
    assert not np.array_equal(a_val.images, c_val.images)
    assert len(a_train) + len(a_val) == len(train)


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("bad magic", lambda raw: struct.pack(">I", 1234) + raw[4:], "bad IDX magic"),
        ("truncated", lambda raw: raw[:-100], "truncated or corrupt"),
        ("header only", lambda raw: raw[:6], "truncated IDX header"),
    ],
)
def test_corrupt_files_fail_naming_the_file(fake_data_dir, name, mutate, message):
    path = fake_data_dir / "mnist" / FILES["train_images"]
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(mutate(raw)))
    with pytest.raises(DatasetError, match=message) as info:
        load_split(fake_data_dir / "mnist", "train")
    assert FILES["train_images"] in str(info.value)


def test_not_gzip_fails_naming_the_file(fake_data_dir):
    path = fake_data_dir / "mnist" / FILES["test_labels"]
    path.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(DatasetError, match="not a readable gzip") as info:
        load_split(fake_data_dir / "mnist", "test")
    assert FILES["test_labels"] in str(info.value)


def test_truncated_gzip_stream(fake_data_dir):
    path = fake_data_dir / "mnist" / FILES["train_images"]
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DatasetError, match=FILES["train_images"]):
        load_split(fake_data_dir / "mnist", "train")


def test_count_mismatch_between_images_and_labels(fake_data_dir):
    write_idx(fake_data_dir / "mnist" / FILES["test_labels"], np.zeros(49, np.uint8), LABELS_MAGIC)
    with pytest.raises(DatasetError, match="50 images but 49 labels"):
        load_split(fake_data_dir / "mnist", "test")


def test_wrong_image_size(fake_data_dir):
    write_idx(fake_data_dir / "mnist" / FILES["test_images"], np.zeros((50, 32, 32)), IMAGES_MAGIC)
    with pytest.raises(DatasetError, match="32x32"):
        load_split(fake_data_dir / "mnist", "test")


def test_folder_named_after_the_data_set(fake_data_dir):
    assert locate("mnist", fake_data_dir / "mnist") == fake_data_dir / "mnist"
    with pytest.raises(DatasetError):  # MNIST's files are never taken for Fashion-MNIST's
        locate("fashion-mnist", fake_data_dir / "mnist")


def test_missing_folder_says_which_files(tmp_path):
    with pytest.raises(DatasetError, match="missing"):
        locate("mnist", tmp_path)


def test_offline_without_folder_explains_the_fix(monkeypatch, tmp_path):
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr("pathlib.Path.home", lambda: tmp_path)
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as info:
        locate("mnist")
    message = str(info.value)
    assert "--data-dir" in message and DATA_DIR_ENV in message and "\n" not in message


def test_to_model_input_range():
    x = to_model_input(np.array([[[0, 255]]], dtype=np.uint8))
    assert x.shape == (1, 1, 2, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
