"""`POST /v1/counterfactual`: what would make the model read another class?

One image in (raw body or multipart, as /v1/explain), `?target=K`; out: the
prediction on the image, the counterfactual (the smallest realistic edit read as K,
`model.why.counterfactual`) and, unless `adversarial=false`, its adversarial twin, each
with its numbers and base64 PNGs: the edited input, the edit over the user's strokes
(ink added blue, taken away orange) on the 28x28 input and on the image as sent, and
the change alone magnified. With `?digit=I` the image is read as a number (/v1/read) and
its I-th digit (0: the leftmost) is edited on its own: "make the 4 of 42 a 9".
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from model.errors import CounterfactualError, ImageError, NoPriorError, NoSuchDigitError
from model.number import digit_stages
from model.why.counterfactual import Counterfactual, adversarial, counterfactual
from model.why.edit_pictures import change_picture, digit_picture, edit_on_original, edit_picture
from server.errors import ApiError, image_error, known_parameters
from server.routes import (
    ERRORS,
    MODEL_QUERY,
    decoding,
    preprocess_upload,
    read_images,
    served_runtime,
    with_reason,
)
from server.schemas import png_base64

router = APIRouter(dependencies=[Depends(known_parameters)])

#: The side of every PNG in the answer (each model pixel a 10x10 square).
PICTURE_SIDE = 280


class Edit(BaseModel):
    """One edited input: what the model reads in it, how big the edit is, and pictures."""

    kind: str = Field(description="counterfactual or adversarial")
    method: str = Field(description="latent-shift (the prior) or pgd-linf")
    target: int
    target_name: str
    succeeded: bool = Field(description="read as the target with p >= 0.9")
    message: str = Field(description="a sentence for a person, success or not")
    label: int
    class_name: str
    probability: float = Field(description="the target's probability on the edited input")
    probabilities: list[float]
    verdict: str = Field(description="digit, unsure or not_a_digit, on the edited input")
    reason: str | None
    l1: float
    l2: float
    linf: float
    changed: float = Field(description="share of pixels changed by at least 0.02")
    budget: float | None = Field(description="the adversarial twin's L-infinity epsilon")
    seconds: float
    magnification: float = Field(description="how much change_png magnifies the change")
    edited_png_base64: str = Field(description="the edited input, white ink on black")
    edit_png_base64: str = Field(description="the user's strokes grey, added blue, removed orange")
    change_png_base64: str = Field(description="the change alone, magnified")
    drawing_png_base64: str = Field(
        description="the edit over the image as sent, at its own size (added blue, removed "
        "orange); with `digit`, over that digit's own piece: its ink with a margin, cut as "
        "the reading cut it (not at `box`'s size)"
    )


class CounterfactualAnswer(BaseModel):
    model: str
    digit: int | None = Field(None, description="the digit edited, with ?digit=I")
    box: list[int] | None = Field(
        None, description="with ?digit=I: (x0, y0, x1, y1) of that digit in the image"
    )
    label: int = Field(description="what the model reads in the image as sent (or its digit)")
    class_name: str
    probability: float = Field(description="the probability of `label`, as /v1/predict gives it")
    probabilities: list[float]
    verdict: str = Field(description="digit, unsure or not_a_digit: on the image as sent")
    reason: str | None = Field(description="the verdict's sentence, none for a plain digit")
    counterfactual: Edit
    adversarial: Edit | None


def _edit(r: Counterfactual) -> Edit:
    change, gain = change_picture(r, PICTURE_SIDE)
    return Edit(
        **r.to_dict(),
        magnification=round(gain, 3),
        edited_png_base64=png_base64(digit_picture(r.x, PICTURE_SIDE)),
        edit_png_base64=png_base64(edit_picture(r, PICTURE_SIDE)),
        change_png_base64=png_base64(change),
        drawing_png_base64=png_base64(edit_on_original(r)),
    )


@router.post(
    "/v1/counterfactual",
    response_model=CounterfactualAnswer,
    responses=ERRORS,
    summary="What would make the model read another class? A realistic edit and its "
    "adversarial twin",
)
async def counterfactual_image(
    request: Request,
    target: int = Query(..., description="the class the edited image should be read as"),
    model: str | None = MODEL_QUERY,
    twin: bool = Query(True, alias="adversarial", description="also the adversarial twin"),
    digit: int | None = Query(
        None,
        description="read the image as a number and edit this digit alone (0: the leftmost)",
    ),
) -> CounterfactualAnswer:
    """The smallest realistic edit of the image that the model reads as `target` (a
    generative prior keeps it a digit), beside the smallest targeted PGD perturbation
    that does the same. A failed search answers 200 with `succeeded: false` and says why
    in `message`; a model without a prior for its data answers 422 `no_prior`, a digit
    the number does not have 422 `no_such_digit`."""
    served = await served_runtime(request, model, None)
    clf = served.clf
    files, _ = await read_images(request)
    if len(files) != 1:
        raise ApiError(422, "one_image", f"counterfactual takes one image, got {len(files)}")
    box, read = None, None
    try:
        if digit is None:
            stages = await preprocess_upload(request, clf, files[0][1])
        else:
            if not clf.reads_digits:
                raise ApiError(422, "not_a_digit_model", f"{clf.name} does not read numbers")
            max_pixels = request.app.state.config.max_pixels
            reading = await decoding(request, clf.read_number, files[0][1], max_pixels)
            stages = await run_in_threadpool(digit_stages, clf, reading, digit)
            box, read = list(reading.digits[digit].box), reading.digits[digit].prediction
    except ImageError as exc:
        raise image_error(exc) from exc
    except NoSuchDigitError as exc:
        raise ApiError(422, "no_such_digit", str(exc)) from exc
    try:
        cf = await run_in_threadpool(counterfactual, clf, stages, target)
        adv = await run_in_threadpool(adversarial, clf, stages, target) if twin else None
    except NoPriorError as exc:
        raise ApiError(422, "no_prior", str(exc)) from exc
    except CounterfactualError as exc:
        raise ApiError(422, "bad_counterfactual", str(exc)) from exc
    # (a digit's answer is the reading's: its pens' views averaged, as /v1/read gives it)
    if read is None:  # (worded as /v1/predict words it: "this looks like 2 digits", ...)
        said = await with_reason(request, clf, files[0][1], clf.predict_input(stages.x))
    else:
        said = read
    return CounterfactualAnswer(
        model=clf.name,
        digit=digit,
        box=box,
        label=said.label,
        class_name=said.class_name,
        probability=float(said.probability),
        probabilities=[float(p) for p in said.probabilities],
        verdict=said.verdict,
        reason=said.reason,
        counterfactual=_edit(cf),
        adversarial=None if adv is None else _edit(adv),
    )
