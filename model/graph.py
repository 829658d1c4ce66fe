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
