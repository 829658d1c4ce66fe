"""Several digit detectors as one ONNX file whose output is the mean of their log-odds.

    python -m training.ensemble OUT.onnx A.onnx B.onnx [...]

Each member keeps its nodes and weights under its own prefix (`member0/`, ...) and reads
the one shared input; the output is (N, 1) like any detector's, so everything that runs a
detector (the judge, the fused graph of `model.runtime.fused`, the Draw page in the
browser) runs an ensemble unchanged. Recalibrate the thresholds after building one
(`python -m training.ood --recalibrate`): the mean has its own scale.

A member that is itself an ensemble (its output is `ood_logit_mean`) is taken apart: its
members join the new one as they are, so `ensemble([AB, C])` averages A, B and C with a
third each, not AB with C.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUTPUT = "ood_logit_mean"


def ensemble(members: list[bytes]) -> bytes:
    """The serialized ONNX model averaging the members' (N, 1) outputs."""
    import numpy as np
    import onnx
    from onnx import compose, helper, numpy_helper

    if len(members) < 2:
        raise ValueError("an ensemble needs two detectors or more")
    models = [onnx.load_from_string(m) for m in members]
    opsets = {tuple(sorted((o.domain, o.version) for o in m.opset_import)) for m in models}
    if len(opsets) != 1:
        raise ValueError("the detectors use different opsets")
    first = models[0]
    source = first.graph.input[0]
    nodes, inits, outputs = [], [], []
    for m in models:
        if len(m.graph.input) != 1 or len(m.graph.output) != 1:
            raise ValueError("a detector has one input and one output")
        for part in _members(m):
            part = compose.add_prefix(part, f"member{len(outputs)}/")
            inp = part.graph.input[0].name
            for node in part.graph.node:
                node.input[:] = [source.name if n == inp else n for n in node.input]
            nodes.extend(part.graph.node)
            inits.extend(part.graph.initializer)
            outputs.append(part.graph.output[0].name)
    weight = np.array(1 / len(outputs), np.float32)
    inits.append(numpy_helper.from_array(weight, "ensemble/weight"))
    nodes.append(helper.make_node("Sum", outputs, ["ensemble/sum"]))
    nodes.append(helper.make_node("Mul", ["ensemble/sum", "ensemble/weight"], [OUTPUT]))
    out = helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph(nodes, "digit_detector_ensemble", [source], [out], inits)
    model = helper.make_model(
        graph, opset_imports=list(first.opset_import), ir_version=first.ir_version
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _members(model) -> list:
    """The single detectors in `model`: itself, or an ensemble's members (their own graphs).
    A detector with a reconstruction term is refused: the mean would weigh the term as a
    member (ensemble the nets, then add the term: `training.ood --recalibrate
    --reconstruction`)."""
    from onnx import shape_inference, utils

    from training.reconstruction import has_reconstruction

    if has_reconstruction(model):
        raise ValueError(
            "the detector holds a reconstruction term: ensemble the nets without it, then add "
            "the term (python -m training.ood --recalibrate --reconstruction)"
        )

    if model.graph.output[0].name != OUTPUT:
        return [model]
    (total,) = [n for n in model.graph.node if n.op_type == "Sum"]
    extract = utils.Extractor(shape_inference.infer_shapes(model)).extract_model
    return [extract([model.graph.input[0].name], [name]) for name in total.input]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, *members = (Path(a) for a in args)
    data = ensemble([m.read_bytes() for m in members])
    out.write_bytes(data)
    import onnx

    count = len(_members(onnx.load_from_string(data)))
    print(f"wrote {out} ({len(data)} bytes, {count} members)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
