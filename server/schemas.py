"""Response bodies, as the OpenAPI docs at /docs show them, and the pictures they carry."""

from __future__ import annotations

import base64
import io
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field


def png_base64(array: np.ndarray) -> str:
    """An (H, W) or (H, W, 3) uint8 picture as base64 PNG, as the JSON answers carry it."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


class Timings(BaseModel):
    preprocess_ms: float = Field(description="decoding and preprocessing")
    queue_ms: float = Field(description="waiting for the batch to run")
    inference_ms: float = Field(description="the batched model call")
    total_ms: float


class TopClass(BaseModel):
    label: int
    class_name: str
    probability: float


class Prediction(BaseModel):
    label: int
    class_name: str
    probability: float
    probabilities: list[float] = Field(min_length=2, description="one per class, K >= 2")
    verdict: Literal["digit", "unsure", "not_a_digit"] = Field(
        description="whether to believe the label: `unsure` and `not_a_digit` come with a reason"
    )
    ood_score: float = Field(description="higher = less like the model's training data")
    reason: str | None = Field(description="a sentence for a person; null for a plain answer")
    model: str
    batch_size: int = Field(description="inputs answered by the same model call")
    timings: Timings
    filename: str | None = None
    top_k: list[TopClass] | None = Field(
        None, description="the `top_k` most probable classes (default 5), most probable first"
    )


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ItemError(BaseModel):
    filename: str | None
    error: ErrorDetail


class BatchPrediction(BaseModel):
    model: str
    results: list[Prediction | ItemError]


class Faithfulness(BaseModel):
    score: float = Field(
        description="insertion - deletion AUC, minus the same for random "
        "pixel orders: above 0 beats random (legacy: the input itself scores high; see trust)"
    )
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float


class Trust(BaseModel):
    verdict: str = Field(
        description="the map against maps that ignore the model: 'beats the ink map' (or "
        "the edge map, or for a photo model the contrast map), "
        "'no better than the input itself', 'worse than the input itself', "
        "'no better than random', or 'empty map: nothing to check'"
    )
    score: float = Field(
        description="0: as good as the better input-only map (the ink or its edges), "
        "-1: as bad as random, above 0: better (1: perfect); an input-only map scores <= 0"
    )
    beats_ink: bool = Field(
        description="the raw comparison with the input's own ink (its contrast, for a "
        "photo model): the map's deletion AUC lower than the ink map's by any amount. The "
        "verdict asks for more (a tenth of the gap to random), so a map can beat the ink "
        "here and still be 'no better than the input itself'"
    )
    sentence: str
    deletion_auc: float = Field(description="mean class probability while pixels are blacked out")
    ink_auc: float
    edges_auc: float
    random_auc: float
    pixels_to_flip: int | None = Field(description="null: not within max_pixels")
    ink_pixels_to_flip: int | None
    edges_pixels_to_flip: int | None
    random_pixels_to_flip: int | None
    max_pixels: int
    perturbation: str


class Sanity(BaseModel):
    passed: bool = Field(alias="pass", description="cascading randomisation sanity check")
    rank_r_all: float
    rank_r_ink: float

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class Explanation(BaseModel):
    prediction: Prediction
    method: str
    layer: str | None
    target: int = Field(description="the class explained")
    contrast: int | None = Field(description="the class argued against, if any")
    empty: bool = Field(description="no positive evidence: the map is all zero")
    summary: str
    resolution: str = Field(description="e.g. '7x7 map, upsampled'")
    default_reason: str | None = Field(
        None,
        description="when no method was asked for: why the model's default is this one "
        "(its card, or 'chosen on N inputs: best trust score ...' for a model without one)",
    )
    trust: Trust
    sanity: Sanity | None = Field(description="null: not measured for this model")
    faithfulness: Faithfulness | None = Field(
        None, description="28x28 digit models only (photos: read `trust`)"
    )
    heatmap: list[list[float]] = Field(description="(H, W) values in [0, 1] on the model input")
    overlay_png_base64: str = Field(description="the heatmap over the uploaded image, PNG")


class ModelSummary(BaseModel):
    name: str
    dataset: str | None
    class_names: list[str]
    accuracy: float | None
    parameters: int | None
    preprocessing: str
    input_note: str | None = Field(
        default=None,
        description="how the model's input was fitted to its preprocessing, where it was "
        "(a digit model whose first layer rescales 0..255 gets the recipe's 0..1 as 0..255)",
    )
    runtime: str
    single_input_runtime: str = Field(
        description="who answers one input at a time: `runtime`, or the runtime measured "
        "faster for single inputs on this machine (runtime=auto: litert or onnxruntime)"
    )
    verdict_by: str = Field(
        description="what decides the verdict: `detector` (the model's own), "
        "`mnist-cnn's detector` (lent to a digit model without one: it judges the input) "
        "or `max-softmax` (the model's confidence alone)"
    )
    methods: list[str]
    layers: list[str]


class Health(BaseModel):
    status: str
