"""Benchmark tables as files the docs include.

Each benchmark prints its markdown as it measures (`Lines`), then calls
`write_table`, which writes `docs/benchmarks/generated/<name>.md`: the table and one
line that says which command made it, when, and on what machine. The docs pull these
files in with pymdownx.snippets, so a figure in the docs is never typed by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import sys
from pathlib import Path

# docs/benchmarks/generated/ beside benchmarks/ at the repository root
GENERATED = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "generated"
NAME = re.compile(r"[a-z0-9][a-z0-9-]*")  # a file name the docs can include


class Lines:
    """Prints each line at once (a run can take minutes) and keeps it for the file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
            self.lines.extend(line.split("\n"))

    @property
    def markdown(self) -> str:
        return "\n".join(self.lines).strip("\n")


def command_line(prog: str, argv: list[str] | None) -> str:
    """The command as a person would type it: `prog` and the arguments given."""
    args = list(sys.argv[1:] if argv is None else argv)
    # A machine's own data folder is not part of the command: name it neutrally.
    for i, arg in enumerate(args):
        if arg == "--data-dir" and i + 1 < len(args):
            args[i + 1] = "DATA_DIR"
        elif arg.startswith("--data-dir="):
            args[i] = "--data-dir=DATA_DIR"
    return " ".join([prog, shlex.join(args)]) if args else prog


def slug(text: str) -> str:
    """A table name from free text: 'my_rgb.keras' -> 'my-rgb-keras'."""
    return re.sub(r"[^a-z0-9]+", "-", Path(text).name.lower()).strip("-") or "table"


def machine() -> str:
    """'2 cores, AMD EPYC': the CPU count and model, from /proc/cpuinfo where there is one."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model or platform.processor() or platform.machine()}"


def write_table(name: str, markdown: str, command: str, folder: Path | None = None) -> Path:
    """Write `<folder>/<name>.md`: the table, then who made it, when and where.

    `name` is lower-case letters, digits and dashes; `folder` defaults to
    docs/benchmarks/generated/. Returns the path written.
    """
    if not NAME.fullmatch(name):
        raise ValueError(f"table name {name!r}: use lower-case letters, digits and dashes")
    folder = GENERATED if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = f", load average {os.getloadavg()[0]:.1f} at the end"
    text = f"{markdown.strip()}\n\nMade by `{command}` on {now}, {machine()}{load}.\n"
    path = folder / f"{name}.md"
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)
    return path
