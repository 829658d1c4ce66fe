"""The model card as a type: round trips, tolerance of partial cards, clear errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from model.errors import ModelLoadError
from model.runtime.artifacts import BUNDLED, WEIGHTS_DIR, resolve
from model.runtime.card import Card, Metrics, Preprocessing, card_json, read_card, write_card


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_round_trips_byte_identical(name, tmp_path):
    path = WEIGHTS_DIR / f"{name}.json"
    text = path.read_text()
    raw = json.loads(text)
    card = read_card(path.with_suffix(".keras"))
    assert card.to_dict() == raw
    assert list(card.to_dict()) == list(raw)  # key order kept: the file does not churn
    assert card_json(card) == text
    written = write_card(tmp_path / f"{name}.keras", card)
    assert written.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_fields_are_typed(name):
    card = resolve(name).card
    raw = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    assert card.name == raw["name"] and card.dataset == raw["dataset"]
    assert card.class_names == tuple(raw["class_names"])
    assert isinstance(card.metrics, Metrics) and card.accuracy == raw["metrics"]["accuracy"]
    assert card.metrics.confusion_matrix == raw["metrics"]["confusion_matrix"]
    assert card.preprocessing == Preprocessing(**raw["preprocessing"])
    assert card.onnx == raw["runtimes"]["onnx"]
    assert card.default_explanation == raw["explanations"]["default"]
    assert card.sanity_methods == raw["explanations"]["sanity"]["methods"]
    assert card.extra == {}


def test_empty_and_missing_cards_read_as_all_none(tmp_path):
    empty = Card.from_dict({})
    assert empty == Card() and empty.to_dict() == {}
    assert all(
        getattr(empty, f.name) is None for f in dataclasses.fields(Card) if f.name != "extra"
    )
    assert empty.accuracy is None and empty.onnx is None
    assert empty.sanity_methods == {} and empty.default_explanation == {} and empty.history == {}
    assert empty.dataset_or_default == "mnist"
    assert read_card(tmp_path / "nothing.keras") == Card()  # no card beside the file


def test_minimal_card_round_trips_without_adding_keys():
    raw = {"name": "tiny", "metrics": {"accuracy": 0.5}, "preprocessing": {"scaling": "caffe"}}
    card = Card.from_dict(raw)
    assert card.to_dict() == raw
    assert card.metrics.ece is None and card.parameters is None
    assert card.preprocessing.recipe is None and card.preprocessing.scaling == "caffe"


def test_unknown_keys_are_kept_through_reads_and_writes(tmp_path):
    raw = {
        "name": "mine",
        "author": "a user",
        "preprocessing": {"recipe": "mnist", "note": "inverted scans"},
        "metrics": {"accuracy": 0.9, "top5": 0.99},
        "licence": {"spdx": "MIT"},
    }
    card = Card.from_dict(raw)
    assert card.extra == {"author": "a user", "licence": {"spdx": "MIT"}}
    assert card.preprocessing.extra == {"note": "inverted scans"}
    assert card.metrics.extra == {"top5": 0.99}
    assert card.to_dict() == raw
    # A writer that changes one section leaves everything else as the user wrote it.
    path = write_card(tmp_path / "mine.keras", card.with_runtime("onnx", {"file": "mine.onnx"}))
    back = json.loads(path.read_text())
    assert back == {**raw, "runtimes": {"onnx": {"file": "mine.onnx"}}}


def test_writers_make_new_cards_and_never_change_the_old_one():
    card = Card.from_dict({"name": "m", "explanations": {"sanity": {"methods": {"saliency": {}}}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.name = "other"  # type: ignore[misc]
    new = card.with_explanations("default", {"method": "saliency", "layer": None})
    assert card.default_explanation == {}
    assert new.default_explanation == {"method": "saliency", "layer": None}
    assert new.sanity_methods == {"saliency": {}}  # the other section is kept
    assert card.updated(parameters=3).parameters == 3 and card.parameters is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"parameters": "many"}, "parameters"),
        ({"parameters": True}, "parameters"),
        ({"name": 7}, "name"),
        ({"class_names": "0123456789"}, "class_names"),
        ({"class_names": [0, 1, 2]}, "class_names"),
        ({"preprocessing": "mnist"}, "preprocessing"),
        ({"preprocessing": {"scaling": 255}}, "preprocessing.scaling"),
        ({"metrics": {"accuracy": "high"}}, "metrics.accuracy"),
        ({"metrics": {"confusion_matrix": {}}}, "metrics.confusion_matrix"),
        ({"runtimes": ["onnx"]}, "runtimes"),
    ],
)
def test_wrong_types_give_a_clear_error_naming_the_field(raw, field):
    with pytest.raises(ModelLoadError, match=f"'{field}'"):
        Card.from_dict(raw)


def test_a_bad_card_file_is_refused_naming_the_file_and_field(tmp_path):
    keras_path = tmp_path / "mine.keras"
    keras_path.write_bytes(b"PK")  # resolve() needs the file to exist, not to be valid
    keras_path.with_suffix(".json").write_text(json.dumps({"metrics": {"ece": [0.1]}}))
    with pytest.raises(ModelLoadError, match=r"mine\.json.*'metrics\.ece'"):
        resolve(keras_path)
    keras_path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=r"mine\.json.*not JSON"):
        resolve(keras_path)
    keras_path.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="JSON object"):
        resolve(keras_path)
