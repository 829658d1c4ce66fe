"""The house rules (scripts/check_layout.py) hold for the whole tree, and the checker
catches what it is there to catch."""

from pathlib import Path

import pytest

from scripts.check_layout import check, check_imports, check_sizes


def test_the_tree_keeps_the_house_rules():
    violations = check()
    assert not violations, "\n".join(str(v) for v in violations)


def _tree(tmp_path: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(tmp_path.rglob("*.py"))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"model/a.py": "from training.data import load_dataset\n"},
            "model must not import training",
        ),
        ({"training/a.py": "import benchmarks.realistic\n"}, "training must not import benchmarks"),
        (
            {"server/a.py": "def f():\n    from tests import helpers\n"},
            "server must not import tests",
        ),
        (
            {
                "model/input/a.py": "from model.why.report import report\n",
                "model/why/report.py": "",
            },
            "imports uphill",
        ),
        (
            {"model/why/a.py": "from model.load import load_classifier\n", "model/load.py": ""},
            "imports uphill",
        ),
    ],
)
def test_uphill_imports_are_caught(tmp_path, files, expected):
    found = check_imports(_tree(tmp_path, files), tmp_path)
    assert any(expected in str(v) for v in found), found


def test_annotations_and_downhill_imports_pass(tmp_path):
    files = {
        "model/why/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from model.classifier import Classifier\nfrom model.input.decode import x\n",
        "model/input/decode.py": "",
        "model/classifier.py": "",
    }
    assert check_imports(_tree(tmp_path, files), tmp_path) == []


def test_long_modules_must_say_why(tmp_path):
    body = "x = 1\n" * 450
    long_, justified = _tree(
        tmp_path,
        {
            "model/long.py": body,
            "model/ok.py": '"""Kept as one file: it reads best so."""\n' + body,
        },
    )
    found = check_sizes([long_, justified], tmp_path)
    assert [v.path.name for v in found] == ["long.py"]
    assert check_sizes(_tree(tmp_path, {"model/huge.py": "x = 1\n" * 700}), tmp_path)
