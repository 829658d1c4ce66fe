"""`python -m server`: run the inference server with uvicorn.

Every flag has a DIGITLENS_* environment variable (flags win), e.g.
DIGITLENS_PORT=9000 DIGITLENS_MAX_BODY_BYTES=1000000 python -m server --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from model.classifier import PREPROCESSINGS, check_preprocessing
from model.errors import ModelLoadError
from model.runtime.backend import quiet_tensorflow
from model.runtime.runtimes import RUNTIMES, THREADS_ENV
from server.config import LOG_LEVELS, ServerConfig

#: The program named in --help and in errors (`python -m digitlens` passes its own).
PROG = "python -m server"


class WithDefaults(argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default, unless the help says its default in
    words already; an option set by its $DIGITLENS_* variable says that value (`from_env`)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        said = action.help or ""
        dest = action.dest
        variable = f"DIGITLENS_{'ALLOW_MODELS' if dest == 'allow_model' else dest.upper()}"
        if action.option_strings and variable in os.environ:  # (the words say the built-in)
            return f"{said} (now ${variable}: {os.environ[variable]})"
        if "default" in said.lower() or action.default in (None, "", argparse.SUPPRESS):
            return said
        return f"{said} (default: %(default)s)"


def parse_args(argv: list[str] | None = None, prog: str = PROG) -> ServerConfig:
    """The configuration; a setting no server can run with exits 2 with a message."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=WithDefaults)
    try:
        base = ServerConfig.from_env()
    except ValueError as exc:
        p.error(str(exc))
    p.add_argument("--host", default=base.host, help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=base.port, help="the port to listen on")
    p.add_argument(
        "--workers", type=int, default=base.workers, help="processes, each with its own models"
    )
    p.add_argument(
        "--default-model",
        default=base.default_model,
        help="the model of a request that names none (default: the first of --models)",
    )
    p.add_argument(
        "--models",
        default=",".join(base.models),
        help="comma-separated, loaded at start-up (default: the bundled ones)",
    )
    p.add_argument(
        "--allow-model",
        action="append",
        default=None,
        metavar="NAME",
        help="a model to load on its first request (a Keras Applications name such as "
        "mobilenet_v2); repeat or comma-separate. Default: only the --models",
    )
    p.add_argument(
        "--runtime",
        default=base.runtime,
        choices=RUNTIMES,
        help="the runtime of a request that names none",
    )
    p.add_argument(
        "--preprocessing",
        default=base.preprocessing,
        help="input scaling for non-bundled models instead of their card's: "
        + ", ".join(PREPROCESSINGS),
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=base.max_body_bytes,
        help="a request body over this many bytes gets 413",
    )
    p.add_argument(
        "--body-timeout-s",
        type=float,
        default=base.body_timeout_s,
        help="a request body that stops arriving for this long gets 408 (0: wait forever)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=base.max_pixels,
        help="an image of more pixels gets 413 (decompression bombs)",
    )
    p.add_argument(
        "--max-files",
        type=int,
        default=base.max_files,
        help="files (and as many other fields) one multipart request may hold; more: 400",
    )
    p.add_argument(
        "--batch-max-size",
        type=int,
        default=base.batch_max_size,
        help="the most requests one model call answers together",
    )
    p.add_argument(
        "--batch-max-wait-ms",
        type=float,
        default=base.batch_max_wait_ms,
        help="how long a request waits for others to share its model call",
    )
    p.add_argument(
        "--decode-concurrency",
        type=int,
        default=base.decode_concurrency,
        help="images each worker decodes at once",
    )
    p.add_argument(
        "--log-level",
        default=base.log_level,
        type=str.lower,
        choices=LOG_LEVELS,
        help="uvicorn's and the server's",
    )
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=base.access_log,
        help="log a line per request: client, method, path, status, at --log-level info "
        "or debug (default: off; "
        "/metrics counts requests by route and status either way)",
    )
    p.add_argument(
        "--warm-up",
        action=argparse.BooleanOptionalAction,
        default=base.warm_up,
        help="trace the maps and counterfactual searches before the server is ready: the "
        "first /v1/explain and /v1/counterfactual answer at once instead of after ~5 s, "
        "at the cost of TensorFlow's memory in every worker (~1 GB; default: off)",
    )
    args = vars(p.parse_args(argv))
    args["models"] = tuple(m for m in args["models"].split(",") if m)
    allowed = args.pop("allow_model")
    if allowed is not None:  # flags replace $DIGITLENS_ALLOW_MODELS
        args["allow_models"] = tuple(m for a in allowed for m in a.split(",") if m)
    try:
        cfg = dataclasses.replace(base, **args)
    except ValueError as exc:
        p.error(str(exc))
    for name in dict.fromkeys((cfg.default_name, *cfg.models)):
        problem = unknown_model(name)
        if problem:
            p.error(f"--models / --default-model: {problem}")
    for name in cfg.allow_models:  # (they load later, on a request: a typo is said now)
        problem = unknown_model(name)
        if problem:
            p.error(f"--allow-model: {problem}")
    try:  # (the loader's own check: it takes "Caffe" and "TF" too)
        check_preprocessing(cfg.preprocessing or None)
    except ModelLoadError as exc:
        p.error(f"--preprocessing: {exc}")
    return cfg


def unknown_model(name: str) -> str | None:
    """Why `name` names no model this server could load, or None (a bundled name, an
    existing `.keras` file, or a Keras Applications name): a typo stops the start-up,
    where it was a line in the log and a server without the model."""
    from model.errors import ModelLoadError, ModelNotFoundError
    from model.runtime.applications import is_application
    from model.runtime.artifacts import resolve

    try:
        resolve(name)
    except ModelNotFoundError as exc:
        return None if is_application(name) else str(exc)
    except ModelLoadError as exc:  # a .keras file whose card is broken, say
        return str(exc)
    return None


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    import uvicorn

    from server.protocol import OneWriteHttpToolsProtocol

    cfg = parse_args(argv, prog)
    # Workers are separate processes: they read the configuration from the environment.
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        os.environ[f"DIGITLENS_{f.name.upper()}"] = (
            ",".join(value) if isinstance(value, tuple) else str(value)
        )
    # Each worker's ONNX batch session gets its share of the cores, not all of them.
    os.environ.setdefault(THREADS_ENV, str(max(1, (os.cpu_count() or 1) // cfg.workers)))
    quiet_tensorflow()  # only /v1/explain loads TensorFlow: errors only, no banner
    config = {
        "app": "server.main:create_app",
        "factory": True,
        "host": cfg.host,
        "port": cfg.port,
        "log_level": cfg.log_level.lower(),
        "access_log": cfg.access_log,
        "http": OneWriteHttpToolsProtocol,  # each response in one write (server/protocol.py)
    }
    if cfg.workers > 1:
        # Each worker binds the port itself (SO_REUSEPORT): the kernel spreads the
        # connections evenly, which uvicorn's one shared socket does not (server/workers.py).
        from server.workers import run_workers

        return run_workers(cfg.workers, config)
    uvicorn.run(**config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
