"""Server settings: a frozen dataclass with defaults, overridden by DIGITLENS_* variables
and then by command-line flags. Nothing here does work at import."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace

from model.input.decode import MAX_PIXELS
from model.runtime.artifacts import BUNDLED

#: uvicorn's log levels.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback only unless asked otherwise
    port: int = 8000
    workers: int = 1
    #: What a request that names no model gets ("": the first of `models`); served
    #: besides `models` where it is not one of them.
    default_model: str = ""
    models: tuple[str, ...] = BUNDLED  # loaded at start-up
    #: Models loaded on first request (`?model=mobilenet_v2`), besides `models`: a server
    #: serves only what its operator named, never whatever a request asks for.
    allow_models: tuple[str, ...] = ()
    runtime: str = "auto"  # loaded at start-up; others (`?runtime=onnx-int8`) on first use
    #: Input scaling for the models that are not bundled (`.keras` files, Keras
    #: Applications), instead of their card's: 0-1, 0-255, -1-1, caffe, torch ("": the card's).
    preprocessing: str = ""
    max_body_bytes: int = 8 * 2**20  # a request body above this gets 413
    body_timeout_s: float = 30.0  # a body with nothing new for this long gets 408 (0: none)
    max_pixels: int = MAX_PIXELS  # an image above this gets 413; the library's one default
    max_files: int = 64  # files in one multipart request
    batch_max_size: int = 64  # requests answered by one model call
    batch_max_wait_ms: float = 2.0  # how long the first request waits for company
    decode_concurrency: int = 2  # images decoded at once (bounds memory: ~0.4 GB each at 50 MP)
    log_level: str = "info"
    access_log: bool = False  # a line per request (uvicorn's); /metrics counts them either way
    #: Trace the digit models' maps and counterfactual searches before the server is
    #: ready, so no first request waits seconds for them (server.models.warm_up).
    warm_up: bool = False

    def __post_init__(self) -> None:
        """Refuse a setting no server can run with, in words (a negative or NaN deadline
        refused every body that came in two pieces, or answered 500)."""
        for name in (
            "workers",
            "max_body_bytes",
            "max_pixels",
            "max_files",
            "batch_max_size",
            "decode_concurrency",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{_setting(name)} must be a whole number >= 1, not {value!r}")
        for name in ("batch_max_wait_ms", "body_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{_setting(name)} must be a number >= 0, not {value!r}")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"{_setting('port')} must be 0 to 65535, not {self.port!r}")
        if not self.models and not self.default_model:
            raise ValueError(f"{_setting('models')} names no model")
        if self.log_level.lower() not in LOG_LEVELS:
            raise ValueError(
                f"{_setting('log_level')} must be one of {', '.join(LOG_LEVELS)}, "
                f"not {self.log_level!r}"
            )

    @property
    def default_name(self) -> str:
        """The model a request that names none gets: `default_model`, else the first of
        `models` (resolved here, not stored: a copy with other `models` follows them)."""
        return self.default_model or self.models[0]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServerConfig:
        """Defaults overridden by DIGITLENS_<FIELD> variables (e.g. DIGITLENS_PORT=9000)."""
        env = os.environ if environ is None else environ
        changes = {}
        for f in fields(cls):
            raw = env.get(f"DIGITLENS_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls, f.name)
            if isinstance(default, bool):
                if raw.strip().lower() not in TRUTH:
                    raise ValueError(
                        f"DIGITLENS_{f.name.upper()}={raw!r} is not one of {', '.join(TRUTH)}"
                    )
                changes[f.name] = TRUTH[raw.strip().lower()]
            elif isinstance(default, tuple):
                changes[f.name] = tuple(v.strip() for v in raw.split(",") if v.strip())
            else:
                try:
                    changes[f.name] = type(default)(raw)
                except ValueError:
                    raise ValueError(
                        f"DIGITLENS_{f.name.upper()}={raw!r} is not a number"
                    ) from None
        return replace(cls(), **changes)


#: How a yes/no setting may be written in the environment.
TRUTH = {"1": True, "true": True, "yes": True, "on": True}
TRUTH |= {"0": False, "false": False, "no": False, "off": False}


def _setting(name: str) -> str:
    """A setting as a person sets it: its flag and its variable."""
    return f"--{name.replace('_', '-')} (DIGITLENS_{name.upper()})"
