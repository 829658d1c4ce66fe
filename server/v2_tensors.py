"""The Open Inference Protocol's wire format (KServe v2 REST): a request read into its one
input `Tensor` and the outputs asked for, and an answer written back as JSON or as JSON plus
binary tensors (the binary tensor extension, `Inference-Header-Content-Length`, which
tritonclient uses by default). `server/v2.py` holds the routes."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.responses import JSONResponse

#: Header of the binary tensor extension: the length of the JSON part of the body.
HEADER_LENGTH = "Inference-Header-Content-Length"
INPUT_NAME = "image"
INPUT_SHAPE = (28, 28, 1)  # per instance
OUTPUTS = {"probabilities": "FP32", "label": "INT64", "verdict": "BYTES", "reason": "BYTES"}
#: An element of a batch that could not be read: its verdict, and its label.
UNREAD, NO_LABEL = "error", -1
DTYPES = {"FP32": np.float32, "INT64": np.int64}
#: The one version each model is served as.
VERSION = "1"


class V2Error(Exception):
    """A protocol error: `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def v2_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@dataclass(frozen=True)
class Tensor:
    """One input tensor of a request, decoded from JSON or the binary extension."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray | list[bytes]


async def read_request(request: Request) -> tuple[dict[str, Any], bytes]:
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
    except UnicodeDecodeError as exc:  # (before ValueError, which it is: Python's codec words)
        raise V2Error(
            400, "the request is not valid JSON: its text cannot be decoded (send UTF-8)"
        ) from exc
    except RecursionError as exc:  # (Python's words: "maximum recursion depth exceeded ...")
        raise V2Error(400, "the request is not valid JSON we read: nested too deeply") from exc
    except ValueError as exc:  # (json's words say where: "Expecting value: line 1 column 2")
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


def parse_input(doc: dict, binary: bytes) -> Tensor:
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


def requested_outputs(doc: dict) -> list[tuple[str, bool]]:
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


def response(
    doc: dict, model: str, outputs: list[tuple[str, bool]], values: dict[str, np.ndarray]
) -> Response:
    """The inference response, as JSON, or JSON plus binary tensors where asked."""
    body: dict[str, Any] = {"model_name": model, "model_version": VERSION, "outputs": []}
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
