"""The HTTP API: predict, explain and models (health and metrics: server/health.py)."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
from functools import partial

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from PIL import Image
from pydantic import BaseModel

from model import Classifier, ModelLoadError, Prediction
from model.errors import ImageError, ModelNotFoundError, PreprocessingMismatchError
from model.input.png import png_size
from model.number import READ_AS_NUMBER, several_digits
from model.prediction import TOP_K
from model.runtime.applications import is_application
from model.runtime.runtimes import RUNTIMES
from model.why.attribution import METHODS, ExplanationError, available_methods
from model.why.choice import why_default
from model.why.faithfulness import faithfulness
from model.why.report import report
from server import schemas
from server.errors import ApiError, image_error, known_parameters
from server.models import Served

router = APIRouter(dependencies=[Depends(known_parameters)])
log = logging.getLogger("digitlens.server")

IMAGE_TYPES = ("image/", "application/octet-stream")
OVERLAY_SIDE = 280  # the overlay PNG's longest side
#: Images preprocessed on the event loop instead of a thread: at most this many bytes
#: and pixels (a 512x512 drawing takes ~3 ms; a 12 MP photo ~100 ms goes to a thread).
INLINE_MAX_BYTES = 512 * 1024
INLINE_MAX_PIXELS = 512 * 512


def _default_name(request: Request) -> str:
    """The default model's public name (its card's, never the path it was loaded from)."""
    pool = request.app.state.pool
    return pool.default_name if pool is not None else request.app.state.config.default_name


def _served(request: Request, name: str | None) -> Served:
    """The model on the server's default runtime."""
    models: dict[str, Served] = request.app.state.models
    name = name or _default_name(request)
    if name not in models:
        raise ApiError(404, "unknown_model", f"no model {name!r}; loaded: {', '.join(models)}")
    return models[name]


async def served_runtime(request: Request, name: str | None, runtime: str | None) -> Served:
    """The model on `runtime` (None: the default), loading that runtime, or an allowed
    model (`--allow-model mobilenet_v2`), on first use. The engine's load errors name files
    on this machine: they go to the server's log, and the client gets a message made of
    model and runtime names only (the engine's own where it names no file)."""
    name = name or _default_name(request)
    if runtime is None and name in request.app.state.models:
        return _served(request, name)
    pool = request.app.state.pool
    try:
        return await pool.get(name, runtime)
    except ModelNotFoundError as exc:
        raise ApiError(404, "unknown_model", str(exc)) from exc
    except PreprocessingMismatchError as exc:  # (names the model and its shape, no path)
        raise ApiError(422, "preprocessing_mismatch", str(exc)) from exc
    except ModelLoadError as exc:
        if runtime is not None and runtime not in RUNTIMES:  # (the client's slip: not logged)
            message = f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}"
            raise ApiError(422, "unknown_runtime", message) from exc
        if not getattr(exc, "repeated", False):  # (once a try, not once a request)
            log.warning("cannot load %s on runtime %s: %s", name, runtime or "(default)", exc)
        if is_application(name) and (runtime or "auto") in ("auto", "keras"):
            # e.g. offline without its ImageNet weights: where to put them is in the log
            message = f"{name} cannot be loaded here now (is its weights file not on this "
            message += "machine?); the server's log says which file is missing and where"
            raise ApiError(503, "model_unavailable", message) from exc
        message = f"{name} cannot run on {runtime or 'the default runtime'} on this server "
        message += "(no matching export); the server's log says why"
        raise ApiError(422, "unknown_runtime", message) from exc


async def read_images(request: Request) -> tuple[list[tuple[str | None, bytes]], bool]:
    """([(filename, bytes)], is_multipart) from a raw image body or multipart/form-data."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        cfg = request.app.state.config
        try:
            form = await request.form(max_files=cfg.max_files, max_fields=cfg.max_files)
        except ApiError:
            raise
        except Exception as exc:  # malformed multipart, too many files
            why = getattr(exc, "detail", exc)  # (Starlette's says "400: ..." as a string)
            raise ApiError(400, "bad_multipart", f"cannot read the form: {why}") from exc
        files = [(v.filename, await v.read()) for _, v in form.multi_items() if hasattr(v, "read")]
        if not files:
            raise ApiError(422, "no_files", "the form holds no files; send images as file fields")
        return files, True
    if not ctype.startswith(IMAGE_TYPES):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send an image (Content-Type image/png, image/jpeg, ...) or "
            f"multipart/form-data, not {ctype or 'no Content-Type'!r}",
        )
    return [(None, await request.body())], False


def _small(data: bytes) -> bool:
    """Whether `data` is an image small enough to preprocess on the event loop: a
    drawing or a phone-sized crop takes about as long as a thread hand-off would."""
    if len(data) > INLINE_MAX_BYTES:
        return False
    size = png_size(data)  # a PNG's header, read here: a canvas's (Pillow's is slower)
    if size is not None:
        return size[0] * size[1] <= INLINE_MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            return img.width * img.height <= INLINE_MAX_PIXELS
    except Exception:  # not an image (or a broken one): the inline path says so at once
        return True


async def decoding(request: Request, fn, *args):
    """fn(*args) in a worker thread, as one of the `--decode-concurrency` decodes allowed at
    once (a whole image read again: a number, a second look at a non-digit answer)."""
    async with request.app.state.decode_slots:
        return await run_in_threadpool(fn, *args)


async def with_reason(request: Request, clf: Classifier, data: bytes, pred: Prediction):
    """`pred`, its reason saying so where a non-digit answer's image holds several digits
    ("this looks like 3 digits"), as every route and the app answer it."""
    if pred.verdict == "digit" or not clf.reads_digits:
        return pred
    said_here = partial(several_digits, how=READ_AS_NUMBER["server"])  # ("... (/v1/read)")
    return await decoding(request, said_here, clf, data, pred)


async def preprocess_upload(request: Request, clf: Classifier, data: bytes):
    """Decode and preprocess. Small images run right here: the work holds the GIL
    anyway, and handing it to a thread costs more CPU than it saves (and makes the
    event loop wait for the GIL). Large ones run in a worker thread, at most a few at
    once to bound the memory, so they never stall the other requests' answers."""
    max_pixels = request.app.state.config.max_pixels
    if _small(data):
        return clf.preprocess_stages(data, max_pixels)
    async with request.app.state.decode_slots:
        return await run_in_threadpool(clf.preprocess_stages, data, max_pixels)


def _prediction_body(
    clf: Classifier,
    pred: Prediction,
    batch_size: int,
    filename: str | None,
    preprocess_ms: float,
    queue_ms: float,
    inference_ms: float,
    total_ms: float,
    top_k: int = TOP_K,
) -> schemas.Prediction:
    tops = [schemas.TopClass(**t.to_dict()) for t in clf.top(pred, top_k)]
    return schemas.Prediction(
        label=pred.label,
        class_name=pred.class_name,
        probability=pred.probability,
        probabilities=[float(p) for p in pred.probabilities],
        verdict=pred.verdict,
        ood_score=pred.ood_score,
        reason=pred.reason,
        model=clf.name,
        batch_size=batch_size,
        filename=filename,
        timings=schemas.Timings(
            preprocess_ms=round(preprocess_ms, 3),
            queue_ms=round(queue_ms, 3),
            inference_ms=round(inference_ms, 3),
            total_ms=round(total_ms, 3),
        ),
        top_k=tops,
    )


async def _predict_one(
    request: Request, served: Served, filename: str | None, data: bytes, top_k: int = TOP_K
) -> schemas.Prediction:
    metrics = request.app.state.metrics
    start = time.perf_counter()
    try:
        stages = await preprocess_upload(request, served.clf, data)
    except ImageError as exc:
        metrics.images.labels(served.clf.name, "rejected").inc()
        raise image_error(exc) from exc
    prep_ms = (time.perf_counter() - start) * 1e3
    result = await served.batcher.submit(stages.x)  # its verdict is decided in the batch
    metrics.images.labels(served.clf.name, "predicted").inc()
    return _prediction_body(
        served.clf,
        await with_reason(request, served.clf, data, result.value),
        result.batch_size,
        filename,
        prep_ms,
        result.queue_ms,
        result.inference_ms,
        (time.perf_counter() - start) * 1e3,
        top_k,
    )


ERRORS = {code: {"model": schemas.ErrorResponse} for code in (400, 404, 413, 415, 422, 503)}
MODEL_QUERY = Query(
    None,
    description="a model this server serves (/v1/models), or one it was started to allow "
    "(`--allow-model mobilenet_v2`: loaded on first use); default: the server's default",
)
TOP_K_QUERY = Query(TOP_K, ge=1, le=1000, description="classes in each answer's `top_k`")
RUNTIME_QUERY = Query(
    None, description=f"one of: {', '.join(RUNTIMES)} (default: the server's runtime)"
)


@router.post(
    "/v1/predict",
    response_model=schemas.Prediction | schemas.BatchPrediction,
    responses=ERRORS,
    summary="Read the digit in one image, or in each of several",
)
async def predict(
    request: Request,
    model: str | None = MODEL_QUERY,
    runtime: str | None = RUNTIME_QUERY,
    top_k: int = TOP_K_QUERY,
):
    """The body is raw image bytes (`Content-Type: image/png`, `image/jpeg`, ...), or
    `multipart/form-data` with one or more image files. A raw body answers one
    prediction; a form answers `results`, one per file, each a prediction or an error."""
    served = await served_runtime(request, model, runtime)
    files, multipart = await read_images(request)
    if not multipart:
        return _json(await _predict_one(request, served, *files[0], top_k))

    async def one(name, data):
        try:
            return await _predict_one(request, served, name, data, top_k)
        except ApiError as exc:
            return schemas.ItemError(filename=name, error=exc.detail_model)

    results = await asyncio.gather(*(one(n, d) for n, d in files))
    return _json(schemas.BatchPrediction(model=served.clf.name, results=list(results)))


def _json(body: BaseModel) -> Response:
    """The body as JSON, serialised once by pydantic (FastAPI would validate it again
    against `response_model` first: the hot path's largest share after preprocessing)."""
    return Response(body.model_dump_json(), media_type="application/json")


@router.post(
    "/v1/explain",
    response_model=schemas.Explanation,
    responses=ERRORS,
    summary="Predict and explain one image",
)
async def explain_image(
    request: Request,
    model: str | None = MODEL_QUERY,
    method: str | None = Query(
        None, description=f"one of: {', '.join(METHODS)} (default: the model's measured default)"
    ),
    layer: str | None = Query(
        None, description="a spatial layer (/v1/models: layers); default conv3 or the last map"
    ),
    target: int | None = Query(None, description="class to explain (default: the prediction)"),
    contrast: int | None = Query(
        None, description="explain the target *and not* this class (logit difference)"
    ),
):
    """The map, its overlay, its trust score (against the ink map, its edges and random)
    and the model card's sanity check for this method and layer."""
    method, layer = method or None, layer or None  # (empty: the default, as ?model= is)
    served = await served_runtime(request, model, None)
    files, _ = await read_images(request)
    if len(files) != 1:
        raise ApiError(422, "one_image", f"explain takes one image, got {len(files)}")
    start = time.perf_counter()
    try:
        stages = await preprocess_upload(request, served.clf, files[0][1])
    except ImageError as exc:
        raise image_error(exc) from exc
    prep_ms = (time.perf_counter() - start) * 1e3
    try:
        t = time.perf_counter()
        r = await run_in_threadpool(report, served.clf, stages, method, layer, target, contrast)
        infer_ms = (time.perf_counter() - t) * 1e3
    except ExplanationError as exc:
        raise ApiError(422, "bad_explanation", str(exc)) from exc
    e = r.explanation
    # The older insertion - deletion score, kept for existing clients (an input-only map
    # wins it on MNIST: read `trust` instead).
    score = (
        await run_in_threadpool(faithfulness, served.clf.probabilities, e.x, e.heatmap, e.label)
        if served.clf.is_digit
        else None
    )
    png = io.BytesIO()
    shown = Image.fromarray(r.overlay)
    shown.thumbnail((OVERLAY_SIDE, OVERLAY_SIDE))  # shrinks only, keeps the aspect ratio
    shown.save(png, "PNG")
    total = (time.perf_counter() - start) * 1e3
    return schemas.Explanation(
        prediction=_prediction_body(
            served.clf,
            await with_reason(
                request, served.clf, files[0][1], served.clf.to_prediction(e.probabilities, e.x)
            ),
            1,
            files[0][0],
            prep_ms,
            0.0,
            infer_ms,
            total,
        ),
        method=e.method,
        layer=e.layer,
        target=e.label,
        contrast=e.contrast,
        empty=e.empty,
        summary=e.summary,
        resolution=e.resolution,
        default_reason=why_default(served.clf) if method is None else None,
        trust=schemas.Trust(**r.trust.to_dict()),
        sanity=None if r.sanity is None else schemas.Sanity(**r.sanity),
        faithfulness=None
        if score is None
        else schemas.Faithfulness(
            score=score.score,
            deletion_auc=score.deletion_auc,
            insertion_auc=score.insertion_auc,
            random_deletion_auc=score.random_deletion_auc,
            random_insertion_auc=score.random_insertion_auc,
        ),
        heatmap=np.round(e.heatmap, 4).tolist(),
        overlay_png_base64=base64.b64encode(png.getvalue()).decode(),
    )


def _summary(clf: Classifier) -> schemas.ModelSummary:
    card = clf.card
    return schemas.ModelSummary(
        name=clf.name,
        dataset=card.dataset,
        class_names=list(clf.class_names),
        accuracy=card.accuracy,
        parameters=card.parameters,
        preprocessing=clf.preprocessing,
        input_note=clf.input_note,
        runtime=clf.runtime.name,
        single_input_runtime=clf.single_runtime,
        verdict_by=clf.judge.method,
        methods=available_methods(clf),
        layers=list(clf.conv_layers),
    )


@router.get("/v1/models", response_model=list[schemas.ModelSummary], summary="Loaded models")
async def models(request: Request):
    return [_summary(s.clf) for s in request.app.state.models.values()]


@router.get("/v1/models/{name}", summary="A model's full card", responses=ERRORS)
async def model_card(request: Request, name: str) -> dict:
    """Its card; a model without one (a `.keras` file with no `<name>.json` beside it)
    answers its `/v1/models` summary and `"card": null` (it was an empty object). An
    allowed model (`--allow-model`) is loaded as a prediction would load it, and where it
    cannot be, answers as a prediction would (a 503, where it was a 404 "no model")."""
    clf = (await served_runtime(request, name, None)).clf
    card = clf.card.to_dict()
    return card if card else {**_summary(clf).model_dump(), "card": None}
