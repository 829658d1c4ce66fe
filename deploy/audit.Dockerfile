# Image for a DigitLens audit on a Ray cluster (deploy/k8s/rayjob-audit.yaml).
#   docker build -f deploy/audit.Dockerfile -t digitlens-audit .
# The same image runs the Ray head and workers: Ray, the engine and the bundled models.
FROM python:3.11-slim

# PYTHONPATH: Ray's worker processes import DigitLens as they start (the manifest's
# RAY_preload_python_modules), before Ray gives them the driver's path.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 RAY_USAGE_STATS_ENABLED=0 PYTHONPATH=/app
WORKDIR /app

COPY requirements.txt requirements-ray.txt ./
RUN pip install -r requirements.txt -r requirements-ray.txt

COPY model/ model/
COPY digitlens/ digitlens/

RUN useradd --create-home --uid 10001 digitlens
USER digitlens
