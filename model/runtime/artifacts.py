"""Self-describing model artefacts: `<name>.keras` beside its `<name>.json` card.

The `.keras` file is the source of truth for the network; the card says what it
was trained on, which preprocessing it expects and how well it does.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from model.errors import ModelLoadError, ModelNotFoundError
from model.runtime.backend import import_keras
from model.runtime.card import Card, card_path_for, read_card, write_card

__all__ = [
    "CACHE_ENV",
    "Artifact",
    "Card",
    "cache_dir",
    "cache_file",
    "cached_file_sha256",
    "card_path_for",
    "file_sha256",
    "read_card",
    "sources_sha256",
    "resolve",
    "store_in_cache",
    "write_card",
]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
#: The bundled models, in the order the UI lists them.
BUNDLED = ("mnist-cnn", "mnist-mlp", "fashion-cnn")


#: Overrides the cache folder (what this machine built or measured: evidence, runtime choices).
CACHE_ENV = "DIGITLENS_CACHE"


def cache_dir() -> Path:
    """$DIGITLENS_CACHE, else ~/.cache/digitlens."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "digitlens")


def sources_sha256(sources: tuple[Path, ...]) -> str:
    """The SHA-256 of the files' SHA-256s, in order: one key for a set of files."""
    key = hashlib.sha256()
    for source in sources:
        key.update(hashlib.sha256(Path(source).read_bytes()).digest())
    return key.hexdigest()


def cache_file(folder: str, sources: tuple[Path, ...], suffix: str = ".onnx") -> Path:
    """Where something built from `sources` is kept: `<cache>/<folder>/<key><suffix>`, the
    key `sources_sha256` (list the code that builds it among them: changed code, or a
    changed file, never meets a stale copy)."""
    return cache_dir() / folder / f"{sources_sha256(sources)}{suffix}"


def store_in_cache(path: Path, data: bytes) -> bool:
    """Write a cache file whole, then rename it into place (processes starting together
    never read half of one). False, and the cache as it was, where it cannot be written
    (read-only, full): what it would have held is made again next time."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as f:
            temporary = Path(f.name)
            f.write(data)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        return False
    return True


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file: what every export records of the file it was made from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


#: `cached_file_sha256`'s memory: a version of a file -> its SHA-256.
_SHA256: dict[tuple[int, ...], str] = {}
#: Versions remembered before the memory starts again (a process meets a few models).
_SHA256_KEPT = 256


def cached_file_sha256(path: Path) -> str:
    """`file_sha256`, read once per version of the file: remembered by its device, inode,
    size and modification and change times (a rewrite changes them), so a caller on every
    request costs one `stat`, not a read of the whole model. OSError where it is missing."""
    version = _version(path)
    digest = _SHA256.get(version)
    if digest is None:
        digest = file_sha256(path)
        if _version(path) == version:  # (not rewritten while it was read)
            if len(_SHA256) >= _SHA256_KEPT:
                _SHA256.clear()
            _SHA256[version] = digest  # (two threads at once compute the same answer)
    return digest


def _version(path: Path) -> tuple[int, ...]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class Artifact:
    """Where a model lives and what its card says."""

    name: str
    keras_path: Path
    card: Card

    @property
    def card_path(self) -> Path:
        return self.keras_path.with_suffix(".json")

    @property
    def class_names(self) -> tuple[str, ...]:
        if self.card.class_names is None:
            return tuple(str(d) for d in range(10))
        return self.card.class_names

    @property
    def preprocessing(self) -> str:
        """The recipe that turns a real image into this model's input: `mnist` or `fashion`."""
        section = self.card.preprocessing
        return section.recipe if section and section.recipe is not None else "mnist"


def keras_layer_names(keras_path: str | os.PathLike) -> tuple[str, ...]:
    """The layer names stored in a `.keras` file, read from its JSON config without Keras
    (a `.keras` file is a zip holding `config.json`); empty if the file has none."""
    try:
        with zipfile.ZipFile(keras_path) as z:
            config = json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ()
    layers = config.get("config", {}).get("layers", []) if isinstance(config, dict) else []
    return tuple(str(layer.get("name") or layer.get("config", {}).get("name")) for layer in layers)


def resolve(name_or_path: str | os.PathLike) -> Artifact:
    """A bundled model name (`mnist-cnn`) or a path to a `.keras` file -> its Artifact."""
    text = str(name_or_path)
    if text in BUNDLED:
        path = WEIGHTS_DIR / f"{text}.keras"
    else:
        path = Path(text).expanduser()
        if path.suffix != ".keras":
            if path.is_file():  # (an .h5 file was "neither a bundled model nor a .keras
                # file", as if it were not there, a user test)
                raise ModelLoadError(
                    f"cannot load {path.name}: it is {_what_is(path)}, and DigitLens loads "
                    f"only Keras 3 .keras files: in Keras 3, model.save('{path.stem}.keras')"
                )
            raise ModelNotFoundError(
                f"{text!r} is neither a bundled model ({', '.join(BUNDLED)}), a Keras "
                "Applications name (mobilenet_v2, resnet50, ...) nor a .keras file"
            )
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    card = read_card(path)
    return Artifact(card.name or path.stem, path, card)


#: What a file that is not a `.keras` archive is, by its first bytes.
_SIGNATURES = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a legacy Keras .h5 model?)"),
    (b"\x80", "a Python pickle"),
    (b"PK", "a damaged zip archive"),
)


def _what_is(path: Path) -> str:
    """A short description of a file that is not a `.keras` archive."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        return "an empty file"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    return "not a Keras archive"


def load_keras_model(path: str | os.PathLike):
    """Load a `.keras` file in safe mode (no arbitrary code), without compiling it.

    A `.keras` file is a zip archive. Anything else (a pickle, an `.h5` file renamed)
    is refused before Keras sees it, with a message that names the file, not a path.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(
            f"cannot load {path.name}: it is {_what_is(path)}, not a Keras 3 (.keras zip) model; "
            "DigitLens loads only .keras files saved by Keras 3 (model.save('x.keras')), "
            "and never pickles"
        )
    with zipfile.ZipFile(path) as z:
        if "config.json" not in z.namelist():
            raise ModelLoadError(
                f"cannot load {path.name}: a zip archive without config.json, not a Keras model"
            )
    keras = import_keras()  # heavy import, kept out of module import time (and quiet)

    return keras.saving.load_model(path, compile=False, safe_mode=True)
