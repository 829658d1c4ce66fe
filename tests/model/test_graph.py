"""Layer tables and edges through Keras' public config, for functional and Sequential models."""

from __future__ import annotations

import keras

from model.runtime.graph import folded_graph, layer_edges, layer_table


def _branching() -> keras.Model:
    x = keras.Input((8, 8, 1), name="image")
    a = keras.layers.Conv2D(2, 3, padding="same", name="conv1")(x)
    b1 = keras.layers.Conv2D(2, 3, padding="same", name="conv2_1")(a)
    b2 = keras.layers.Conv2D(2, 3, padding="same", name="conv2_2")(a)
    c = keras.layers.Concatenate(name="conv3")([b1, b2])
    out = keras.layers.Dense(3, name="output")(keras.layers.Flatten(name="flatten")(c))
    return keras.Model(x, out)


def test_edges_follow_the_branches_and_the_concatenation():
    edges = set(layer_edges(_branching()))
    assert edges == {
        ("image", "conv1"),
        ("conv1", "conv2_1"),
        ("conv1", "conv2_2"),
        ("conv2_1", "conv3"),
        ("conv2_2", "conv3"),
        ("conv3", "flatten"),
        ("flatten", "output"),
    }


def test_sequential_models_are_a_chain():
    net = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")]
    )
    assert layer_edges(net) == [("a", "b")]


def test_layer_table_has_shapes_and_parameters():
    rows = {r.name: r for r in layer_table(_branching())}
    assert rows["conv1"].kind == "Conv2D"
    assert rows["conv1"].output_shape == (8, 8, 2)
    assert rows["conv1"].parameters == 3 * 3 * 1 * 2 + 2
    assert rows["conv3"].output_shape == (8, 8, 4)


def test_bundled_cnn_graph_has_both_branches(mnist_cnn):
    edges = set(layer_edges(mnist_cnn.net))
    assert {("conv3_1", "conv3"), ("conv3_2", "conv3")} <= edges


def test_folded_graph_draws_the_computing_layers_with_the_rest_inside(mnist_cnn):
    kinds = {r.name: r.kind for r in layer_table(mnist_cnn.net)}
    boxes, edges = folded_graph(layer_edges(mnist_cnn.net), kinds)
    assert boxes == {
        "image": [],
        "conv1": ["conv1_bn", "pool1"],
        "conv2_1": ["conv2_1_bn", "pool2_1"],
        "conv2_2": ["conv2_2_bn", "pool2_2"],
        "conv3_1": [],
        "conv3_2": [],
        "conv3": ["conv3_bn", "pool3", "flatten", "dropout1"],
        "fc1": ["dropout2"],
        "fc2": [],
        "output": [],
    }
    assert {("conv1", "conv2_1"), ("conv1", "conv2_2"), ("conv3_1", "conv3")} <= set(edges)
    assert ("conv3", "fc1") in edges and len(edges) == 10


def test_folding_keeps_every_branch_and_join():
    """A layer that feeds two others keeps its normalisation out of its box (the branch
    would vanish); a pooling after a join folds into the join's box."""
    edges = [("x", "conv"), ("conv", "bn"), ("conv", "side"), ("bn", "add"), ("side", "add")]
    edges += [("add", "pool")]
    kinds = {"conv": "Conv2D", "bn": "BatchNormalization", "side": "Conv2D", "add": "Add"}
    boxes, drawn = folded_graph(edges, kinds | {"pool": "MaxPooling2D", "x": "InputLayer"})
    assert boxes == {"x": [], "conv": [], "bn": [], "side": [], "add": ["pool"]}
    assert drawn == edges[:-1]
