"""`python -m digitlens CMD`, run as a user runs it: each command's help and usage errors
name the command the user typed, and help answers without loading TensorFlow."""

import subprocess
import sys

import pytest

from digitlens.__main__ import COMMANDS
from tests.helpers import ROOT, run_python


def digitlens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "digitlens", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_and_usage_errors_name_the_command_typed(name):
    done = digitlens(name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m digitlens {name} "), done.stdout[:200]
    wrong = digitlens(name, "--no-such-flag")
    assert wrong.returncode == 2
    assert f"python -m digitlens {name}: error:" in wrong.stderr, wrong.stderr[-300:]
    assert "Traceback" not in wrong.stderr


def test_the_modules_keep_their_own_names():
    done = subprocess.run(
        [sys.executable, "-m", "model.predict", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.startswith("usage: python -m model.predict "), done.stdout[:200]


def test_training_help_loads_no_tensorflow():
    """The training command's options come from the recipes, which need no TensorFlow:
    its --help answered after 4.5 s and absl's banner. (Its main, run to the help.)"""
    code = (
        "import contextlib, io, sys, training.train as t\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    t.main(['--help'])\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = run_python(code)
    assert done.stdout.strip() == "False False", done.stderr[-500:]
