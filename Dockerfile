# CPU image for the DigitLens inference server.
#   docker build -t digitlens .
#   docker run -p 8000:8000 digitlens
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2
# ONNX Runtime uses one thread per core the container sees; set DIGITLENS_THREADS to
# match a CPU limit (deploy/k8s/deployment.yaml does).
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY model/ model/
COPY server/ server/

RUN useradd --create-home --uid 10001 digitlens
USER digitlens

EXPOSE 8000
# In a container the server must listen beyond loopback; the Service decides who reaches it.
CMD ["python", "-m", "server", "--host", "0.0.0.0", "--port", "8000"]
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
