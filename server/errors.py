"""Every error leaves the server as JSON `{"error": {"code", "message"}}`, never a traceback."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import abc
from types import UnionType
from typing import Union, get_args, get_origin

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from model.errors import (
    BlankImageError,
    EmptyImageError,
    ImageError,
    ImageTooLargeError,
    TooSmallError,
)
from server import schemas

log = logging.getLogger("digitlens.server")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers

    @property
    def detail_model(self) -> schemas.ErrorDetail:
        return schemas.ErrorDetail(code=self.code, message=self.message)


def image_error(exc: ImageError) -> ApiError:
    """An input the engine cannot read, as the status and code every route answers.

    Its traceback's finished frames are cleared: they hold the decoded image (a 50 MP
    one: hundreds of MB), and the exception sits in a reference cycle through the thread
    pool's frames that only the cyclic GC frees, so each refused request kept its image
    (/v1/read: +200 MB per request) until a collection happened to run."""
    traceback.clear_frames(exc.__traceback__)
    if isinstance(exc, TooSmallError):
        return ApiError(422, "too_small", str(exc))
    if isinstance(exc, BlankImageError):
        return ApiError(422, "blank_image", str(exc))
    if isinstance(exc, ImageTooLargeError):
        return ApiError(413, "image_too_large", str(exc))
    if isinstance(exc, EmptyImageError):
        return ApiError(400, "empty_body", str(exc))
    return ApiError(400, "not_an_image", str(exc))


def known_parameters(request: Request) -> None:
    """Refuse a query parameter the route does not take, or one given twice (a router
    dependency of every `/v1` and `/v2` route): `/v1/explain?runtime=onnx-int8` was
    answered on the default runtime, as if the client had been heard, because FastAPI
    drops parameters it does not know; `?model=a&model=b` was answered by b alone."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = list(dict.fromkeys(_query_names(dependant)))
    named = list(dict.fromkeys(request.query_params))
    unknown = [k for k in named if k not in known]
    if unknown:
        takes = f"it takes: {', '.join(known)}" if known else "it takes none"
        raise ApiError(
            422,
            "unknown_parameter",
            f"{request.url.path} has no parameter {', '.join(map(repr, unknown))}; {takes}",
        )
    many = set(_query_names(dependant, lists=True))  # (`?layer=a&layer=b`: a list)
    twice = [k for k in named if k not in many and len(request.query_params.getlist(k)) > 1]
    if twice:
        raise ApiError(
            422,
            "repeated_parameter",
            f"{', '.join(map(repr, twice))} given more than once; give each parameter once",
        )


def _query_names(dependant, lists: bool = False) -> list[str]:
    """The query parameters a route's function and its dependencies declare (`lists`:
    only those that take a list, given once per item)."""
    names = [
        p.alias for p in dependant.query_params if not lists or _takes_list(p.field_info.annotation)
    ]
    for sub in dependant.dependencies:
        names += _query_names(sub, lists)
    return names


def _takes_list(annotation) -> bool:
    """Whether a parameter's annotation is a list of values (or that or None): list,
    tuple, set, frozenset, or a Sequence (but a str)."""
    if get_origin(annotation) in (Union, UnionType):
        return any(map(_takes_list, get_args(annotation)))
    kind = get_origin(annotation) or annotation
    many = (list, tuple, set, frozenset, abc.Sequence, abc.Set)
    return isinstance(kind, type) and issubclass(kind, many) and not issubclass(kind, str | bytes)


#: The status recorded for a request whose client left before it was read (nginx's 499):
#: not a server error in the metrics, and never sent (nobody is listening).
CLIENT_CLOSED = 499
#: Routes of the Open Inference Protocol, whose errors are `{"error": "<message>"}`.
V2_PREFIX = "/v2"


def error_response(
    status: int, code: str, message: str, path: str = "", headers: dict | None = None
) -> JSONResponse:
    """Our `/v1` error body, or the Open Inference Protocol's for `/v2` paths."""
    if path == V2_PREFIX or path.startswith(V2_PREFIX + "/"):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


#: An answer given before the body was read whole ends its connection: what is left of
#: the body would be read as the next request, and a client that kept sending a byte now
#: and then held the connection open for good (uvicorn's keep-alive timer stops).
CLOSE = {"Connection": "close"}


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        message = f"the request body is over the limit of {limit:,} bytes"
        super().__init__(413, "body_too_large", message, CLOSE)


class BodyStalled(ApiError):
    def __init__(self, seconds: float):
        super().__init__(
            408,
            "request_timeout",
            f"the request body stopped arriving: nothing for {seconds:g} s",
            CLOSE,
        )


class BodyLimit:
    """ASGI middleware: refuse bodies over `max_bytes`, by header or while streaming,
    compressed bodies (Content-Encoding), which no route reads, and bodies that stop
    arriving for `timeout_s` (a client that sends a length and then nothing held its
    request, and the memory of what it had sent, for as long as it kept the connection)."""

    def __init__(self, app, max_bytes: int, timeout_s: float | None = None):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            err = BodyTooLarge(self.max_bytes)
            path = scope.get("path", "")
            response = error_response(err.status, err.code, err.message, path, err.headers)
            return await response(scope, receive, send)
        coding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        if coding not in ("", "identity"):  # (a gzip body was read as JSON: a misleading 400)
            message = f"a body with Content-Encoding {coding!r} is not read: send it uncompressed"
            response = error_response(415, "unsupported_encoding", message, scope.get("path", ""))
            return await response(scope, receive, send)
        seen, whole = 0, False

        async def limited():
            nonlocal seen, whole
            if whole or not self.timeout_s:  # (once the body is in, receive waits for the
                message = await receive()  # client to leave: no deadline on that)
            else:
                try:
                    async with asyncio.timeout(self.timeout_s):
                        message = await receive()
                except TimeoutError:
                    raise BodyStalled(self.timeout_s) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                whole = not message.get("more_body", False)
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)  # chunked bodies with no length
            return message

        await self.app(scope, limited, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, request.url.path, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(  # (its headers too: a 405's Allow)
            exc.status_code, code, str(exc.detail), request.url.path, exc.headers
        )

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect):
        # The client left mid-upload: nobody to answer, and no fault of the server's.
        log.info("client disconnected before its request was read: %s", request.url.path)
        return Response(status_code=CLIENT_CLOSED)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error_response(422, "invalid_request", msg, request.url.path)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error")  # the trace goes to the log, not to the client
        message = "unexpected server error; see the log"
        return error_response(500, "internal_error", message, request.url.path)
