"""The network as a graphviz DOT string for the Model page: one box per layer that computes,
the layers folded into it (`model.runtime.graph.folded_graph`) named beneath."""

from __future__ import annotations

import html
from collections.abc import Collection

#: The shade of the layers a map can explain.
SHADE = "#fde2d8"


def node(name: str) -> str:
    """A layer's graphviz ID, quoted (Keras allows any characters in a name)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def box(name: str, folded: list[str], shaded: bool) -> str:
    """A graphviz node: the layer, the layers drawn inside it in smaller type beneath (an
    HTML label: the names escaped, or a layer called `dense&<1>` showed no text)."""
    names = html.escape(", ".join(folded))
    under = f'<BR/><FONT POINT-SIZE="10">{names}</FONT>' if folded else ""
    fill = f' style=filled fillcolor="{SHADE}"' if shaded else ""
    return f"{node(name)} [label=<{html.escape(name)}{under}>{fill}]"


def network_dot(
    boxes: dict[str, list[str]],
    edges: list[tuple[str, str]],
    shaded: Collection[str] = (),
    direction: str = "LR",
) -> str:
    """The DOT of a folded graph, left to right (`direction` "LR") or top to bottom ("TB":
    a phone's column, where the row was shrunk until it could not be read); `shaded`: the
    layers a map can explain."""
    return (
        f"digraph {{ rankdir={direction}; nodesep=0.2; ranksep=0.35; "
        'node [shape=box fontsize=14 fontname="sans-serif" margin="0.1,0.05"]; '
        + "; ".join(box(n, folded, n in shaded) for n, folded in boxes.items())
        + "; "
        + "; ".join(f"{node(a)} -> {node(b)}" for a, b in edges)
        + " }"
    )
