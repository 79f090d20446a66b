"""structure.layer_graph against Keras' own node graph, on branching, shared-layer,
multi-input/output, nested, subclassed and zoo models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nnwidgets import ModelState
from nnwidgets.compute.graph import graph_of, layer_table
from nnwidgets.structure import describe, has_graph, layer_graph, openable
from tests import zoo


def keras_edges(model) -> set[tuple[str, str]]:
    """The reference: every Keras node of the model's graph, and the node it came from
    (``node.parent_nodes``), by layer name."""
    from keras.src.ops.function import make_node_key

    graph = graph_of(model)
    members = graph._nodes
    edges = set()
    for op in graph.operations:
        for i, node in enumerate(op._inbound_nodes):
            if make_node_key(op, i) not in members:
                continue
            for parent in node.parent_nodes:
                edges.add((parent.operation.name, op.name))
    return edges


def reachable(edges, starts) -> set[str]:
    seen, todo = set(starts), list(starts)
    while todo:
        here = todo.pop()
        for s, t in edges:
            if s == here and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def branching():
    x = keras.Input((8, 8, 1), name="image")
    a = keras.layers.Conv2D(2, 3, padding="same", name="left")(x)
    b = keras.layers.Conv2D(2, 1, name="right")(x)
    c = keras.layers.Concatenate(name="join")([a, b])
    y = keras.layers.Add(name="skip")([c, keras.layers.Conv2D(4, 1, name="proj")(x)])
    out = keras.layers.Dense(3, name="head")(keras.layers.Flatten(name="flat")(y))
    return keras.Model(x, out)


def shared_and_multi():
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    unused = keras.Input((2,), name="unused")
    shared = keras.layers.Dense(4, name="shared")
    ha, hb = shared(a), shared(b)
    twice = shared(shared(ha))  # a shared layer fed by itself
    merged = keras.layers.Concatenate(name="merge")([twice, hb])
    out1 = keras.layers.Dense(1, name="score")(merged)
    out2 = keras.layers.Dense(3, name="kind")(hb)
    return keras.Model([a, b, unused], [out1, out2])


def nested():
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, name="d1"), keras.layers.Dense(5, name="d2")],
        name="encoder",
    )
    x = keras.Input((6,), name="x")
    z = inner(x)
    y = keras.layers.Dense(2, name="head")(keras.layers.Dense(5, name="mid")(z))
    return keras.Model(x, [y, keras.layers.Dense(1, name="aux")(z)])


@pytest.mark.parametrize("make", [branching, shared_and_multi, nested])
def test_edges_equal_keras_node_graph(make):
    model = make()
    nodes, edges = layer_graph(model)
    assert set(edges) == keras_edges(model)
    assert len(edges) == len(set(edges))  # each pair once
    names = {info.name for info in layer_table(model) if "/" not in info.name}
    assert names <= set(nodes)  # collapsed: the top-level layers
    assert {t._keras_history.operation.name for t in model.inputs} <= set(nodes)


def test_shared_layer_is_one_node_with_every_call():
    nodes, edges = layer_graph(shared_and_multi())
    assert nodes.count("shared") == 1
    assert {("a", "shared"), ("b", "shared"), ("shared", "shared")} <= set(edges)
    assert "unused" in nodes and not any(s == "unused" for s, _ in edges)


def test_keras_ops_are_wired_through():
    x = keras.Input((4,), name="x")
    a = keras.layers.Dense(4, name="a")(x)
    b = keras.layers.Dense(4, name="b")(x)
    summed = keras.ops.add(a, b) * 2.0  # two ops, not layers
    model = keras.Model(x, keras.layers.Dense(1, name="out")(summed))
    nodes, edges = layer_graph(model)
    assert nodes == ["x", "a", "b", "out"]
    assert set(edges) == {("x", "a"), ("x", "b"), ("a", "out"), ("b", "out")}


def test_expanded_nested_model_is_wired_to_what_feeds_and_reads_it():
    model = nested()
    nodes, edges = layer_graph(model, expand_nested=True)
    assert {("x", "encoder/d1"), ("encoder/d1", "encoder/d2"), ("encoder/d2", "encoder")} <= set(
        edges
    )
    assert {("encoder", "mid"), ("encoder", "aux")} <= set(edges)
    assert ("x", "encoder") not in edges  # the nested model's layers take its input
    assert nodes.index("encoder/d2") < nodes.index("encoder")
    collapsed, _ = layer_graph(model, expand_nested={"nothing"})
    assert "encoder/d1" not in collapsed
    assert layer_graph(model, expand_nested={"encoder"}) == (nodes, edges)


def test_nested_model_called_twice_with_named_inputs():
    a_in, b_in = keras.Input((3,), name="p"), keras.Input((3,), name="q")
    pair = keras.Model(
        {"p": a_in, "q": b_in},
        keras.layers.Add(name="sum")(
            [keras.layers.Dense(3, name="pa")(a_in), keras.layers.Dense(3, name="qa")(b_in)]
        ),
        name="pair",
    )
    u, v = keras.Input((3,), name="u"), keras.Input((3,), name="v")
    model = keras.Model([u, v], [pair({"p": u, "q": v}), pair({"p": v, "q": u})])
    nodes, edges = layer_graph(model, expand_nested=True)
    # each outer input feeds both inner branches (one call each way round)
    assert {("u", "pair/pa"), ("v", "pair/qa"), ("v", "pair/pa"), ("u", "pair/qa")} <= set(edges)
    assert ("pair/sum", "pair") in edges


@pytest.mark.parametrize("name", zoo.SMALL)
def test_zoo_expanded_graph_names_every_pickable_layer_and_joins_inputs_to_outputs(name):
    case = zoo.build(name)
    model = case.model
    state = ModelState(model, case.x, case.y, **case.kwargs)
    nodes, edges = layer_graph(model, expand_nested=True)
    assert set(state.layer_names) <= set(nodes), set(state.layer_names) - set(nodes)
    assert len(nodes) == len(set(nodes))
    if not has_graph(model):
        assert edges == []
        return
    assert set(nodes) >= {n for e in edges for n in e}
    inputs = [t._keras_history.operation.name for t in model.inputs]
    ends = reachable(edges, inputs)
    outputs = [t._keras_history.operation.name for t in model.outputs]
    top_outputs = [o for o in outputs if o in nodes]
    assert top_outputs and set(top_outputs) <= ends
    collapsed, flat_edges = layer_graph(model)
    assert set(flat_edges) == keras_edges(model) or _has_ops(model)


def _has_ops(model) -> bool:
    return any(not isinstance(op, keras.layers.Layer) for op in graph_of(model).operations)


def test_subclassed_model_lists_its_layers_without_edges():
    case = zoo.build("vae_subclassed")
    assert not has_graph(case.model)
    nodes, edges = layer_graph(case.model)
    assert edges == []
    assert nodes == [info.name for info in layer_table(case.model) if "/" not in info.name]


def test_composite_layers_open_to_their_sublayers():
    case = zoo.build("text_transformer")
    block = next(la.name for la in case.model.layers if la.name.startswith("transformer_block"))
    assert block in openable(case.model)
    nodes, edges = layer_graph(case.model, expand_nested={block})
    inside = [n for n in nodes if n.startswith(block + "/")]
    assert any(type_ == "MultiHeadAttention" for type_ in _types(case.model, inside))
    assert nodes.index(inside[0]) == nodes.index(block) + 1
    assert not any(n in inside for e in edges for n in e)  # Keras keeps no graph of them
    assert layer_graph(case.model)[1] == edges


def _types(model, names) -> list[str]:
    return [info.type_name for info in describe(model, names).values()]


def test_describe_says_what_each_node_is():
    model = nested()
    info = describe(model, layer_graph(model, expand_nested=True)[0])
    assert info["x"].kind == "input" and info["x"].output_shape == "(N, 6)"
    assert info["encoder"].kind == "model" and info["encoder"].params == 6 * 5 + 5 + 5 * 5 + 5
    assert info["encoder/d1"].inside == "encoder" and info["encoder/d1"].type_name == "Dense"
    frozen = keras.layers.Dense(2, name="frozen")
    frozen.trainable = False
    m = keras.Sequential([keras.Input((3,)), frozen, keras.layers.Dense(1, name="t")])
    rows = describe(m, ["frozen", "t"])
    assert (rows["frozen"].params, rows["frozen"].trainable_params) == (8, 0)
    with pytest.raises(ValueError, match="'nope' is not a layer"):
        describe(m, ["nope"])


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(TypeError, match="expected a keras.Model, got ndarray"):
        layer_graph(np.zeros(3))
    with pytest.raises(TypeError, match="write \\{'encoder'\\}"):
        layer_graph(nested(), expand_nested="encoder")
