"""The classifier and its digit detector as one ONNX graph: one session call answers both.

Built from whatever `<name>.onnx` and `<name>.ood.onnx` lie beside the model (the
detector may be retrained at any time): the
detector's nodes and weights get a `detector/` prefix, its input is wired to the
classifier's, and the graph has two outputs, the classifier's probabilities (N, K) and
the detector's log-odds (N, 1). The classifier's post-ReLU batch norms are folded into
its convolutions first (`model.runtime.norm_fold`, as before int8 quantization): its eight
elementwise Mul and Add nodes were about a tenth of the call. Exact in real arithmetic,
the fused graph's numbers are those of the two separate calls within float32 rounding
(about 1e-6 on MNIST test digits and random inputs; tests/model/test_fast_path.py),
where the folded classifier answers as the file on probe inputs (`folded`).

Building it costs ~0.25 s (importing `onnx`, joining 1.8 MB of graph) in every process that
loads the model: each server worker, audit worker and Ray actor. `fused_graph` keeps the
result in the cache (`<cache>/fused/`), named by the SHA-256 of both files and of this
module, so a retrained detector, another model or a changed recipe never meets a stale
graph; reading it back takes ~2 ms.

Needs the `onnx` package to build the graph; without it, or for two files that cannot be
joined (different opsets or input shapes), `fuse` returns None and the two sessions are
called one after the other as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from model.runtime import norm_fold
from model.runtime.artifacts import cache_file, store_in_cache

#: Prefix of the detector's names inside the fused graph.
PREFIX = "detector/"
#: The code that builds the graph: part of every key that must change with it (the cached
#: graph's, and the LiteRT-or-ONNX Runtime choice measured on it, `model.runtime.litert`).
CODE = (Path(__file__), Path(norm_fold.__file__))


def fused_graph(classifier: str | os.PathLike, detector: str | os.PathLike) -> bytes | None:
    """`fuse`, remembered in the cache: the same bytes, built once per pair of files."""
    path = cache_file("fused", (*CODE, Path(classifier), Path(detector)))
    if path.is_file():
        return path.read_bytes()
    graph = fuse(classifier, detector)
    if graph is not None:
        store_in_cache(path, graph)
    return graph


def fuse(classifier: str | os.PathLike, detector: str | os.PathLike) -> bytes | None:
    """The serialized two-output graph, or None where the files cannot be joined."""
    try:
        import onnx
        from onnx import compose, helper
    except ImportError:
        return None
    clf, det = onnx.load(str(classifier)), onnx.load(str(detector))
    clf = folded(clf)
    if _opsets(clf) != _opsets(det) or len(clf.graph.input) != 1 or len(det.graph.input) != 1:
        return None
    if _dims(clf.graph.input[0])[1:] != _dims(det.graph.input[0])[1:]:
        return None
    if len(clf.graph.output) != 1 or len(det.graph.output) != 1:
        return None
    det = compose.add_prefix(det, PREFIX)
    source, target = det.graph.input[0].name, clf.graph.input[0].name
    for node in det.graph.node:
        node.input[:] = [target if name == source else name for name in node.input]
    graph = helper.make_graph(
        [*clf.graph.node, *det.graph.node],
        "digitlens_classifier_and_detector",
        [clf.graph.input[0]],
        [clf.graph.output[0], det.graph.output[0]],
        [*clf.graph.initializer, *det.graph.initializer],
        value_info=[*clf.graph.value_info, *det.graph.value_info],
    )
    model = helper.make_model(
        graph, opset_imports=list(clf.opset_import), ir_version=clf.ir_version
    )
    return model.SerializeToString()  # ONNX Runtime checks it when it opens a session


#: The folded classifier must answer as the original within this on probe inputs, or the
#: original is used (a rewrite exact in real arithmetic differs by float32 rounding only).
FOLD_TOLERANCE = 1e-4


def folded(model):
    """The classifier (a ModelProto) with its post-ReLU batch norms folded, where the
    rewrite applies and the folded graph answers as the original on probe inputs; else
    the original. `norm_fold` knows the bundled CNNs' graphs: a user's model whose graph
    it misreads (weights shared by two layers, a constant that is not per channel, a
    weight made by a node) must keep its own numbers."""
    import numpy as np

    from model.runtime.runtimes import _session

    try:
        candidate, steps = norm_fold.fold_norms(model)
    except Exception:  # noqa: BLE001  (a graph the rewrite was not written for)
        return model
    shape = _dims(model.graph.input[0])[1:]
    if not steps or None in shape:
        return model
    probe = np.random.default_rng(0).random((8, *shape), dtype=np.float32)
    try:
        outs = [
            _session(m.SerializeToString(), 1).run(None, {model.graph.input[0].name: probe})
            for m in (model, candidate)
        ]
    except Exception:  # noqa: BLE001  (ONNX Runtime refuses the folded graph)
        return model
    same = all(
        a.shape == b.shape and np.allclose(a, b, rtol=0, atol=FOLD_TOLERANCE)
        for a, b in zip(*outs, strict=True)
    )
    return candidate if same else model


def _opsets(model) -> dict[str, int]:
    return {o.domain: o.version for o in model.opset_import}


def _dims(value) -> tuple:
    return tuple(d.dim_value or None for d in value.type.tensor_type.shape.dim)
