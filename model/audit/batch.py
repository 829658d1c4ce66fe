"""The work of an audit on one batch of rows: one callable class for every engine.

`AuditBatch.__init__` loads the model once (in a Ray actor: once per actor);
`__call__(batch)` takes the columns of some rows (`path`, `frame`, `true_label`) and
returns those columns plus the answer for each row. The local loop and Ray Data's
`map_batches` run the very same object, so both engines give the same rows.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.audit.inputs import UNKNOWN, AuditInputError, idx_reference, is_uri, read_bytes
from model.errors import DigitLensError, ModelLoadError
from model.input.decode import ImageInput, load_image
from model.input.sources import video_error, video_frames
from model.runtime.runtimes import THREADS_ENV

#: Rows per batch: one model call (and one map/trust call) each.
BATCH_SIZE = 64
#: The columns every audit writes, in order (`true_label` only when labels were given;
#: `method`, `trust`, `trust_verdict`, `map` only when explaining).
COLUMNS = (
    "path",
    "frame",
    "label",
    "class_name",
    "probability",
    "verdict",
    "ood_score",
    "reason",
    "top_k",
    "error",
)
EXPLAIN_COLUMNS = ("method", "trust", "trust_verdict", "map")
#: With `evidence`: the input's point in the look-alike index's representation (float32
#: bytes; a list of floats in the Parquet file), where it lands on the atlas, and the share
#: of its K look-alikes that carry the answer's label (deep kNN's credibility).
EVIDENCE_COLUMNS = ("embedding", "atlas_x", "atlas_y", "lookalikes_agree")
#: With `number`: the input read as a written number (`model.number`): its text ("42",
#: "4?2"), verdict, and why there is none.
NUMBER_COLUMNS = ("number", "number_verdict", "number_refusal")


@dataclass(frozen=True)
class AuditConfig:
    """What to compute for every input (picklable: Ray ships it to each actor)."""

    model: str = "mnist-cnn"
    runtime: str = "auto"
    preprocessing: str | None = None  # a scaling or digit recipe instead of the card's
    explain: str | None = None  # a method of model.why.attribution.METHODS, or "default"
    layer: str | None = None
    top_k: int = 3
    fps: float = 2.0
    threads: int | None = None  # per process (a Ray actor: its CPUs)
    evidence: bool = False  # the representation, atlas position and look-alike agreement
    number: bool = False  # also read each input as a written number (digit models)


def _error_text(exc: BaseException) -> str:
    """What went wrong, in words: our errors say it; anything else names its type."""
    if isinstance(exc, DigitLensError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _keras_threads(threads: int | None) -> None:
    """Import Keras, with TensorFlow's threads set to this process' CPUs where given."""
    from model.runtime.backend import import_keras

    import_keras()
    if threads:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already initialised in this process
            pass


class AuditBatch:
    """Loads the model once; then maps a batch of rows to their answers."""

    def __init__(self, config: AuditConfig):
        if config.threads:
            os.environ[THREADS_ENV] = str(config.threads)
        from model.load import load_classifier

        self.config = config
        self.clf = load_classifier(
            config.model, runtime=config.runtime, preprocessing=config.preprocessing
        )
        self._idx: dict[str, np.ndarray] = {}  # IDX file -> (N, 28, 28) uint8
        # the last video's frames, and why its decoding stopped early (None: it did not)
        self._video: tuple[str, list[np.ndarray], str | None] | None = None
        self.method: str | None = None
        self.layer: str | None = None
        #: Seconds spent so far reading (decode + preprocessing), in the model (answer
        #: and verdict), on maps (map + trust) and on evidence: where an audit's time goes.
        self.seconds = {"read": 0.0, "model": 0.0, "map": 0.0, "evidence": 0.0}
        if config.explain:
            self._prepare_explanations(config)
        if config.number and not self.clf.reads_digits:
            raise ModelLoadError(f"{self.clf.name} does not read digits: it cannot read numbers")
        self.atlas = None  # the model's Atlas when gathering evidence (for the report)
        if config.evidence:  # fails here, before any engine starts, when none is built
            from model.why.atlas import load_atlas, placer
            from model.why.neighbours import load_index

            _keras_threads(config.threads)
            self._index, self._placer = load_index(self.clf), placer(self.clf)
            self.atlas = load_atlas(self.clf)

    def _prepare_explanations(self, config: AuditConfig) -> None:
        from model.why.attribution import check

        _keras_threads(config.threads)
        method = None if config.explain == "default" else config.explain
        self.method, self.layer = check(self.clf, method, config.layer)

    # ------------------------------------------------------------ reading
    def _idx_image(self, file: Path, index: int) -> np.ndarray:
        from model.datasets import IMAGES_MAGIC, _read_idx

        key = str(file)
        if key not in self._idx:
            self._idx[key] = _read_idx(file, IMAGES_MAGIC)
        images = self._idx[key]
        if index >= len(images):
            raise AuditInputError(f"{file} holds {len(images)} images: there is no image {index}")
        return images[index]

    def _frame(self, path: str, k: int) -> np.ndarray:
        """Sampled frame k of a video, each video decoded once. A video that stops early
        (a file cut short) keeps the frames read before the decoder failed; the rows after
        them, or every row where none was read, say why."""
        if self._video is None or self._video[0] != path:
            frames: list[np.ndarray] = []
            error = None
            try:
                for _, _, rgb in video_frames(Path(path), self.config.fps):
                    frames.append(rgb)
            except Exception as exc:  # noqa: BLE001  (PyAV's own errors: an empty or broken file)
                error = video_error(exc)
            self._video = (path, frames, error)
        _, frames, error = self._video
        if k < len(frames):
            return frames[k]
        if error is not None and not frames:
            raise AuditInputError(f"the video cannot be read ({error})")
        if error is not None:
            raise AuditInputError(f"the video was cut short after {len(frames)} frames ({error})")
        raise ValueError(f"the video has {len(frames)} sampled frames, not {k + 1}")

    def source(self, path: str, frame: int) -> ImageInput:
        """One row -> the image as read: a file's path, an object's bytes, or pixels."""
        ref = idx_reference(path)
        if ref is not None:
            return self._idx_image(*ref)
        if frame != UNKNOWN:
            return self._frame(path, frame)
        if is_uri(path):
            return read_bytes(path)
        return path

    def model_input(self, path: str, frame: int, image: ImageInput | None = None) -> np.ndarray:
        """One row -> its model-format input (raises an error that says why not).
        image: the row's image where it was already read (`source`)."""
        image = self.source(path, frame) if image is None else image
        idx = isinstance(image, np.ndarray) and frame == UNKNOWN  # an IDX file's image
        if idx and self.clf.is_digit and self.clf.input_shape[:2] == image.shape:
            return image.astype(np.float32) / 255.0  # already in MNIST format
        return self.clf.preprocess(image)

    def _number(self, image: ImageInput) -> tuple[str | None, str, str | None]:
        """The row's image read as a written number: its text, verdict and refusal."""
        try:
            reading = self.clf.read_number(image)
        except DigitLensError as exc:
            return None, "not_a_digit", str(exc)
        return reading.text, reading.verdict, reading.refusal

    # ------------------------------------------------------------ the batch
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        frames = [int(f) for f in batch["frame"]]
        n = len(paths)
        out: dict[str, list] = {c: [None] * n for c in COLUMNS}
        out["path"], out["frame"] = paths, frames
        xs, rows = [], []
        t0 = time.perf_counter()
        numbers = {c: [None] * n for c in NUMBER_COLUMNS} if self.config.number else {}
        for i, (path, frame) in enumerate(zip(paths, frames, strict=True)):
            try:
                image = self.source(path, frame)
                if numbers and isinstance(image, (str, bytes)):
                    image = load_image(image)  # decoded once for the digit and the number
                xs.append(self.model_input(path, frame, image))
                rows.append(i)
            except Exception as exc:  # one bad input never stops the run
                out["error"][i] = _error_text(exc)
                continue
            if numbers:
                read = self._number(image)
                for c, v in zip(NUMBER_COLUMNS, read, strict=True):
                    numbers[c][i] = v
        for i in set(range(n)) - set(rows):
            out["label"][i], out["probability"][i], out["ood_score"][i] = UNKNOWN, np.nan, np.nan
        explain = {c: [None] * n for c in EXPLAIN_COLUMNS} if self.method else {}
        evidence = {c: [None] * n for c in EVIDENCE_COLUMNS} if self.config.evidence else {}
        t1 = time.perf_counter()
        self.seconds["read"] += t1 - t0
        if rows:
            x = np.stack(xs).astype(np.float32)
            predictions = self.clf.predict_inputs(x)
            for i, p in zip(rows, predictions, strict=True):
                out["label"][i] = p.label
                out["class_name"][i] = p.class_name
                out["probability"][i] = p.probability
                out["verdict"][i] = p.verdict
                out["ood_score"][i] = p.ood_score
                out["reason"][i] = p.reason
                out["top_k"][i] = json.dumps(
                    [t.to_dict() for t in self.clf.top(p, self.config.top_k)]
                )
            t2 = time.perf_counter()
            self.seconds["model"] += t2 - t1
            labels = np.array([p.label for p in predictions])
            if self.method:
                self._explain(x, labels, rows, explain)
            t3 = time.perf_counter()
            self.seconds["map"] += t3 - t2
            if self.config.evidence:
                self._evidence(x, labels, rows, evidence)
                self.seconds["evidence"] += time.perf_counter() - t3
        columns = {
            "path": np.array(paths, dtype=object),
            "frame": np.array(frames, np.int64),
            "label": np.array(out["label"], np.int64),
            "class_name": np.array(out["class_name"], dtype=object),
            "probability": np.array(out["probability"], np.float64),
            "verdict": np.array(out["verdict"], dtype=object),
            "ood_score": np.array(out["ood_score"], np.float64),
            "reason": np.array(out["reason"], dtype=object),
            "top_k": np.array(out["top_k"], dtype=object),
            "error": np.array(out["error"], dtype=object),
        }
        if "true_label" in batch:
            columns["true_label"] = np.asarray(batch["true_label"], np.int64)
        if explain:
            columns["method"] = np.array(explain["method"], dtype=object)
            columns["trust"] = np.array(
                [np.nan if t is None else t for t in explain["trust"]], np.float64
            )
            columns["trust_verdict"] = np.array(explain["trust_verdict"], dtype=object)
            columns["map"] = np.array(explain["map"], dtype=object)
        for c, values in numbers.items():
            columns[c] = np.array(values, dtype=object)
        if evidence:
            columns["embedding"] = np.array(evidence["embedding"], dtype=object)
            for name in ("atlas_x", "atlas_y", "lookalikes_agree"):
                columns[name] = np.array(
                    [np.nan if v is None else v for v in evidence[name]], np.float64
                )
        return columns

    def _evidence(
        self, x: np.ndarray, labels: np.ndarray, rows: list[int], out: dict[str, list]
    ) -> None:
        """The representation of every read input in one pass, then its atlas position
        and how many of its look-alikes agree with the answer."""
        from model.why.index import K
        from model.why.layers import features

        index = self._index
        points = index.reduce(features(self.clf.net, x, index.layer))
        xy = self._placer(points)
        nearest, _ = index.search(points, K)
        agree = (index.labels[nearest] == labels[:, None]).mean(1)
        for j, i in enumerate(rows):
            out["embedding"][i] = points[j].astype("<f4").tobytes()
            out["atlas_x"][i], out["atlas_y"][i] = float(xy[j, 0]), float(xy[j, 1])
            out["lookalikes_agree"][i] = float(agree[j])

    def _explain(
        self, x: np.ndarray, labels: np.ndarray, rows: list[int], out: dict[str, list]
    ) -> None:
        """Maps for every read input in one batched call, then their trust in another."""
        from model.why.attribution import compute_maps
        from model.why.trust import trust_batch

        maps = compute_maps(self.clf.net, x, self.method, self.layer, labels)
        trusts = trust_batch(
            self.clf.probabilities, x, maps, labels, perturbation=self.clf.perturbation
        )
        for i, m, t in zip(rows, maps, trusts, strict=True):
            out["method"][i] = self.method
            out["trust"][i] = t.score
            out["trust_verdict"][i] = t.verdict
            out["map"][i] = (np.clip(m, 0, 1) * 255).round().astype(np.uint8).tobytes()
