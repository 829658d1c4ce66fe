"""The classic tutorial server, for comparison only: Flask, `model.predict` per request.

python -m benchmarks.baseline_server --port 8001
"""

from __future__ import annotations

import argparse
import io
import os

import numpy as np


def create_app(model_path: str):
    import keras
    from flask import Flask, jsonify, request
    from PIL import Image

    app = Flask(__name__)
    net = keras.saving.load_model(model_path)

    @app.post("/predict")
    def predict():
        img = Image.open(io.BytesIO(request.get_data())).convert("L").resize((28, 28))
        x = (np.asarray(img, np.float32) / 255.0).reshape(1, 28, 28, 1)
        p = net.predict(x, verbose=0)[0]
        return jsonify(label=int(p.argmax()), probability=float(p.max()))

    @app.get("/healthz")
    def health():
        return jsonify(status="ok")

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--model", default="model/weights/mnist-cnn.keras")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    create_app(args.model).run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
