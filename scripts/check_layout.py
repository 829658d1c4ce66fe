"""Check the house rules of the code base: imports run downhill, modules stay readable.

    python -m scripts.check_layout        # prints every violation, exits 1 if any

1. Layers. Front ends (app, pages, ui, server, the `digitlens` command) sit on the
   engine (`model`); `training` makes what the engine ships and may use it; the
   benchmarks may use everything. No product package imports `benchmarks`, `tests`
   or `scripts`; `model` imports none of our other packages; `training` never
   imports a front end or the benchmarks.
2. Rooms. Inside `model`, a module imports only its own room or rooms below it
   (`MODEL_RANKS`): the inputs know nothing of runtimes, the runtimes nothing of the
   judge, nothing below the facade imports the facade (`model.classifier`,
   `model.load`). Imports under `if TYPE_CHECKING:` are annotations, not
   dependencies, and are not counted; imports inside functions are.
3. Size. A module over `MAX_LINES` lines must say in its docstring why its reader
   is better served by one file (the words "one file"); none may pass `HARD_LINES`.
   Test modules are exempt.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Our top-level packages (a module `app.py` counts as the package `app`).
PACKAGES = (
    "model",
    "training",
    "server",
    "ui",
    "app_pages",
    "app",
    "digitlens",
    "benchmarks",
    "scripts",
    "tests",
)
#: What each package may import of ours, besides itself.
ALLOWED = {
    "model": set(),
    "training": {"model"},
    "server": {"model"},
    "ui": {"model"},
    "app_pages": {"ui", "model"},
    "app": {"ui", "app_pages", "model"},
    # The one command starts every front end (and warms the app's cache as it starts).
    "digitlens": {"model", "server", "training", "ui"},
    "benchmarks": {"model", "training", "server", "ui", "app_pages"},
    "scripts": {"model", "training"},
    # Tests exercise everything, including the benchmarks' own tools.
    "tests": {
        "model",
        "training",
        "server",
        "ui",
        "app_pages",
        "app",
        "digitlens",
        "benchmarks",
        "scripts",
    },
}
#: The rooms of `model`, lowest first: a module may import its own room and lower ones.
MODEL_RANKS = {
    "model.errors": 0,
    "model.input": 1,
    "model.datasets": 1,
    "model.runtime": 2,
    "model.architecture": 3,
    "model.judge": 3,
    "model.prediction": 4,
    "model.why": 5,
    "model.number": 5,  # reading a number digit by digit
    "model.classifier": 6,
    "model.load": 7,
    "model.predict": 8,  # the command line
    "model.writers": 8,  # the files the command line writes
    "model.audit": 8,  # whole data sets (uses the facade, like the command line)
    "model": 8,  # the package facade (`from model import load_classifier`)
}
#: Lines above which a module must justify being one file ...
MAX_LINES = 400
#: ... and above which none may go.
HARD_LINES = 600
JUSTIFIED = "one file"


@dataclass(frozen=True)
class Violation:
    path: Path  # relative to the root checked
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def python_files(root: Path = ROOT) -> list[Path]:
    skip = {".venv", ".git", "site", "node_modules", "__pycache__"}
    return sorted(
        p
        for p in root.rglob("*.py")
        if not skip & set(p.relative_to(root).parts) and p.relative_to(root).parts[0] != "static"
    )


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return hidden


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted module) of every import of ours in a file, lazy ones included."""
    tree = ast.parse(path.read_text(), str(path))
    hidden = _type_checking_nodes(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from model.why import passes` names the module model.why.passes
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in PACKAGES]


def _rank(module: str) -> int | None:
    """The room rank of a `model` module: its longest prefix in MODEL_RANKS."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in MODEL_RANKS:
            return MODEL_RANKS[prefix]
    return None


def _imported_module(name: str, root: Path = ROOT) -> str:
    """`model.why.report.report` -> `model.why.report`: drop names that are not modules."""
    parts = name.split(".")
    while len(parts) > 1:
        base = root.joinpath(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            break
        parts.pop()
    return ".".join(parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def check_imports(files: list[Path], root: Path = ROOT) -> list[Violation]:
    out: list[Violation] = []
    for path in files:
        me = module_name(path, root)
        package = me.split(".")[0]
        for line, name in imports(path, root):
            target = _imported_module(name, root)
            other = target.split(".")[0]
            if other != package and other not in ALLOWED.get(package, set()):
                out.append(
                    Violation(
                        path.relative_to(root),
                        line,
                        f"{package} must not import {other} ({target})",
                    )
                )
            if package == "model" and other == "model" and _room(me) != _room(target):
                mine, theirs = _rank(me), _rank(target)
                if mine is None or theirs is None:
                    out.append(
                        Violation(
                            path.relative_to(root), line, f"{target} is in no room of MODEL_RANKS"
                        )
                    )
                elif theirs > mine:
                    out.append(
                        Violation(
                            path,
                            line,
                            f"{me} (room {mine}) imports uphill: {target} (room {theirs})",
                        )
                    )
    return out


def check_sizes(files: list[Path], root: Path = ROOT) -> list[Violation]:
    out: list[Violation] = []
    for path in files:
        if module_name(path, root).startswith("tests"):
            continue
        n = len(path.read_text().splitlines())
        if n > HARD_LINES:
            out.append(
                Violation(path.relative_to(root), n, f"{n} lines: split it (at most {HARD_LINES})")
            )
        elif n > MAX_LINES:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            if JUSTIFIED not in doc.lower():
                out.append(
                    Violation(
                        path,
                        n,
                        f"{n} lines (> {MAX_LINES}): split it, or say in its "
                        f"docstring why its reader is better served by {JUSTIFIED}",
                    )
                )
    return out


def check(root: Path = ROOT) -> list[Violation]:
    files = python_files(root)
    return check_imports(files, root) + check_sizes(files, root)


def main() -> int:
    violations = check()
    for v in violations:
        print(v)
    print(f"{len(violations)} layout violation(s)" if violations else "layout: ok")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
