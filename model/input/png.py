"""A fast path for the PNG a browser canvas sends: plain 8-bit PNGs decoded in a few
array operations instead of Pillow's row-by-row decoder.

A canvas export (`canvas.toDataURL("image/png")`: 280x280 RGBA, 2-5 KB) spends most of
its decoding time inflating ~300 KB of pixels: libdeflate (`deflate`, where installed)
inflates such a short stream in one call faster than ISA-L's inflate (`isal`), which
is ~4x zlib's here and reads longer streams in steps. The rows are then unfiltered by
whole rows or columns (PNG's filter types None, Sub and Up; Chromium writes Up on every
row).

Anything else (palette, 16-bit, interlaced, a transparency key, EXIF, text chunks,
Average or Paeth rows, a bad checksum, truncated data) returns None and goes to Pillow
unchanged, so every image the fast path declines, and every error message, is what it
was. Where it answers, the pixels are Pillow's bit for bit (PNG is lossless):
tests/model/test_fast_path.py compares them on every realistic and bad input.
"""

from __future__ import annotations

import struct
import zlib
from functools import cached_property

import cv2
import numpy as np
from PIL import Image

try:  # ISA-L's inflate: same bytes as zlib's, several times faster on x86
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - the plain zlib path is still correct
    _inflate_lib = zlib  # type: ignore[assignment]
try:  # libdeflate: a whole stream into a buffer of a known size, in one call
    from deflate import zlib_decompress as _inflate_whole
except ImportError:  # pragma: no cover - ISA-L's (or zlib's) one call does the same
    _inflate_whole = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Colour type -> Pillow mode, 8 bits per sample (grey, RGB, grey+alpha, RGBA).
MODES = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
#: Ancillary chunks that change nothing Pillow or DigitLens does with the pixels (colour
#: management is not applied by either). Any other chunk (tRNS, PLTE, eXIf, text chunks,
#: which may carry EXIF) sends the file to Pillow.
PASSIVE = frozenset({b"sRGB", b"gAMA", b"cHRM", b"pHYs", b"iCCP", b"tIME", b"bKGD", b"sBIT"})
#: PNG's filter types that unfilter without a per-pixel loop: None, Sub, Up.
VECTOR_FILTERS = 2
#: Column sums of uint8 samples fit OpenCV's int32 integral image below this many samples
#: x 255 (an 8 MB image; larger ones are unfiltered row by row).
INT32_SUMS = 2**31
#: Deflate inflates at most 1,032 bytes per byte (a 258-byte match in 2 bits): a stream
#: under ONE_SHOT_BYTES / DEFLATE_MAX_RATIO bytes (~8 KB) cannot allocate past 8 MB.
DEFLATE_MAX_RATIO = 1033
ONE_SHOT_BYTES = 8 * 2**20


def decode_png(data: bytes, max_pixels: int) -> Image.Image | None:
    """A plain 8-bit, non-interlaced PNG -> its Pillow image (mode L, LA, RGB or RGBA),
    or None for anything the fast path does not handle (Pillow then decodes it)."""
    found = _filtered_rows(data, max_pixels)
    if found is None:
        return None
    rows, mode, (h, w, c) = found
    pixels = unfilter(rows[:, 0], rows[:, 1:], c)
    if pixels is None:
        return None
    return Image.fromarray(pixels.reshape(h, w, c) if c > 1 else pixels, mode)


class Planes:
    """A small PNG's samples as one (h, w) uint8 plane per channel, each made when first
    asked for (`plane`): a canvas whose ink is its alpha never unfilters its colour.

    Where every row is Up (Chromium's canvas) a plane is the running sums down the columns
    of its channel's filtered samples; otherwise the rows were unfiltered together. Where
    the red, green and blue samples are equal (a white or grey pen; for filtered samples
    the unfiltered ones are then equal too, a running sum being one-to-one), red's plane
    stands for all three: the same array object (`grey`)."""

    def __init__(self, mode: str, samples: np.ndarray, up: bool) -> None:
        self.mode = mode
        self._samples = samples  # (h, w, c) uint8: filtered, every row Up (up), or pixels
        self._up = up
        self._planes: dict[int, np.ndarray] = {}
        self._split: list[np.ndarray] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self._samples.shape[:2]

    @property
    def every_row_up(self) -> bool:
        """Whether every row is Up-filtered, as Chromium's canvas writes its export."""
        return self._up

    @property
    def channels(self) -> int:
        return self._samples.shape[2]

    def _channel(self, i: int) -> np.ndarray:
        """Channel i of the samples, contiguous: alone where only it is needed (alpha),
        else from one split of them all."""
        if self.channels == 1:
            return self._samples.reshape(self.shape)
        if self._split is not None:
            return self._split[i]
        return cv2.extractChannel(self._samples, i)

    @property
    def made(self) -> tuple[int, ...]:
        """The channels whose planes were made so far (a grey pen's red stands for three)."""
        return tuple(sorted(self._planes))

    @cached_property
    def grey(self) -> bool:
        """Whether the PNG's red, green and blue are equal everywhere."""
        if self.channels < 3:
            return False
        self._split = list(cv2.split(self._samples))
        r, g, b = self._split[:3]
        return np.array_equal(r, g) and np.array_equal(g, b)

    def plane(self, i: int) -> np.ndarray:
        """Channel i's (h, w) uint8 pixels (made once)."""
        if i in (1, 2) and self.grey:
            i = 0
        if i not in self._planes:
            samples = self._channel(i)
            self._planes[i] = column_sums(samples) if self._up else samples
        return self._planes[i]


def read_planes(data: bytes, max_pixels: int, max_side: int) -> Planes | None:
    """The same PNGs as `decode_png`, up to `max_side` pixels a side (a canvas export), as
    `Planes`: what the digit pipeline reads without a Pillow image in between. None for
    anything else (nothing is inflated for a larger image)."""
    found = _filtered_rows(data, max_pixels, max_side)
    if found is None:
        return None
    rows, mode, (h, w, c) = found
    kinds = rows[:, 0]
    if (kinds[1:] == 2).all() and kinds[0] in (0, 2):  # (Up on row 0 is None)
        return Planes(mode, np.ascontiguousarray(rows[:, 1:]).reshape(h, w, c), up=True)
    pixels = unfilter(kinds, rows[:, 1:], c)
    if pixels is None:
        return None
    return Planes(mode, pixels.reshape(h, w, c), up=False)


def decode_planes(
    data: bytes, max_pixels: int, max_side: int
) -> tuple[str, list[np.ndarray]] | None:
    """`read_planes` with every plane made: (Pillow's mode, one (h, w) uint8 plane per
    channel), a grey pen's red, green and blue the same array. (What `decode.py` read
    before its planes were made lazily: `benchmarks.preprocess_ab` runs such revisions'
    `decode.py` against this module.)"""
    planes = read_planes(data, max_pixels, max_side)
    if planes is None:
        return None
    return planes.mode, [planes.plane(i) for i in range(planes.channels)]


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the IHDR of data that starts as a PNG (its first chunk, where
    `_chunks` takes it), or None: the header alone, nothing checked or inflated."""
    if len(data) < 24 or data[:8] != SIGNATURE or data[12:16] != b"IHDR":
        return None
    return struct.unpack_from(">II", data, 16)


def png_within(data: bytes, max_side: int) -> bool:
    """Whether `data` starts as a PNG whose IHDR gives both sides at most `max_side`
    pixels: the one limit `read_planes` has that `decode_png` has not."""
    size = png_size(data)
    return size is not None and max(size) <= max_side


def column_sums(plane: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> its running sums down every column, modulo 256 (uint8): PNG's Up
    filter undone, read off OpenCV's integral image (int32, so below INT32_SUMS samples
    x 255; a 448x448 plane sums to at most 448 * 255 per column).

    Only the box of the plane's nonzero samples is summed (a canvas's strokes: a quarter
    of it or less). Outside it the sums are 0 above and beside, and below it every row
    repeats the box's last one (nothing changes under it). The same bytes as summing the
    whole plane, with a fraction of the int32 images, which push the model's weights out
    of the cache for the call that follows (docs/reference/runtimes.md)."""
    plane = np.ascontiguousarray(plane)
    x, y, w, h = cv2.boundingRect(plane)
    out = np.zeros_like(plane)
    if w == 0:
        return out
    total = cv2.integral(plane[y : y + h, x : x + w])
    out[y : y + h, x : x + w] = cv2.subtract(total[1:, 1:], total[1:, :-1]).astype(np.uint8)
    last = out[y + h - 1, x : x + w]
    if last.any():  # (ink running to the bottom edge)
        out[y + h :, x : x + w] = last
    return out


def _filtered_rows(
    data: bytes, max_pixels: int, max_side: int | None = None
) -> tuple[np.ndarray, str, tuple[int, int, int]] | None:
    """(the inflated rows (h, 1 + w * c) uint8, each led by its filter type; Pillow's
    mode; (h, w, c)) of a PNG the fast path handles, or None."""
    header, idat = _chunks(data)
    if header is None:
        return None
    w, h, depth, colour, compression, filtering, interlace = header
    if (
        depth != 8
        or colour not in MODES
        or (compression, filtering, interlace) != (0, 0, 0)
        or w * h == 0
        or w * h > max_pixels  # Pillow's path refuses it with the usual message
        or w * h > (Image.MAX_IMAGE_PIXELS or w * h)  # Pillow's own bomb warning or error
        or (max_side is not None and max(w, h) > max_side)
    ):
        return None
    c = CHANNELS[colour]
    stride = 1 + w * c  # one filter-type byte per row, then the samples
    raw = _inflate(idat, h * stride)
    if raw is None:
        return None
    return np.frombuffer(raw, np.uint8).reshape(h, stride), MODES[colour], (h, w, c)


def _chunks(data: bytes) -> tuple[tuple[int, ...] | None, bytes]:
    """(IHDR fields, the joined IDAT data), or (None, b"") if the file is not a plain PNG
    with good checksums ending in IEND."""
    if not data.startswith(SIGNATURE):
        return None, b""
    view = memoryview(data)
    pos, header, idat = len(SIGNATURE), None, []
    while pos + 12 <= len(data):
        n, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + n
        if end > len(data):
            return None, b""
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            return None, b""
        body = view[pos + 8 : end - 4]
        if kind == b"IHDR":
            if header is not None or n != 13 or pos != len(SIGNATURE):
                return None, b""
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT" and header is not None:
            idat.append(body)
        elif kind == b"IEND":
            return (header, b"".join(idat)) if idat else (None, b"")
        elif kind not in PASSIVE:
            return None, b""
        pos = end
    return None, b""  # no IEND: truncated


def _inflate(stream: bytes, size: int) -> bytes | bytearray | None:
    """The zlib stream inflated to exactly `size` bytes (never more), or None.

    A stream short enough that it cannot inflate past ONE_SHOT_BYTES (a canvas's few KB)
    is inflated in one call into a buffer of `size` bytes (the streaming call grows its
    buffer as it goes: ~15 % of the inflate's time), by libdeflate where installed (it
    never writes past `size` and checks the Adler-32 sum, as zlib does); a longer one is
    read in steps of at most `size` bytes, so no stream can allocate more than that.
    The bytes are the same whichever library inflates them; only a library's error
    type differs, and every error is None here."""
    try:
        if len(stream) * DEFLATE_MAX_RATIO <= ONE_SHOT_BYTES:
            if _inflate_whole is not None:  # (a bytearray, read through np.frombuffer)
                raw = _inflate_whole(stream, size)  # raises if cut short or too long
            else:
                raw = _inflate_lib.decompress(stream, bufsize=size)  # raises if cut short
            return raw if len(raw) == size else None
        d = _inflate_lib.decompressobj()
        raw = d.decompress(stream, size)
    except Exception:  # a corrupt stream: Pillow reports it  # noqa: BLE001
        return None
    if len(raw) != size or d.unconsumed_tail or not d.eof:
        return None
    return raw


def unfilter(kinds: np.ndarray, rows: np.ndarray, channels: int) -> np.ndarray | None:
    """Undo PNG's row filters: kinds (h,) filter types, rows (h, w*c) uint8 -> (h, w*c)
    uint8 pixels; None when a row uses Average or Paeth (sequential along the row).

    Sub rows are a running sum along the row per channel (one vectorised cumsum for all
    of them). Each Up row adds the row above it: when every row is Up (a Chromium
    canvas) that is a running sum down every column, the difference of neighbouring
    columns of an integral image; otherwise one vector add per Up row, in order (numpy's
    cumsum down the columns costs several times more). uint8 arithmetic wraps modulo
    256, as PNG's does.
    """
    if int(kinds.max(initial=0)) > VECTOR_FILTERS:
        return None
    h, width = rows.shape
    out = np.array(rows)  # a writable copy
    sub = kinds == 1
    if sub.any():
        run = out[sub].reshape(-1, width // channels, channels)
        out[sub] = np.cumsum(run, axis=1, dtype=np.uint8).reshape(-1, width)
    up = kinds == 2
    up[0] = False  # the row above the first is zeros: Up is None there
    if not up.any():
        return out
    if up[1:].all() and out.size * 255 < INT32_SUMS:
        return column_sums(out)  # every row Up: the running sums down the columns
    for r in np.flatnonzero(up).tolist():
        np.add(out[r], out[r - 1], out=out[r])
    return out


def encode_up(pixels: np.ndarray) -> bytes:
    """(H, W, C) uint8 -> a PNG with the Up filter on every row, as Chromium's canvas
    writes it (`toDataURL("image/png")`): what benchmarks and tests send as a canvas."""
    h, w, c = pixels.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    flat = np.ascontiguousarray(pixels, np.uint8).reshape(h, w * c)
    rows = np.empty((h, 1 + w * c), np.uint8)
    rows[:, 0] = 2
    rows[0, 1:] = flat[0]
    rows[1:, 1:] = flat[1:] - flat[:-1]  # wraps modulo 256, as PNG's arithmetic does

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    head = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        SIGNATURE
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
