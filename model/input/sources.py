"""Where inputs come from: files, folders searched recursively, and video frames.

Shared by the command line (`model.predict`) and whole-data-set runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.errors import ImageError

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".webp",
    ".tif",
    ".tiff",
    ".pgm",
    ".ppm",
    ".pbm",
}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
#: Frames sampled per second of video, unless told (the CLI's and the audit's --fps).
DEFAULT_FPS = 2.0
#: The input `-`: one image read from standard input (`... predict - < seven.png`).
STDIN = Path("-")


@dataclass(frozen=True)
class Item:
    """One thing to predict: an image file, or one frame of a video."""

    path: Path
    image: object  # a path or an (H, W, 3) uint8 frame
    frame: int | None = None
    time_s: float | None = None


class CutShort(Exception):
    """A video whose remaining frames could not be read (truncated or damaged)."""


@dataclass(frozen=True)
class Unread:
    """An input that names nothing to read (a missing path, an empty folder), kept in its
    place among the others: it comes before `files[before]`."""

    path: Path
    message: str
    before: int

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


#: What is said of a link whose file is not there.
LINK_TO_NOTHING = "a link to a file that is not there"


def is_media(path: Path) -> bool:
    """Whether a folder's entry is to be read: an image or a video by its suffix, a file or
    a link (a link to nothing is said to be one, not left out)."""
    return path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES and (
        path.is_file() or (path.is_symlink() and not path.exists())
    )


def collect(inputs: list[str]) -> tuple[list[Path], list[Unread], dict[Path, str]]:
    """Expand folders recursively into supported files.

    Returns (files, unread inputs, output names). A file's output name is its path
    relative to the folder it was found in (or its own name when given directly), folders
    joined by `__`, suffix kept: `scans/` holding `a/seven.png` gives `a__seven.png`,
    however the folder was spelled (relative, absolute, with `..`). Names that would
    collide get `-2`, `-3`, ... so no output overwrites another. `-` is standard input
    (`STDIN`, named `stdin`; `stdin_image` reads it), once.
    """
    files: list[Path] = []
    errors: list[Unread] = []
    names: dict[Path, str] = {}
    taken: set[str] = set()

    def add(path: Path, relative: Path) -> None:
        name = "__".join(relative.parts) or "input"
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}-{n}"
        taken.add(unique)
        files.append(path)
        names[path] = unique

    def unread(path: Path, message: str) -> None:
        errors.append(Unread(path, message, len(files)))

    for text in inputs:
        path = Path(text)
        if text == "-":
            if STDIN in names:
                unread(path, "standard input is read once: name `-` once")
            else:
                add(STDIN, Path("stdin"))
        elif path.is_dir():
            found = len(files)
            for p in sorted(path.rglob("*")):
                if not is_media(p):
                    continue
                if p.is_file():
                    add(p, p.relative_to(path))
                else:  # (it was left out without a word, a user test)
                    unread(p, LINK_TO_NOTHING)
            if len(files) == found and not any(e.path.is_relative_to(path) for e in errors):
                unread(path, "no images or videos in this folder or below it")
        elif path.is_file():  # (a file named "-", given as ./-, is a file: never stdin)
            add(path.absolute() if path == STDIN else path, Path(path.name))
        elif path.is_symlink() and not path.exists():
            unread(path, LINK_TO_NOTHING)
        elif path.exists():  # (a pipe was "no such file or folder", a user test)
            unread(path, "not a file: a pipe, a device or a socket cannot be read as an image")
        else:
            unread(path, "no such file or folder")
    return files, errors, names


def in_order(files: Iterable[Path], unread: list[Unread]) -> Iterator[Path | Unread]:
    """`collect`'s files with its unread inputs in their places among them: the inputs in
    the order they were named (`files` may be a progress bar over them)."""
    at = 0
    for i, path in enumerate(files):
        while at < len(unread) and unread[at].before == i:
            yield unread[at]
            at += 1
        yield path
    yield from unread[at:]


def stdin_image() -> bytes:
    """The bytes piped into standard input (`-`). Raises ImageError where nothing is piped
    (a terminal would wait for an image typed in)."""
    if sys.stdin is None or sys.stdin.isatty():
        raise ImageError("`-` reads an image piped in, e.g. `... predict - < seven.png`")
    data = sys.stdin.buffer.read()
    if not data:
        raise ImageError("nothing was piped into standard input")
    return data


class _Sampler:
    """Which frames are sampled at `fps`: the first, then the first at or after each
    1/fps step, counted from the first frame's time (a stream may start at 0.5 s)."""

    def __init__(self, fps: float):
        self.step, self.start, self.next = 1.0 / fps, None, 0.0

    def take(self, t: float) -> bool:
        if self.start is None:
            self.start = t
        if t - self.start + 1e-9 < self.next:
            return False
        self.next += self.step
        return True


def video_error(exc: BaseException) -> str:
    """A video library's error in words: PyAV's own ("[Errno 1094995529] Invalid data found
    when processing input: 'clip.mp4'") without its error number and the path, which the
    line already names: "invalid data found when processing input"."""
    said = getattr(exc, "strerror", None) or str(exc)
    return said[:1].lower() + said[1:] if said[1:2].islower() else said  # (not "MOOV": "mOOV")


def video_frames(path: Path, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, time in s, (H, W, 3) uint8) sampled at `fps` frames per second."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file holds no video stream")
        stream = container.streams.video[0]
        sampler = _Sampler(fps)
        for i, frame in enumerate(container.decode(stream)):
            t = (
                float(frame.time)
                if frame.time is not None
                else i / float(stream.average_rate or 25)
            )
            if sampler.take(t):
                yield i, t, frame.to_ndarray(format="rgb24")


def count_samples(path: Path, fps: float) -> int | None:
    """How many frames `video_frames` will yield (None if unknown), without decoding: the
    same sampling on the times of the stream's packets (one frame each), in display order;
    `stated_samples` where its packets carry no times."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            times = sorted(
                float(p.pts * base)
                for p in container.demux(stream)
                if p.pts is not None and p.size and base
            )
    except Exception:
        return None
    if not times:
        return stated_samples(path, fps)
    sampler = _Sampler(fps)
    return sum(sampler.take(t) for t in times)


def stated_samples(path: Path, fps: float) -> int | None:
    """The frames a video's stated length promises at `fps`, or at its own frame rate where
    that is lower (None if it states no length): a file cut short holds fewer (`python -m
    model.predict` says so), and this may count one frame more than `video_frames` yields."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            # (no more than the video holds: at --fps 11, a 10 fps clip of 30 frames was
            # said "cut short: 30 of the 34 frames expected", and the run failed)
            rate = stream.average_rate or stream.guessed_rate
            if rate:
                fps = min(fps, float(rate))
            if stream.duration and stream.time_base:
                return int(float(stream.duration * stream.time_base) * fps) + 1
            if container.duration:  # e.g. Matroska: only the container knows its length
                return int(container.duration / av.time_base * fps) + 1
    except Exception:
        return None
    return None
