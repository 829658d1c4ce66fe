"""POST /v1/read: a written number, digit by digit (`Classifier.read_number`), and with
`explain=true` each digit's map with its trust (`model.number.explain_digits`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from model.errors import ExplanationError, ImageError
from model.number import explain_digits
from model.why.attribution import METHODS, check
from model.why.report import Report
from server import schemas
from server.errors import ApiError, image_error, known_parameters
from server.routes import (
    ERRORS,
    MODEL_QUERY,
    RUNTIME_QUERY,
    decoding,
    read_images,
    served_runtime,
)
from server.schemas import png_base64

router = APIRouter(dependencies=[Depends(known_parameters)])


class DigitMap(BaseModel):
    """One digit's map, drawn over that digit's own ink, with its trust score."""

    method: str
    layer: str | None
    target: int = Field(description="the class explained: this digit's answer")
    empty: bool = Field(description="no positive evidence: the map is all zero")
    summary: str
    resolution: str = Field(description="e.g. '7x7 map, upsampled'")
    trust: schemas.Trust | None = Field(description="null: not measured for this model")
    heatmap: list[list[float]] = Field(description="(28, 28) values in [0, 1] on its input")
    overlay_png_base64: str = Field(description="the map over the digit's own ink, PNG")


class NumberDigit(BaseModel):
    box: list[int] = Field(description="(x0, y0, x1, y1) of this digit in the image's pixels")
    touching: bool = Field(description="cut out of ink it shares with a neighbour")
    error: str | None = Field(None, description="why this mark could not be read")
    label: int | None = None
    class_name: str | None = None
    probability: float | None = None
    probabilities: list[float] | None = None
    verdict: str | None = Field(None, description="digit, unsure or not_a_digit")
    ood_score: float | None = None
    reason: str | None = None
    map: DigitMap | None = Field(None, description="with explain=true; null for a mark not read")


class NumberReading(BaseModel):
    model: str
    text: str | None = Field(
        description='the number, an unsure digit followed by "?" ("4?2"); null when refused'
    )
    verdict: str = Field(description="digit (every digit is one), unsure, or not_a_digit")
    refusal: str | None = Field(description="why there is no number, in words")
    digits: list[NumberDigit] = Field(description="left to right")
    seconds: float


def _map(r: Report | None) -> DigitMap | None:
    if r is None:
        return None
    e = r.explanation
    return DigitMap(
        method=e.method,
        layer=e.layer,
        target=e.label,
        empty=e.empty,
        summary=e.summary,
        resolution=e.resolution,
        trust=None if r.trust is None else schemas.Trust(**r.trust.to_dict()),
        heatmap=e.heatmap.round(4).tolist(),
        overlay_png_base64=png_base64(r.overlay),
    )


@router.post(
    "/v1/read",
    response_model=NumberReading,
    responses=ERRORS,
    summary="Read a written number (several digits), each digit with its verdict",
)
async def read_number(
    request: Request,
    model: str | None = MODEL_QUERY,
    runtime: str | None = RUNTIME_QUERY,
    explain: bool = Query(False, description="also each digit's map and its trust score"),
    method: str | None = Query(
        None,
        description=f"with explain: one of {', '.join(METHODS)} (default: the model's "
        "measured default)",
    ),
    layer: str | None = Query(None, description="with explain: a spatial layer (/v1/models)"),
) -> NumberReading:
    """The body is one image (raw bytes or a one-file form), e.g. a photo of a house number
    or a drawing of "42". Each digit is read like a single digit, with its own verdict;
    with `explain=true` each also gets its map, drawn over its own ink, and the map's
    trust score, as /v1/explain gives for one digit."""
    served = await served_runtime(request, model, runtime)
    files, _ = await read_images(request)
    if len(files) != 1:
        raise ApiError(422, "one_image", f"read takes one image, got {len(files)}")
    if not served.clf.reads_digits:
        raise ApiError(422, "not_a_digit_model", f"{served.clf.name} does not read digits")
    method, layer = method or None, layer or None  # (empty: the default, as ?model= is)
    if (method is not None or layer is not None) and not explain:
        raise ApiError(422, "explain_off", "method and layer go with explain=true")
    if explain and (method is not None or layer is not None):
        try:  # here, not per digit: a bad name is refused where no digit gets read too
            await run_in_threadpool(check, served.clf, method, layer)
        except ExplanationError as exc:
            raise ApiError(422, "bad_explanation", str(exc)) from exc
    max_pixels = request.app.state.config.max_pixels
    try:
        reading = await decoding(request, served.clf.read_number, files[0][1], max_pixels)
    except ImageError as exc:
        raise image_error(exc) from exc
    maps = [None] * len(reading.digits)
    if explain:
        try:
            maps = await run_in_threadpool(explain_digits, served.clf, reading, method, layer)
        except ExplanationError as exc:
            raise ApiError(422, "bad_explanation", str(exc)) from exc
    body = reading.to_dict()
    digits = [NumberDigit(**d, map=_map(r)) for d, r in zip(body.pop("digits"), maps, strict=True)]
    return NumberReading(model=served.clf.name, digits=digits, **body)
