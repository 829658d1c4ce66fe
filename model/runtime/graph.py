"""A model's layers and their connections, read through Keras' public API only.

The Model page draws these; they come from `keras.Model.get_config()` (the same
structure a `.keras` file stores), not from private tensor attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerRow:
    """One line of the layer table."""

    name: str
    kind: str  # the layer's class name, e.g. "Conv2D"
    output_shape: tuple[int | None, ...]  # without the batch axis
    parameters: int


def layer_table(net: Any) -> list[LayerRow]:
    """Every layer of a built Keras model, in order, with its output shape and size."""
    rows = []
    for layer in net.layers:
        out = getattr(layer, "output", None)
        shape = tuple(out.shape[1:]) if out is not None else ()
        rows.append(LayerRow(layer.name, type(layer).__name__, shape, layer.count_params()))
    return rows


def _histories(node: Any) -> Iterator[str]:
    """Names of the layers whose outputs feed an inbound node (nested lists, tuples, dicts)."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if "config" in node else None
        if history:
            yield history[0]
        for value in node.values():
            yield from _histories(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _histories(value)


def layer_edges(net: Any) -> list[tuple[str, str]]:
    """(source layer, destination layer) for every connection of a functional model.

    A Sequential model's config has no inbound nodes: its layers form a chain.
    """
    config = net.get_config()
    layers = config.get("layers", [])
    if layers and not any("inbound_nodes" in layer for layer in layers):
        names = [layer.name for layer in net.layers]
        return list(zip(names, names[1:], strict=False))
    edges: list[tuple[str, str]] = []
    for layer in layers:
        for src in dict.fromkeys(_histories(layer.get("inbound_nodes", []))):
            edges.append((src, layer["name"]))
    return edges


#: Layers that normalise, pool, reshape or regularise what the layer before them made:
#: drawn inside that layer's box (`folded_graph`), so the boxes are the layers that compute.
FOLDED_KINDS = frozenset(
    {
        "Activation",
        "AveragePooling2D",
        "BatchNormalization",
        "Dropout",
        "Flatten",
        "GaussianNoise",
        "LayerNormalization",
        "MaxPooling2D",
        "ReLU",
        "Reshape",
        "SpatialDropout2D",
    }
)


def folded_graph(
    edges: list[tuple[str, str]], kinds: dict[str, str]
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The graph with each FOLDED_KINDS layer drawn inside the box before it: ({box: the
    layers folded into it, in order}, the edges between boxes). A layer folds only where
    the layer before it feeds nothing else and it has no other input, so every branch and
    join stays drawn. The bundled CNN's 21 layers become 10 boxes."""
    into: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    ins: dict[str, list[str]] = {}
    for src, dst in edges:
        outs.setdefault(src, []).append(dst)
        ins.setdefault(dst, []).append(src)
    names = list(dict.fromkeys(n for edge in edges for n in edge))
    box = {n: n for n in names}  # layer -> the box it is drawn in
    for n in names:  # (in the config's order: a layer's source is placed before it)
        sources = ins.get(n, [])
        src = sources[0] if len(sources) == 1 else None
        if src is not None and kinds.get(n) in FOLDED_KINDS and outs[src] == [n]:
            box[n] = box[src]
            into.setdefault(box[src], []).append(n)
    boxes = {n: into.get(n, []) for n in names if box[n] == n}
    drawn = [(box[a], box[b]) for a, b in edges if box[a] != box[b]]
    return boxes, list(dict.fromkeys(drawn))


# ---------------------------------------------------------------- spatial layers
# Keras 3 cannot build `Model(outer.inputs, inner_layer.output)` when the layer lives in a
# nested model (a backbone inside a classifier), so explanations never need that: they find
# layers here, by name, at any depth, and read their outputs while the whole network runs
# (`model.why.passes.Passes`).


def walk_layers(net: Any) -> Iterator[Any]:
    """Every layer of `net` in forward order, nested models' own layers just before them."""
    for layer in getattr(net, "layers", ()):
        if getattr(layer, "layers", None):  # a nested Model / Sequential
            yield from walk_layers(layer)
        yield layer


def find_layer(net: Any, name: str) -> Any:
    """The layer called `name` at any depth (the outermost first); KeyError if none."""
    for layer in getattr(net, "layers", ()):
        if layer.name == name:
            return layer
    for layer in walk_layers(net):
        if layer.name == name:
            return layer
    raise KeyError(name)


def output_shape(layer: Any) -> tuple[int | None, ...] | None:
    """A layer's output shape without the batch axis; None when Keras does not know it."""
    try:
        out = layer.output
    except (AttributeError, ValueError, RuntimeError):  # never called on a symbolic input
        return None
    shape = getattr(out, "shape", None)
    return None if shape is None else tuple(shape[1:])


def spatial_layers(net: Any) -> tuple[str, ...]:
    """Names of the layers with a (h, w, c) output (4-D with the batch), in forward order,
    inside nested models too; the input layers are left out."""
    names = []
    for layer in walk_layers(net):
        if type(layer).__name__ == "InputLayer":
            continue
        shape = output_shape(layer)
        if shape is not None and len(shape) == 3 and layer.name not in names:
            names.append(layer.name)
    return tuple(names)


def last_spatial_layer(net: Any, names: tuple[str, ...]) -> str:
    """The last of `names` whose map is bigger than 1x1 (a 1x1 map cannot point anywhere),
    else the last one. A nested model is passed over for its own last layer (same map)."""
    layers = [(name, find_layer(net, name)) for name in names]
    plain = [(n, la) for n, la in layers if not getattr(la, "layers", None)] or layers
    for name, layer in reversed(plain):
        shape = output_shape(layer) or (1, 1)
        if (shape[0] or 1) * (shape[1] or 1) > 1:
            return name
    return plain[-1][0]
