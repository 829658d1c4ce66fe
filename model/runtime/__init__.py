"""Runtimes: artefacts and their cards, loading, ONNX/Keras runtimes, exports, Applications."""
