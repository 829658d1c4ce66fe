"""Batch norms after a ReLU, folded into their neighbours before int8 quantization.

The CNNs normalise after each ReLU: y = relu(z) * s + b, per channel (`model.architecture`;
tf2onnx writes it as a Mul and an Add). Quantized as they are, those two elementwise ops
run on every full-size feature map (QLinearMul, QLinearAdd: 40 % of int8's time, and
they hardly use a second thread). Three rewrites remove them, each exact in real
arithmetic:

1. relu(z) * s = relu(z * s) where every s > 0: the Mul goes into the convolution that
   makes z (its weights and bias scaled per output channel); behind a Concat of several
   ReLUs, each convolution takes its own channels' share of s.
2. maxpool(v + b) = maxpool(v) + b: the Add moves behind the MaxPool that follows it,
   onto a quarter of the values.
3. An Add that reaches a MatMul only through Transpose(0, 2, 3, 1) and a flatten (and the
   Shape the flatten reads) goes into that MatMul's bias: b tiled over the positions,
   times the weights.

A Mul with any s <= 0 is left alone, and so is every pattern not exactly as above. In
float32 the folded graph differs from the original by rounding only (< 1e-5 on the
bundled models' probabilities; tests/model/test_norm_fold.py).
"""

from __future__ import annotations

import numpy as np


class _Graph:
    """An ONNX graph's nodes, constants, producers and consumers (rebuilt after each edit:
    the graphs are a few dozen nodes)."""

    def __init__(self, model) -> None:
        self.g = model.graph
        self.refresh()

    def refresh(self) -> None:
        from onnx import numpy_helper

        self.consts = {i.name: i for i in self.g.initializer}
        self.values = {name: numpy_helper.to_array(t) for name, t in self.consts.items()}
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in self.g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.outputs = {o.name for o in self.g.output}

    def readers(self, name: str) -> int:
        """How many nodes read the tensor `name`, and the caller if it is a graph output."""
        return len(self.consumers.get(name, [])) + (name in self.outputs)

    def set(self, name: str, value: np.ndarray) -> None:
        from onnx import numpy_helper

        self.consts[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
        self.values[name] = value.astype(np.float32)

    def constant_and_input(self, node) -> tuple[str, str] | None:
        """(constant, other input) of a two-input node with one constant input."""
        const = [i for i in node.input if i in self.consts]
        other = [i for i in node.input if i not in self.consts]
        return (const[0], other[0]) if len(const) == 1 and len(other) == 1 else None

    def only_consumer(self, name: str, op: str):
        found = self.consumers.get(name, [])
        ok = len(found) == 1 and self.readers(name) == 1 and found[0].op_type == op
        return found[0] if ok else None

    def bypass(self, node, source: str) -> None:
        """Remove `node`, its consumers reading `source` instead."""
        for n in self.g.node:
            for j, i in enumerate(n.input):
                if i == node.output[0]:
                    n.input[j] = source
        self.g.node.remove(node)
        self.refresh()


def _scale_convs(graph: _Graph, mul) -> str | None:
    """Rewrite 1 for one Mul: its positive per-channel scale into the convolution(s)."""
    pair = graph.constant_and_input(mul)
    if pair is None:
        return None
    const, x = pair
    s = graph.values[const].reshape(-1)
    if graph.values[const].ndim != 4 or not (s > 0).all() or mul.output[0] in graph.outputs:
        return None
    source = graph.producer.get(x)
    relus = [source] if source is not None and source.op_type == "Relu" else []
    if source is not None and source.op_type == "Concat":
        relus = [graph.producer.get(i) for i in source.input]
    convs = []
    for relu in relus:
        conv = graph.producer.get(relu.input[0]) if relu is not None else None
        if relu is None or relu.op_type != "Relu" or conv is None or conv.op_type != "Conv":
            return None
        if graph.readers(conv.output[0]) != 1 or graph.readers(relu.output[0]) != 1:
            return None  # someone else reads the unscaled map
        convs.append(conv)
    if not convs or sum(graph.values[c.input[1]].shape[0] for c in convs) != s.size:
        return None
    start = 0
    for conv in convs:
        w = graph.values[conv.input[1]]
        share = s[start : start + w.shape[0]]
        start += w.shape[0]
        graph.set(conv.input[1], w * share[:, None, None, None])
        if len(conv.input) > 2 and conv.input[2]:
            graph.set(conv.input[2], graph.values[conv.input[2]] * share)
    graph.bypass(mul, x)
    return f"{mul.name}: into {', '.join(c.name for c in convs)}"


def _add_behind_pool(graph: _Graph, add) -> str | None:
    """Rewrite 2 for one Add of a per-channel constant followed by a MaxPool."""
    pair = graph.constant_and_input(add)
    pool = graph.only_consumer(add.output[0], "MaxPool")
    if pair is None or pool is None or graph.values[pair[0]].ndim != 4:
        return None
    x = pair[1]
    pooled, out = f"{pool.output[0]}/before_{add.name}", pool.output[0]
    pool.input[0], pool.output[0] = x, pooled
    add.input[list(add.input).index(x)], add.output[0] = pooled, out
    _sort(graph)
    return f"{add.name}: behind {pool.name}"


def _add_into_matmul(graph: _Graph, add) -> str | None:
    """Rewrite 3 for one Add of a per-channel constant that a flatten feeds to a MatMul."""
    pair = graph.constant_and_input(add)
    if pair is None or graph.values[pair[0]].ndim != 4:
        return None
    const, x = pair
    readers = graph.consumers.get(add.output[0], [])
    if add.output[0] in graph.outputs:
        return None
    transposes = [n for n in readers if n.op_type == "Transpose"]
    if len(transposes) != 1 or any(n.op_type not in ("Transpose", "Shape") for n in readers):
        return None
    perm = [list(a.ints) for a in transposes[0].attribute if a.name == "perm"]
    flat = graph.only_consumer(transposes[0].output[0], "Reshape")
    matmul = graph.only_consumer(flat.output[0], "MatMul") if flat is not None else None
    bias = graph.only_consumer(matmul.output[0], "Add") if matmul is not None else None
    if perm != [[0, 2, 3, 1]] or bias is None or matmul.input[1] not in graph.consts:
        return None
    bias_pair = graph.constant_and_input(bias)
    if bias_pair is None:
        return None
    w, b = graph.values[matmul.input[1]], graph.values[const].reshape(-1)
    if w.shape[0] % b.size:
        return None
    # Channels last after the Transpose, so a flattened position's channel is i % C.
    graph.set(bias_pair[0], graph.values[bias_pair[0]] + np.tile(b, w.shape[0] // b.size) @ w)
    for shape in (n for n in readers if n.op_type == "Shape"):
        shape.input[0] = x  # (the same shape)
    graph.bypass(add, x)
    return f"{add.name}: into {bias.name}"


def _sort(graph: _Graph) -> None:
    """The nodes in an order where every input is made before it is read."""
    from onnx import NodeProto

    made = {i.name for i in graph.g.input} | set(graph.consts) | {""}
    todo = [NodeProto.FromString(n.SerializeToString()) for n in graph.g.node]
    ordered = []
    while todo:
        ready = next(n for n in todo if all(i in made for i in n.input))
        ordered.append(ready)
        made.update(ready.output)
        todo.remove(ready)
    del graph.g.node[:]
    graph.g.node.extend(ordered)
    graph.refresh()


def fold_norms(model):
    """A copy of the ONNX `model` with its post-ReLU batch norms folded (module docstring),
    and one line per rewrite made (none: a model without such norms comes back as it was)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = _Graph(out)
    done = []
    rewrites = (("Mul", _scale_convs), ("Add", _add_behind_pool), ("Add", _add_into_matmul))
    for op, rewrite in rewrites:
        for name in [n.name for n in graph.g.node if n.op_type == op]:
            node = next((n for n in graph.g.node if n.name == name), None)
            step = rewrite(graph, node) if node is not None else None
            if step:
                done.append(step)
    used = {i for n in graph.g.node for i in n.input}
    for init in [i for i in graph.g.initializer if i.name not in used]:
        graph.g.initializer.remove(init)
    onnx.checker.check_model(out)
    return out, done
