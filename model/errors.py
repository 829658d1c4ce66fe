"""One family of errors for the engine: callers catch what they mean.

    DigitLensError
    ├── ModelLoadError       a model cannot be found or used (ModelNotFoundError below it)
    ├── ImageError           an input cannot be read (BlankImageError, TooSmallError,
    │                        ModelInputError for an array the model cannot take, ...)
    ├── ExplanationError     a method or layer does not fit this model
    │   └── CounterfactualError   a counterfactual cannot be asked for (NoPriorError below it)
    └── EvidenceError        no look-alike index or atlas for this model

Each message is written for a person: it says what is wrong and, where it can,
what to do instead. None of them carries a stack trace to the user.
"""

from __future__ import annotations


class DigitLensError(Exception):
    """Base of every error the engine raises on purpose."""


class ModelLoadError(DigitLensError, ValueError):
    """The model file cannot be loaded or does not fit DigitLens' contract."""


class WeightsUnavailableError(ModelLoadError):
    """A Keras Applications model's ImageNet weights are not on this machine, and could
    not be downloaded (offline): `model`, the file's place in Keras' cache (`where`) and
    the environment variable that may name it instead (`env`), for a front end's words."""

    def __init__(self, message: str, model: str, where: str, env: str):
        super().__init__(message)
        self.model, self.where, self.env = model, where, env


class ModelNotFoundError(ModelLoadError, LookupError):
    """No bundled model of that name, and no such file."""


class PreprocessingMismatchError(ModelLoadError):
    """The preprocessing chosen for a model makes inputs of another shape than it takes."""


class ImageError(DigitLensError, ValueError):
    """The input cannot be used as an image; the message says why, for a person."""


class BlankImageError(ImageError):
    """The image holds no ink: nothing was drawn or written on it."""


class TooSmallError(BlankImageError):
    """The ink is a dot, a tap or a tiny mark: too small to read as anything.

    A kind of BlankImageError because every front end already treats "nothing to read"
    right (HTTP 422, no prediction, a skipped video frame); catch this to say more.
    """


class NoiseImageError(BlankImageError):
    """The image is random noise (every pixel unlike its neighbours): no strokes to read.

    A kind of BlankImageError for the same reason as TooSmallError: nothing to read.
    """


class ImageTooLargeError(ImageError):
    """The image has more pixels than allowed (a decompression bomb, or just huge)."""


class EmptyImageError(ImageError):
    """The input has no bytes at all."""


class ModelInputError(ImageError):
    """An array handed to the model as it is (`Classifier.predict_inputs`) cannot be
    one of its inputs: NaN or infinite values, or a digit model's values outside 0..1
    (an image's 0..255 levels not yet scaled). It was read all the same: a NaN pixel
    came back as "0, digit"."""


class ExplanationError(DigitLensError, ValueError):
    """The method or layer cannot be used with this model; the message says why."""


class EvidenceError(DigitLensError, ValueError):
    """Look-alikes, the atlas or the layer view cannot be given for this model (no index,
    a stale one, a data folder without images); the message says how to make one.

    `fact` is what is missing, `remedy` (where there is one) the command that makes it,
    which may name the model's file: a server says `fact` and keeps its paths."""

    def __init__(self, fact: str, remedy: str | None = None):
        super().__init__(fact if remedy is None else f"{fact}; {remedy}")
        self.fact, self.remedy = fact, remedy

    @classmethod
    def unreadable(cls, what: str, name: str, exc: Exception) -> EvidenceError:
        """`what` (`name`) could not be read, said without its folder: an OSError's own
        words name the whole path, which a server passes on to its clients."""
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return cls(f"cannot read {what} {name}: {why}")


class NoSuchDigitError(DigitLensError, ValueError):
    """A written number has no digit at the place asked for, or that mark was not read as
    a digit (it has no map and no edit); the message says which digits there are."""


class CounterfactualError(ExplanationError):
    """A counterfactual cannot be asked for: a target outside the classes, a model or an
    input the search cannot take. The message says why and what to do instead."""


class NoPriorError(CounterfactualError):
    """No generative prior for this model's data: realistic counterfactuals need one
    (`python -m training.prior --dataset ...`); the adversarial twin does not."""
