"""Response bodies, as the OpenAPI docs at /docs show them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Timings(BaseModel):
    preprocess_ms: float = Field(description="decoding and preprocessing")
    queue_ms: float = Field(description="waiting for the batch to run")
    inference_ms: float = Field(description="the batched model call")
    total_ms: float


class Prediction(BaseModel):
    label: int
    class_name: str
    probability: float
    probabilities: list[float] = Field(min_length=10, max_length=10)
    verdict: Literal["digit", "unsure", "not_a_digit"] = Field(
        description="whether to believe the label: `unsure` and `not_a_digit` come with a reason"
    )
    ood_score: float = Field(description="higher = less like the model's training data")
    reason: str | None = Field(description="a sentence for a person; null for a plain answer")
    model: str
    batch_size: int = Field(description="inputs answered by the same model call")
    timings: Timings
    filename: str | None = None


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
        "pixel orders: above 0 beats random"
    )
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float


class Explanation(BaseModel):
    prediction: Prediction
    method: str
    layer: str | None
    faithfulness: Faithfulness
    heatmap: list[list[float]] = Field(description="28x28 values in [0, 1] on the model input")
    overlay_png_base64: str = Field(description="the heatmap over the uploaded image, PNG")


class ModelSummary(BaseModel):
    name: str
    dataset: str | None
    class_names: list[str]
    accuracy: float | None
    parameters: int | None
    preprocessing: str
    runtime: str
    methods: list[str]
    layers: list[str]


class Health(BaseModel):
    status: str
