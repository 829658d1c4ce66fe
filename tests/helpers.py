"""Helpers the tests share: import them from here, never from a conftest.

Synthetic IDX files, the real data sets' folder (from $DIGITLENS_TEST_DATA only),
and real servers on free loopback ports.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from model.input.samples import drawn_digit

__all__ = [
    "ARTIFACTS",
    "ROOT",
    "TEST_DATA",
    "drawn_digit",
    "free_port",
    "make_idx_dataset",
    "png",
    "predict_cli",
    "bar_digits",
    "serving",
    "tiny_digit_net",
    "wait_http",
    "write_idx",
    "write_video",
]

ROOT = Path(__file__).resolve().parents[1]
#: The real MNIST / Fashion-MNIST folder, only where the environment names it.
_TEST_DATA_ENV = os.environ.get("DIGITLENS_TEST_DATA")
TEST_DATA = Path(_TEST_DATA_ENV) if _TEST_DATA_ENV else None
#: Screenshots and server logs of the end-to-end tests.
ARTIFACTS = ROOT / "test-artifacts"


def write_idx(path: Path, array: np.ndarray, magic: int) -> Path:
    """Write `array` (uint8) as a gzip-compressed IDX file with the given magic number."""
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


def make_idx_dataset(folder: Path, n_train: int = 200, n_test: int = 50, seed: int = 0) -> Path:
    """A small, learnable fake data set: class c is a bright bar at row 2c+4."""
    from model.datasets import FILES, IMAGES_MAGIC, LABELS_MAGIC

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c + 4 : 2 * c + 6, 4:24] = 255
        write_idx(folder / FILES[f"{split}_images"], images, IMAGES_MAGIC)
        write_idx(folder / FILES[f"{split}_labels"], labels, LABELS_MAGIC)
    return folder


def number(*digits: int, gap: int = 20, touch: int = 0) -> Image.Image:
    """Digits of `drawn_digit` side by side (white on black); touch > 0 overlaps them."""
    inks = [np.asarray(drawn_digit(d)) for d in digits]
    inks = [a[:, a.any(axis=0)] for a in inks]  # trimmed to their ink
    step = gap if not touch else -touch
    width = sum(a.shape[1] for a in inks) + step * (len(inks) - 1) + 40
    field = np.zeros((280, width), np.uint8)
    x = 20
    for a in inks:
        field[:, x : x + a.shape[1]] = np.maximum(field[:, x : x + a.shape[1]], a)
        x += a.shape[1] + step
    return Image.fromarray(field)


def png(img, fmt: str = "PNG") -> bytes:
    """A PIL image encoded as a client sends it (PNG unless told)."""
    import io

    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


@contextlib.contextmanager
def serving(args: list[str], health_path: str, log_name: str) -> Iterator[str]:
    """Run `python -m <args>` on a free loopback port (`{port}` in args is replaced);
    yield its base URL once `health_path` answers 200; stop it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = ARTIFACTS / log_name
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", *(a.replace("{port}", str(port)) for a in args)],
            cwd=ROOT,
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        try:
            wait_http(base + health_path, proc)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def tiny_digit_net(seed: int = 0):
    """A tiny named 28x28 classifier: conv1, pool, flatten, `fc` (16), dropout, `output`."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inp = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(4, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(16, activation="relu", name="fc")(x)
    x = layers.Dropout(0.3, name="drop")(x)
    out = layers.Dense(10, activation="softmax", name="output")(x)
    return keras.Model(inp, out, name="tiny")


def bar_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n fake digits, (n, 28, 28) uint8 and labels: a bright bar at row 2c+4 for class c."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c + 4 : 2 * c + 6, 4:24] = 255
    return images, labels


def digits_and_negatives(clf, data_dir: Path, n_digits: int, per_kind: int) -> list[np.ndarray]:
    """(28, 28) model inputs: the first MNIST test digits, then report-seed letters,
    scribbles, shapes and noise preprocessed by `clf` (those it refuses before the model,
    which have no verdict, left out): every answer the verdict can give."""
    from model.datasets import load_split, locate
    from model.errors import ImageError
    from training.negatives import negatives

    test = load_split(locate("mnist", str(data_dir)), "test")
    x = list(test.images[:n_digits].astype(np.float32) / 255)
    for kind in ("letters", "scribbles", "shapes", "noise"):
        for item in negatives(kind, per_kind, "report", 2026):
            with contextlib.suppress(ImageError):
                x.append(clf.preprocess(item))
    return x


def write_video(path, digits, fps=10, seconds_each=1.0, start_s=0.0):
    """An MPEG-4 clip showing each digit in turn, then a blank second; its first frame
    at `start_s` (a stream that does not start at 0, as an MPEG program stream's)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 280, 280, "yuv420p"
        frames = [np.asarray(drawn_digit(d).convert("RGB")) for d in digits]
        frames.append(np.zeros((280, 280, 3), np.uint8))
        pts = round(start_s * fps)
        for rgb in frames:
            for _ in range(int(fps * seconds_each)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = pts, Fraction(1, fps)
                pts += 1
                container.mux(stream.encode(frame))
        container.mux(stream.encode())


def run_python(code: str, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    """`python -c CODE` in a process of its own, from the repository (what it imports, the
    logging it configures, are its own); output captured as text."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def predict_cli(*args, stdin=None) -> subprocess.CompletedProcess:
    """`python -m model.predict ARGS...` run as a user runs it: its own process, from the
    repository, TensorFlow's log quiet; output captured as text. stdin: a file (or
    subprocess.DEVNULL) to read standard input from."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "model.predict", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
