"""The Model page's network graph as DOT: every layer name drawn as written."""

from __future__ import annotations

import re

from ui.network import network_dot


def test_names_graphviz_reads_specially_are_escaped():
    """A layer called `dense&<1>` showed an empty box (its HTML label broke), and a quote
    in a name would end its ID."""
    boxes = {"image": [], "dense&<1>": ["drop<2>"], 'say "hi"': [], "back\\slash": []}
    edges = [("image", "dense&<1>"), ("dense&<1>", 'say "hi"'), ('say "hi"', "back\\slash")]
    dot = network_dot(boxes, edges, shaded={"dense&<1>"})
    assert "label=<dense&amp;&lt;1&gt;<BR/>" in dot and "drop&lt;2&gt;" in dot
    assert '"say \\"hi\\"" -> "back\\\\slash"' in dot
    assert dot.count("fillcolor") == 1
    # Every quoted ID closes: an even number of unescaped quotes.
    assert len(re.findall(r'(?<!\\)"', dot)) % 2 == 0
