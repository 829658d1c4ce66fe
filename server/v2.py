"""The Open Inference Protocol (KServe v2 REST), beside our own `/v1` API.

Any v2 client (tritonclient, KServe's client, perf_analyzer) can talk to the
server. A model takes one input, either

- `image`: FP32 `[N, 28, 28, 1]`, already in model format (white ink on black,
  values in [0, 1]), or
- any name with datatype BYTES, shape `[N]`: encoded images (PNG, JPEG, ...),
  which our preprocessing turns into model format first. With the binary tensor
  extension the elements are the raw file bytes; in plain JSON, base64 strings,

and answers `probabilities` (FP32 `[N, 10]`), `label` (INT64 `[N]`), and `verdict` and
`reason` (BYTES `[N]`: whether to believe each answer, as `/v1` says it). One image that
cannot be read is a 4xx error; in a batch of encoded images, each such element is answered
in its place (`verdict` "error", `reason` the message, `label` -1, `probabilities` zeros)
and the others are read, as `/v1`'s multipart forms answer per file. The binary tensor
extension works both ways (`server/v2_tensors.py`: the wire format). Errors are
`{"error": "..."}` with a 4xx status, as the protocol says. `?runtime=onnx-int8` picks a
runtime, as on `/v1`.
"""

from __future__ import annotations

import asyncio
from functools import partial

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from model import Prediction
from model.errors import ImageError
from model.runtime.applications import is_application
from model.runtime.runtimes import RUNTIMES
from server.errors import ApiError, image_error, known_parameters
from server.models import Served
from server.routes import preprocess_upload, served_runtime, with_reason
from server.v2_tensors import (
    INPUT_NAME,
    INPUT_SHAPE,
    NO_LABEL,
    UNREAD,
    VERSION,
    Tensor,
    V2Error,
    parse_input,
    read_request,
    requested_outputs,
    response,
    v2_error,
)

router = APIRouter(prefix="/v2", tags=["Open Inference Protocol (v2)"])
#: The model routes refuse a query parameter they do not take, as /v1's do; the health
#: probes and the server's metadata take any (a prober's cache-busting `?x=1`).
STRICT = [Depends(known_parameters)]

#: Instances in one request (FP32: 1024 x 3 KB; the body limit also applies).
MAX_BATCH = 1024
PROTOCOL_EXTENSIONS = ["binary_tensor_data"]
RUNTIME_QUERY = Query(None, description=f"one of: {', '.join(RUNTIMES)}")


def _version(request: Request) -> str | None:
    """The `/versions/{version}` of a route's path, None on the routes without it (a
    parameter of the function, it was a query parameter there: `?version=2` was taken,
    and a typo was told "it takes: version, runtime")."""
    return request.path_params.get("version")


async def _served(
    request: Request, name: str, runtime: str | None, version: str | None = None
) -> Served:
    """A served 28x28 digit model (the tensors below are [N, 28, 28, 1]); photo models
    (Keras Applications, own RGB files) answer on /v1 only. Each model has one version,
    VERSION: any other is a 404 (versions 7 and "banana" were answered as version 1)."""
    if version is not None and version != VERSION:
        raise V2Error(404, f"{name!r} has version {VERSION} only, not {version!r}")
    only_v1 = f"{name!r} is not a 28x28 digit model; /v2 serves those only, use /v1/predict"
    if name not in request.app.state.models and is_application(name):
        raise V2Error(404, only_v1)  # not loaded just to be refused
    try:
        served = await served_runtime(request, name, runtime)
    except ApiError as exc:
        raise V2Error(exc.status, exc.message) from exc
    if not served.clf.is_digit:
        raise V2Error(404, only_v1)
    return served


# ---------------------------------------------------------------- health and metadata


@router.get("/health/live", summary="Server liveness (v2)")
async def live():
    return {"live": True}


@router.get("/health/ready", summary="Server readiness (v2)")
async def ready(request: Request):
    served = request.app.state.models
    ok = bool(served) and all(s.batcher.running for s in served.values())
    return JSONResponse({"ready": ok}, status_code=200 if ok else 503)


@router.get("", summary="Server metadata (v2)")
async def server_metadata(request: Request):
    return {
        "name": "digitlens",
        "version": request.app.version,
        "extensions": PROTOCOL_EXTENSIONS,
    }


@router.get("/models/{name}", summary="Model metadata (v2)", dependencies=STRICT)
@router.get("/models/{name}/versions/{version}", include_in_schema=False, dependencies=STRICT)
async def model_metadata(request: Request, name: str, runtime: str | None = RUNTIME_QUERY):
    try:
        clf = (await _served(request, name, runtime, _version(request))).clf
    except V2Error as exc:
        return v2_error(exc.status, exc.message)
    return {
        "name": clf.name,
        "versions": [VERSION],
        "platform": "onnxruntime_onnx" if clf.runtime.name.startswith("onnx") else "tensorflow",
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, *INPUT_SHAPE]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(clf.class_names)]},
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "verdict", "datatype": "BYTES", "shape": [-1]},
            {"name": "reason", "datatype": "BYTES", "shape": [-1]},
        ],
        "parameters": {"class_names": list(clf.class_names), "runtime": clf.runtime.name},
    }


@router.get("/models/{name}/ready", summary="Model readiness (v2)", dependencies=STRICT)
@router.get("/models/{name}/versions/{version}/ready", include_in_schema=False, dependencies=STRICT)
async def model_ready(request: Request, name: str, runtime: str | None = RUNTIME_QUERY):
    try:
        served = await _served(request, name, runtime, _version(request))
    except V2Error as exc:
        return v2_error(exc.status, exc.message)
    ok = served.batcher.running
    return JSONResponse({"name": name, "ready": ok}, status_code=200 if ok else 503)


# ---------------------------------------------------------------- inference


async def _read_all(
    request: Request, served: Served, t: Tensor, reasons: bool = True
) -> list[Prediction | str]:
    """Each instance's Prediction, or, for an encoded image that cannot be read in a batch of
    several, its error message (one image alone: the V2Error itself, a 4xx). Every input is
    made first and submitted at once: they share the batcher's calls. reasons: whether the
    client asked for them (a non-digit's reason looks at its image again for a number,
    `with_reason`: 5x the time of a batch of scribbles that asked for labels only)."""
    if t.datatype == "FP32":
        x = np.asarray(t.data, np.float32).reshape(-1, 28, 28)
        return [r.value for r in await asyncio.gather(*map(served.batcher.submit, x))]

    async def made(i: int, data: bytes) -> np.ndarray | str:
        try:
            return (await preprocess_upload(request, served.clf, data)).x
        except ImageError as exc:
            err = image_error(exc)
            if len(t.data) == 1:
                raise V2Error(err.status, f"input {t.name!r}, element {i}: {exc}") from exc
            return f"{err.code}: {exc}"

    async def answer(data: bytes, x: np.ndarray | str) -> Prediction | str:
        if isinstance(x, str):
            return x
        pred = (await served.batcher.submit(x)).value  # its verdict is decided in the batch
        return await with_reason(request, served.clf, data, pred) if reasons else pred

    xs = await asyncio.gather(*(made(i, d) for i, d in enumerate(t.data)))
    return list(await asyncio.gather(*map(answer, t.data, xs)))


@router.post("/models/{name}/infer", summary="Inference (v2)", dependencies=STRICT)
@router.post(
    "/models/{name}/versions/{version}/infer", include_in_schema=False, dependencies=STRICT
)
async def infer(request: Request, name: str, runtime: str | None = RUNTIME_QUERY):
    try:
        served = await _served(request, name, runtime, _version(request))
        doc, binary = await read_request(request)
        tensor = parse_input(doc, binary)
        outputs = requested_outputs(doc)
        n = tensor.shape[0]
        if n == 0 or n > MAX_BATCH:
            raise V2Error(400, f"send 1 to {MAX_BATCH} instances, not {n}")
        reasons = any(name == "reason" for name, _ in outputs)
        answers = await _read_all(request, served, tensor, reasons)
    except V2Error as exc:
        return v2_error(exc.status, exc.message)
    return response(doc, served.clf.name, outputs, _values(answers, len(served.clf.class_names)))


def _values(answers: list[Prediction | str], classes: int) -> dict[str, np.ndarray]:
    """The output tensors of N answers (an unread element: zeros, NO_LABEL, UNREAD)."""
    probs = np.zeros((len(answers), classes), np.float32)
    label = np.full(len(answers), NO_LABEL, np.int64)
    verdict, reason = [], []
    for i, a in enumerate(answers):
        if isinstance(a, str):
            verdict.append(UNREAD)
            reason.append(a)
            continue
        probs[i], label[i] = a.probabilities, a.label
        verdict.append(a.verdict)
        reason.append(a.reason or "")
    as_bytes = partial(np.array, dtype=np.object_)
    return {
        "probabilities": probs,
        "label": label,
        "verdict": as_bytes([v.encode() for v in verdict]),
        "reason": as_bytes([r.encode() for r in reason]),
    }
