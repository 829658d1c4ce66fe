"""POST /v1/read: a written number, digit by digit (`Classifier.read_number`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from model.errors import ImageError
from server.errors import ApiError
from server.routes import ERRORS, MODEL_QUERY, image_error, read_images, served_runtime

router = APIRouter()


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


class NumberReading(BaseModel):
    model: str
    text: str | None = Field(
        description='the number, an unsure digit followed by "?" ("4?2"); null when refused'
    )
    verdict: str = Field(description="digit (every digit is one), unsure, or not_a_digit")
    refusal: str | None = Field(description="why there is no number, in words")
    digits: list[NumberDigit] = Field(description="left to right")
    seconds: float


@router.post(
    "/v1/read",
    response_model=NumberReading,
    responses=ERRORS,
    summary="Read a written number (several digits), each digit with its verdict",
)
async def read_number(request: Request, model: str | None = MODEL_QUERY) -> NumberReading:
    """The body is one image (raw bytes or a one-file form), e.g. a photo of a house number
    or a drawing of "42". Each digit is read like a single digit, with its own verdict."""
    served = await served_runtime(request, model, None)
    files, _ = await read_images(request)
    if len(files) != 1:
        raise ApiError(422, "one_image", f"read takes one image, got {len(files)}")
    if not served.clf.is_digit:
        raise ApiError(422, "not_a_digit_model", f"{served.clf.name} does not read digits")
    max_pixels = request.app.state.config.max_pixels
    try:
        reading = await run_in_threadpool(served.clf.read_number, files[0][1], max_pixels)
    except ImageError as exc:
        raise image_error(exc) from exc
    return NumberReading(model=served.clf.name, **reading.to_dict())
