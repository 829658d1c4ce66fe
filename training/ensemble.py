"""Several digit detectors as one ONNX file whose output is the mean of their log-odds.

    python -m training.ensemble OUT.onnx A.onnx B.onnx [...]

Each member keeps its nodes and weights under its own prefix (`member0/`, ...) and reads
the one shared input; the output is (N, 1) like any detector's, so everything that runs a
detector (the judge, the fused graph of `model.runtime.fused`, the Draw page in the
browser) runs an ensemble unchanged. Recalibrate the thresholds after building one
(`python -m training.ood --recalibrate`): the mean has its own scale.
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
    for k, m in enumerate(models):
        if len(m.graph.input) != 1 or len(m.graph.output) != 1:
            raise ValueError("a detector has one input and one output")
        m = compose.add_prefix(m, f"member{k}/")
        inp = m.graph.input[0].name
        for node in m.graph.node:
            node.input[:] = [source.name if n == inp else n for n in node.input]
        nodes.extend(m.graph.node)
        inits.extend(m.graph.initializer)
        outputs.append(m.graph.output[0].name)
    inits.append(numpy_helper.from_array(np.array(1 / len(models), np.float32), "ensemble/weight"))
    nodes.append(helper.make_node("Sum", outputs, ["ensemble/sum"]))
    nodes.append(helper.make_node("Mul", ["ensemble/sum", "ensemble/weight"], [OUTPUT]))
    out = helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph(nodes, "digit_detector_ensemble", [source], [out], inits)
    model = helper.make_model(
        graph, opset_imports=list(first.opset_import), ir_version=first.ir_version
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, *members = (Path(a) for a in args)
    data = ensemble([m.read_bytes() for m in members])
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes, {len(members)} members)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
