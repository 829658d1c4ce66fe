"""Liveness, readiness (GET, and HEAD for probes that send it) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import schemas
from server.errors import ApiError

router = APIRouter()


@router.get("/healthz", response_model=schemas.Health, summary="Liveness")
@router.head("/healthz", include_in_schema=False)
async def healthz():
    return schemas.Health(status="ok")


@router.head("/readyz", include_in_schema=False)
@router.get(
    "/readyz",
    response_model=schemas.Health,
    summary="Readiness",
    responses={503: {"model": schemas.ErrorResponse}},
)
async def readyz(request: Request):
    served = getattr(request.app.state, "models", {})
    if not served or not all(s.batcher.running for s in served.values()):
        raise ApiError(503, "not_ready", "models are still loading")
    return schemas.Health(status="ready")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request):
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
