"""One entry point for every part of DigitLens.

    python -m digitlens app                 # the Streamlit app on the bundled models
    python -m digitlens predict PATH...     # images, folders, videos -> answers and maps
    python -m digitlens serve               # the REST / Open Inference Protocol server
    python -m digitlens train --model mnist-cnn
    python -m digitlens audit INPUT --out DIR
    python -m digitlens export --model mnist-cnn

Each sub-command is the module it names, unchanged (`python -m model.predict` and the
others keep working); `python -m digitlens CMD --help` shows that command's options.
The `digitlens` console script (pyproject.toml) is the same thing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROG = "python -m digitlens"


@dataclass(frozen=True)
class Command:
    """A sub-command: the module whose `main(argv) -> int` runs it."""

    module: str
    summary: str

    def run(self, name: str, argv: list[str]) -> int:
        """The module's `main`, its --help and errors naming `python -m digitlens NAME`."""
        main: Callable[..., int] = import_module(self.module).main
        return int(main(argv, prog=f"{PROG} {name}") or 0)


def run_app(argv: list[str]) -> int:
    """`streamlit run app.py [ARGS]`, in this process (Streamlit's own CLI), with the
    default model loaded and warmed up in the background from the start."""
    if argv[:1] in (["-h"], ["--help"]):
        print(
            "usage: python -m digitlens app [STREAMLIT OPTIONS]\n\n"
            "Opens the app on the bundled models: `streamlit run app.py` with any\n"
            "Streamlit option passed on (e.g. --server.port 8502, --server.headless true)."
        )
        return 0
    from streamlit.web import cli as stcli

    from ui.resources import warm_start

    os.chdir(ROOT)  # app.py finds its pages and static files from here
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *argv]
    # The app's model loads and its explanations trace while the server starts, not when
    # the first page opens: the first stroke's maps then come as fast as the later ones.
    warm_start()
    try:
        stcli.main()
    except SystemExit as done:  # click exits when the server stops
        return int(done.code or 0)
    return 0


COMMANDS: dict[str, Command] = {
    "predict": Command("model.predict", "images, folders and videos -> labels, verdicts, maps"),
    "serve": Command("server.__main__", "the REST (/v1) and Open Inference Protocol (/v2) server"),
    "train": Command("training.train", "train a bundled architecture, write its model card"),
    "audit": Command(
        "model.audit.__main__", "a whole data set -> predictions.parquet and report.html"
    ),
    "export": Command("model.runtime.export", "ONNX / quantized / SavedModel exports of a model"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="See why a neural network reads a digit the way it does.",
        epilog="python -m digitlens CMD --help shows the options of CMD.",
    )
    sub = p.add_subparsers(dest="command", metavar="CMD", required=True)
    sub.add_parser("app", help="the Streamlit app (streamlit run app.py)", add_help=False)
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.summary, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    if not argv or argv[0] in ("-h", "--help"):
        p.print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "app":
        return run_app(rest)
    if name not in COMMANDS:
        p.parse_args([name])  # prints argparse's "invalid choice" and exits 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return COMMANDS[name].run(name, rest)


if __name__ == "__main__":
    sys.exit(main())
