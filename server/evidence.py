"""The evidence routes: look-alikes from the training set (with the atlas position) and
what each layer sees. Same conventions as /v1/explain: a raw image body or a form with
one image, `?model=`, JSON answers with PNGs as base64."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from model import Classifier
from model.errors import EvidenceError, ImageError
from model.why.atlas import place_input
from model.why.index import MAX_K, K
from model.why.layers import activations_of, feature_grid
from model.why.neighbours import neighbours_of
from server import schemas
from server.errors import ApiError, image_error, known_parameters
from server.routes import (
    ERRORS,
    MODEL_QUERY,
    _prediction_body,
    preprocess_upload,
    read_images,
    served_runtime,
    with_reason,
)
from server.schemas import png_base64

router = APIRouter(dependencies=[Depends(known_parameters)])

LAYERS_QUERY = Query(None, description="only these layers, repeatable (default: all)")


class Neighbour(BaseModel):
    index: int  # position in the index's data set (MNIST train for the bundled models)
    label: int
    distance: float
    image_png_base64: str


class AtlasPosition(BaseModel):
    x: float
    y: float
    label: int
    nearest_class: int


class NeighboursResponse(BaseModel):
    prediction: schemas.Prediction
    summary: str  # "7 of 8 look-alikes are 9s"
    agree: int
    k: int
    credibility: float
    majority: int
    layer: str
    source: str
    neighbours: list[Neighbour]
    atlas: AtlasPosition | None  # None when the model has no atlas: `atlas_missing` says why
    atlas_missing: str | None = None


class LayerOutput(BaseModel):
    name: str
    kind: str
    shape: list[int]
    grid_png_base64: str | None  # spatial layers: every feature map tiled (feature_grid)
    values: list | None  # with ?arrays=true: the raw output as nested lists


class ActivationsResponse(BaseModel):
    prediction: schemas.Prediction
    layers: list[LayerOutput]


async def _one_input(request: Request, clf: Classifier):
    """(the model input of the one image in the request, its file name, ms spent, its
    bytes)."""
    files, _ = await read_images(request)
    if len(files) != 1:
        raise ApiError(422, "one_image", f"this route takes one image, got {len(files)}")
    start = time.perf_counter()
    try:
        stages = await preprocess_upload(request, clf, files[0][1])
    except ImageError as exc:
        raise image_error(exc) from exc
    return stages.x, files[0][0], (time.perf_counter() - start) * 1e3, files[0][1]


async def _prediction(request: Request, clf: Classifier, x: np.ndarray, name, times, data):
    """The answer, its reason as /v1/predict gives it; times: (preprocessing, work) ms."""
    pred = await with_reason(request, clf, data, clf.predict_input(x))
    prep_ms, ms = times
    return _prediction_body(clf, pred, 1, name, prep_ms, 0.0, ms, prep_ms + ms)


def _said(exc: EvidenceError) -> str:
    """What a client is told: what is missing, and that this server's operator makes it (the
    command that does may name the model's file on this machine, and the Python API)."""
    if exc.remedy is None:
        return exc.fact
    return f"{exc.fact}; this server's operator can make it (python -m training.evidence)"


@router.post(
    "/v1/neighbours",
    response_model=NeighboursResponse,
    responses=ERRORS,
    summary="The training examples the model finds most alike, and the atlas position",
)
async def neighbours_route(
    request: Request,
    model: str | None = MODEL_QUERY,
    k: int = Query(K, ge=1, le=MAX_K, description="how many look-alikes"),
):
    """The k nearest training examples in the model's own representation (its index),
    how many of them carry the model's answer ("5 of 8 look-alikes are 9s"), and where
    the input lands on the model's atlas."""
    served = await served_runtime(request, model, None)
    clf = served.clf
    x, name, prep_ms, data = await _one_input(request, clf)
    t = time.perf_counter()
    try:
        nb = await run_in_threadpool(neighbours_of, clf, x, k)
    except EvidenceError as exc:
        raise ApiError(422, "no_evidence", _said(exc)) from exc
    missing = None
    try:
        pos = await run_in_threadpool(place_input, clf, x)
        atlas = AtlasPosition(**pos.to_dict())
    except EvidenceError as exc:
        atlas, missing = None, _said(exc)
    ms = (time.perf_counter() - t) * 1e3
    return NeighboursResponse(
        prediction=await _prediction(request, clf, x, name, (prep_ms, ms), data),
        summary=nb.summary,
        agree=nb.agree,
        k=nb.k,
        credibility=nb.credibility,
        majority=nb.majority,
        layer=nb.layer,
        source=nb.source,
        neighbours=[
            Neighbour(
                index=n.index,
                label=n.label,
                distance=n.distance,
                image_png_base64=png_base64(n.image),
            )
            for n in nb
        ],
        atlas=atlas,
        atlas_missing=missing,
    )


@router.post(
    "/v1/activations",
    response_model=ActivationsResponse,
    responses=ERRORS,
    summary="Every layer's output for one image",
)
async def activations_route(
    request: Request,
    model: str | None = MODEL_QUERY,
    layer: list[str] | None = LAYERS_QUERY,
    arrays: bool = Query(False, description="also return each output as nested lists"),
):
    """Each layer's output: spatial layers as one PNG of their feature maps tiled, every
    layer as raw numbers with `?arrays=true`."""
    served = await served_runtime(request, model, None)
    clf = served.clf
    x, name, prep_ms, data = await _one_input(request, clf)
    t = time.perf_counter()
    acts = await run_in_threadpool(activations_of, clf, x)
    unknown = sorted(set(layer or ()) - set(acts.names))
    if unknown:
        raise ApiError(
            422, "unknown_layer", f"no layer {', '.join(unknown)}; layers: {', '.join(acts.names)}"
        )
    out = []
    for n, kind, o in zip(acts.names, acts.kinds, acts.outputs, strict=True):
        if layer and n not in layer:
            continue
        out.append(
            LayerOutput(
                name=n,
                kind=kind,
                shape=list(o.shape),
                grid_png_base64=png_base64(feature_grid(o)) if o.ndim == 3 else None,
                values=np.round(o, 5).tolist() if arrays else None,
            )
        )
    ms = (time.perf_counter() - t) * 1e3
    answer = await _prediction(request, clf, x, name, (prep_ms, ms), data)
    return ActivationsResponse(prediction=answer, layers=out)
