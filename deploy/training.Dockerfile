# CPU image for training (the server's image has no training/ folder).
#   docker build -f deploy/training.Dockerfile -t digitlens-train .
# Every worker runs the same command; TF_CONFIG (set by the TFJob operator, or by the
# indexed Job's command) tells each one the cluster and its place in it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY model/ model/
COPY training/ training/

RUN useradd --create-home --uid 10001 digitlens
USER digitlens

ENTRYPOINT ["python", "-m", "training.train"]
