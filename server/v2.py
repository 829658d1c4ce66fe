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
and the others are read, as `/v1`'s multipart forms answer per file. The
binary tensor extension (`Inference-Header-Content-Length`) works both ways, as
tritonclient uses it by default. Errors are `{"error": "..."}` with a 4xx status,
as the protocol says. `?runtime=onnx-int8` picks a runtime, as on `/v1`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import struct
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from model import Prediction
from model.errors import ImageError
from model.runtime.applications import is_application
from model.runtime.runtimes import RUNTIMES
from server.errors import ApiError, image_error
from server.models import Served
from server.routes import preprocess_upload, served_runtime, with_reason

router = APIRouter(prefix="/v2", tags=["Open Inference Protocol (v2)"])

#: Header of the binary tensor extension: the length of the JSON part of the body.
HEADER_LENGTH = "Inference-Header-Content-Length"
INPUT_NAME = "image"
INPUT_SHAPE = (28, 28, 1)  # per instance
OUTPUTS = {"probabilities": "FP32", "label": "INT64", "verdict": "BYTES", "reason": "BYTES"}
#: An element of a batch that could not be read: its verdict, and its label.
UNREAD, NO_LABEL = "error", -1
#: Instances in one request (FP32: 1024 x 3 KB; the body limit also applies).
MAX_BATCH = 1024
DTYPES = {"FP32": np.float32, "INT64": np.int64}
PROTOCOL_EXTENSIONS = ["binary_tensor_data"]
RUNTIME_QUERY = Query(None, description=f"one of: {', '.join(RUNTIMES)}")


class V2Error(Exception):
    """A protocol error: `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def v2_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


#: The one version each model is served as.
VERSION = "1"


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


@router.get("/models/{name}", summary="Model metadata (v2)")
@router.get("/models/{name}/versions/{version}", include_in_schema=False)
async def model_metadata(
    request: Request, name: str, version: str | None = None, runtime: str | None = RUNTIME_QUERY
):
    try:
        clf = (await _served(request, name, runtime, version)).clf
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


@router.get("/models/{name}/ready", summary="Model readiness (v2)")
@router.get("/models/{name}/versions/{version}/ready", include_in_schema=False)
async def model_ready(
    request: Request, name: str, version: str | None = None, runtime: str | None = RUNTIME_QUERY
):
    try:
        served = await _served(request, name, runtime, version)
    except V2Error as exc:
        return v2_error(exc.status, exc.message)
    ok = served.batcher.running
    return JSONResponse({"name": name, "ready": ok}, status_code=200 if ok else 503)


# ---------------------------------------------------------------- inference


@dataclass(frozen=True)
class Tensor:
    """One input tensor of a request, decoded from JSON or the binary extension."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray | list[bytes]


async def _read_request(request: Request) -> tuple[dict[str, Any], bytes]:
    """(the JSON part, the binary part) of an inference request body."""
    body = await request.body()
    header = request.headers.get(HEADER_LENGTH)
    if header is None:
        json_part, binary = body, b""
    else:
        if not header.isdigit() or int(header) > len(body):
            raise V2Error(400, f"{HEADER_LENGTH} must be a length within the body")
        json_part, binary = body[: int(header)], body[int(header) :]
    try:
        doc = json.loads(json_part)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # (nested past the stack)
        raise V2Error(400, f"the request is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise V2Error(400, "the request must be a JSON object with an 'inputs' list")
    return doc, binary


def _params(obj: dict, where: str) -> dict:
    """`obj`'s `parameters` (an object, or absent)."""
    params = obj.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise V2Error(400, f"{where}: 'parameters' must be an object")
    return params


def _shape(spec: dict) -> tuple[int, ...]:
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise V2Error(400, f"input {spec.get('name')!r}: 'shape' must be a list of sizes")
    return tuple(shape)


def _bytes_elements(raw: bytes, name: str) -> list[bytes]:
    """The BYTES elements of a binary tensor: each a 4-byte little-endian length, then data."""
    out, i = [], 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise V2Error(400, f"input {name!r}: truncated BYTES element")
        (n,) = struct.unpack_from("<I", raw, i)
        if i + 4 + n > len(raw):
            raise V2Error(400, f"input {name!r}: truncated BYTES element")
        out.append(raw[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def _parse_input(doc: dict, binary: bytes) -> Tensor:
    inputs = doc["inputs"]
    if len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise V2Error(
            400, f"send exactly one input ({INPUT_NAME!r} FP32, or encoded images as BYTES)"
        )
    spec = inputs[0]
    name, datatype, shape = str(spec.get("name", "")), spec.get("datatype"), _shape(spec)
    size = _params(spec, f"input {name!r}").get("binary_data_size")
    if size is not None and (not isinstance(size, int) or size != len(binary)):
        raise V2Error(400, f"input {name!r}: binary_data_size does not match the body")
    if datatype == "FP32":
        if len(shape) != 4 or shape[1:] != INPUT_SHAPE:
            raise V2Error(
                400,
                f"input {name!r}: FP32 shape must be [N, 28, 28, 1] (model format), "
                f"got {list(shape)}",
            )
        count = int(np.prod(shape))
        if size is not None:
            if size != count * 4:
                raise V2Error(400, f"input {name!r}: {size} bytes do not fill shape {list(shape)}")
            x = np.frombuffer(binary, dtype="<f4")
        else:
            try:
                x = np.asarray(spec.get("data"))
            except (TypeError, ValueError) as exc:  # ragged lists
                raise V2Error(400, f"input {name!r}: 'data' must be numbers") from exc
            if x.dtype.kind not in "iuf":  # (not strings, booleans, null or nested objects)
                raise V2Error(400, f"input {name!r}: 'data' must be numbers")
            with np.errstate(over="ignore"):  # (1e39 becomes inf, refused below: no warning)
                x = x.astype(np.float32).reshape(-1)
            if x.size != count:
                raise V2Error(
                    400, f"input {name!r}: {x.size} values do not fill shape {list(shape)}"
                )
        x = x.reshape(shape)
        if not (np.isfinite(x).all() and x.min(initial=0) >= 0 and x.max(initial=0) <= 1):
            raise V2Error(400, f"input {name!r}: values must be finite, in 0..1 (model format)")
        return Tensor(name, datatype, shape, x)
    if datatype == "BYTES":
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise V2Error(400, f"input {name!r}: BYTES shape must be [N], got {list(shape)}")
        if size is not None:
            items = _bytes_elements(binary, name)
        else:
            data = spec.get("data")
            if not isinstance(data, list) or not all(isinstance(d, str) for d in data):
                raise V2Error(400, f"input {name!r}: BYTES data in JSON must be base64 strings")
            try:
                items = [base64.b64decode(d, validate=True) for d in data]
            except (binascii.Error, ValueError) as exc:
                raise V2Error(
                    400, f"input {name!r}: BYTES data in JSON must be base64 strings"
                ) from exc
        if len(items) != shape[0]:
            raise V2Error(400, f"input {name!r}: {len(items)} elements for shape {list(shape)}")
        return Tensor(name, datatype, shape, items)
    raise V2Error(
        400,
        f"input {name!r}: datatype must be FP32 (model format) or BYTES (encoded images), "
        f"not {datatype!r}",
    )


def _requested_outputs(doc: dict) -> list[tuple[str, bool]]:
    """[(output name, as binary)], from `outputs` (default: all) and `binary_data_output`."""
    default_binary = bool(_params(doc, "the request").get("binary_data_output", False))
    wanted = doc.get("outputs")
    if not wanted:
        return [(n, default_binary) for n in OUTPUTS]
    out = []
    for o in wanted:
        name = o.get("name") if isinstance(o, dict) else None
        if name not in OUTPUTS:
            raise V2Error(400, f"unknown output {name!r}; outputs: {', '.join(OUTPUTS)}")
        binary = _params(o, f"output {name!r}").get("binary_data", default_binary)
        out.append((name, bool(binary)))
    return out


async def _read_all(request: Request, served: Served, t: Tensor) -> list[Prediction | str]:
    """Each instance's Prediction, or, for an encoded image that cannot be read in a batch of
    several, its error message (one image alone: the V2Error itself, a 4xx). Every input is
    made first and submitted at once: they share the batcher's calls."""
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
        return await with_reason(request, served.clf, data, pred)

    xs = await asyncio.gather(*(made(i, d) for i, d in enumerate(t.data)))
    return list(await asyncio.gather(*map(answer, t.data, xs)))


@router.post("/models/{name}/infer", summary="Inference (v2)")
@router.post("/models/{name}/versions/{version}/infer", include_in_schema=False)
async def infer(
    request: Request, name: str, version: str | None = None, runtime: str | None = RUNTIME_QUERY
):
    try:
        served = await _served(request, name, runtime, version)
        doc, binary = await _read_request(request)
        tensor = _parse_input(doc, binary)
        outputs = _requested_outputs(doc)
        n = tensor.shape[0]
        if n == 0 or n > MAX_BATCH:
            raise V2Error(400, f"send 1 to {MAX_BATCH} instances, not {n}")
        answers = await _read_all(request, served, tensor)
    except V2Error as exc:
        return v2_error(exc.status, exc.message)
    return _response(doc, served, outputs, _values(answers, len(served.clf.class_names)))


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


def _response(
    doc: dict, served: Served, outputs: list[tuple[str, bool]], values: dict[str, np.ndarray]
) -> Response:
    """The inference response, as JSON, or JSON plus binary tensors where asked."""
    body: dict[str, Any] = {"model_name": served.clf.name, "model_version": VERSION, "outputs": []}
    if "id" in doc:
        body["id"] = doc["id"]
    chunks = []
    for name, binary in outputs:
        v = values[name]
        out: dict[str, Any] = {"name": name, "datatype": OUTPUTS[name], "shape": list(v.shape)}
        if binary:
            raw = _raw(v, OUTPUTS[name])
            out["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif OUTPUTS[name] == "BYTES":
            out["data"] = [b.decode() for b in v]  # (UTF-8 text: JSON strings as they are)
        else:
            out["data"] = v.reshape(-1).tolist()
        body["outputs"].append(out)
    header = json.dumps(body).encode()
    if not chunks:
        return Response(header, media_type="application/json")
    return Response(
        header + b"".join(chunks),
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(header))},
    )


def _raw(v: np.ndarray, datatype: str) -> bytes:
    """A tensor in the binary extension: little-endian numbers, or for BYTES each element
    as its 4-byte little-endian length, then its bytes."""
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(b)) + b for b in v)
    return v.astype(np.dtype(DTYPES[datatype]).newbyteorder("<")).tobytes()
