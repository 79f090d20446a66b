"""ModelGraph and LayerTable in pytest: what they draw, and clicks both ways with the
state (a click from the page is the canvas trait the page sets)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw
from nnwidgets.views.layer_table import KEYS
from tests import zoo


def nested_state():
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, name="d1"), keras.layers.Dense(5, name="d2")],
        name="encoder",
    )
    x = keras.Input((6,), name="x")
    y = keras.layers.Dense(2, name="head")(inner(x))
    model = keras.Model(x, y)
    return nw.ModelState(model, np.ones((3, 6), "float32"))


def click(view, name: str) -> None:
    """What the page does on a click: it sets the canvas' ``selected``."""
    view.canvas.selected = name


def overlaps(graph: dict) -> list:
    boxes = [
        (
            n["x"] - n["w"] / 2,
            n["y"] - n["h"] / 2,
            n["x"] + n["w"] / 2,
            n["y"] + n["h"] / 2,
            n["id"],
        )
        for n in graph["nodes"]
    ]
    bad = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                bad.append((a[4], b[4]))
    return bad


def test_selected_follows_the_state_and_a_click_sets_it():
    state = nested_state()
    view = nw.ModelGraph(state)
    assert view.nodes == ("x", "encoder", "head")
    assert view.edges == (("x", "encoder"), ("encoder", "head"))
    assert view.selected == state.layer == view.canvas.selected
    state.layer = "encoder"
    assert view.selected == "encoder" and view.canvas.selected == "encoder"
    click(view, "head")
    assert state.layer == "head" and view.selected == "head"
    view.selected = "encoder"
    assert state.layer == "encoder"
    view.close()
    state.layer = "head"
    assert view.selected == "encoder"  # closed: it follows no more


def test_a_click_on_an_input_keeps_the_layer_and_says_why():
    state = nested_state()
    view = nw.ModelGraph(state)
    before = state.layer
    click(view, "x")
    assert state.layer == before and view.canvas.selected == before
    assert "model input" in view.message.value
    view.close()


def test_a_layer_inside_a_closed_model_opens_it_and_the_box_is_drawn():
    state = nested_state()
    view = nw.ModelGraph(state)
    state.layer = "encoder/d2"
    assert view.expanded == ("encoder",)
    assert ("encoder/d1", "encoder/d2") in view.edges and ("x", "encoder/d1") in view.edges
    graph = view.canvas.graph
    assert [b["id"] for b in graph["boxes"]] == ["encoder"]
    box = graph["boxes"][0]
    inside = [n for n in graph["nodes"] if n["id"].startswith("encoder")]
    for n in inside:  # every member within the frame
        assert box["x"] <= n["x"] - n["w"] / 2 and n["x"] + n["w"] / 2 <= box["x"] + box["w"]
    assert view.canvas.selected == "encoder/d2" and view.canvas.holder == ""
    # the page's toggle closes it; the selected layer is then held by its model's node
    view._on_message(view.canvas, {"toggle": "encoder"}, [])
    assert view.expanded == () and "encoder/d1" not in view.nodes
    assert view.canvas.holder == "encoder"
    view.close()


def test_composite_layers_list_their_layers_in_their_node():
    case = zoo.build("text_transformer")
    state = nw.ModelState(case.model, case.x, case.y, **case.kwargs)
    view = nw.ModelGraph(state)
    block = next(n for n in state.layer_names if n.startswith("transformer_block"))
    attention = next(n for n in state.layer_names if n.startswith(block + "/multi_head"))
    state.layer = attention
    assert block in view.expanded
    node = next(n for n in view.canvas.graph["nodes"] if n["id"] == block)
    assert attention in [s["id"] for s in node["subs"]]
    assert attention not in view.nodes  # drawn in its block's node, not laid out alone
    assert view.canvas.holder == block and view.canvas.selected == attention
    closed = next(n for n in view.canvas.graph["nodes"] if n["id"] != block and n["opens"])
    assert closed["subs"] == []
    view.close()


def test_bad_values_are_trait_errors_and_keep_the_value():
    state = nested_state()
    view = nw.ModelGraph(state)
    with pytest.raises(TraitError, match="'nope' is not a layer one can pick"):
        view.selected = "nope"
    with pytest.raises(TraitError, match="'head' cannot open"):
        view.expanded = ("head",)
    assert view.selected == state.layer and view.expanded == ()
    view._on_message(view.canvas, {"toggle": "head"}, [])  # a page's odd message: ignored
    view._on_message(view.canvas, "junk", [])
    assert view.expanded == ()
    view.close()


def test_subclassed_model_says_it_has_no_graph_and_lists_layers_in_a_column():
    case = zoo.build("vae_subclassed")
    state = nw.ModelState(case.model, case.x, case.y, **case.kwargs)
    view = nw.ModelGraph(state)
    assert "no graph" in view.note and view.canvas.graph["note"] == view.note
    assert view.edges == () and view.canvas.graph["edges"] == []
    ys = [n["y"] for n in view.canvas.graph["nodes"]]
    assert len(ys) >= 2 and ys == sorted(ys) and len(set(ys)) == len(ys)
    view.close()


def test_densenet_graph_is_bounded_and_has_no_overlapping_nodes():
    case = zoo.build("densenet121")
    state = nw.ModelState(case.model, case.x, case.y)
    view = nw.ModelGraph(state)
    graph = view.canvas.graph
    assert len(graph["nodes"]) == len(case.model.layers) == 429
    assert len(json.dumps(graph)) < 1_000_000
    assert overlaps(graph) == []
    by_id = {n["id"]: n for n in graph["nodes"]}
    for edge in graph["edges"]:  # each path starts at its source's box and ends at its target's
        start = [float(v) for v in edge["d"][1:].split(" ")[0].split(",")]
        end = [float(v) for v in edge["d"].split(" ")[-1].split(",")]
        s, t = by_id[edge["s"]], by_id[edge["t"]]
        assert abs(start[0] - s["x"]) <= s["w"] / 2 and abs(end[0] - t["x"]) <= t["w"] / 2
        assert end[1] > start[1]  # downward (no cycles here)
    view.close()


# -- the layer table ------------------------------------------------------------------
def test_table_rows_sort_and_a_row_click_picks_the_layer():
    x, y = nw.datasets.load_digits(64)
    state = nw.ModelState(nw.datasets.demo_model(), x, y)
    table = nw.LayerTable(state)
    names = [row[1] for row in table.rows]
    assert names == list(state.layer_names)  # graph order
    params = {row[1]: row[4] for row in table.rows}
    for layer in state.model.layers:
        assert params[layer.name] == layer.count_params()
    table.sort_by, table.descending = "params", True
    shown = [row[4] for row in table.rows]
    assert shown == sorted(shown, reverse=True)
    assert [r["id"] for r in table.canvas.rows] == [row[1] for row in table.rows]
    table.canvas.sort_by = "name"  # a click on a column title, from the page
    assert table.sort_by == "name"
    table.canvas.selected = names[1]
    assert state.layer == names[1] and table.selected == names[1]
    sent = table.canvas.rows
    state.layer = names[0]
    assert table.canvas.selected == names[0]
    assert table.canvas.rows is sent  # a pick moves the highlight, sends no rows
    state.model.get_layer(names[0]).trainable = False  # frozen since the table was made
    state.refresh()
    assert next(row for row in table.rows if row[1] == names[0])[5] == 0
    assert all(row[6] is None and row[7] is None for row in table.rows)  # nothing recorded
    assert table.canvas.rows[0]["cells"][6] == "\u2013"
    with pytest.raises(TraitError, match="sort_by must be one of"):
        table.sort_by = "colour"
    assert table.sort_by == "name" and set(KEYS) >= {"gradient", "dead"}
    table.close()


def test_table_shows_the_latest_gradient_norms_and_dead_units_recorded():
    x, y = nw.datasets.load_digits(128)
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:64], y[:64])
    dyn = nw.TrainingDynamics(state, budget=1.0)
    table = nw.LayerTable(state, recorder=dyn.recorder, sort_by="gradient", descending=True)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[dyn.callback])
    last = next(r for _, r in reversed(dyn.recorder.dynamics.log.items()) if r.gradients)
    rows = {row[1]: row for row in table.rows}
    assert last.gradients and all(rows[n][6] == pytest.approx(v) for n, v in last.gradients.items())
    recorded = [row[6] for row in table.rows if row[6] is not None]
    assert recorded == sorted(recorded, reverse=True) and table.rows[0][6] == max(recorded)
    assert any(row[7] is not None for row in table.rows)
    dyn.close()
    table.close()


def test_a_model_built_by_its_first_data_is_drawn_again():
    inner = keras.Sequential([keras.layers.Dense(3, name="d")], name="inner")
    model = keras.Sequential([keras.layers.Dense(3, name="a"), inner])  # no Input: unbuilt
    state = nw.ModelState(model)
    view, table = nw.ModelGraph(state), nw.LayerTable(state)
    state.set_data(np.ones((2, 4), "float32"))  # builds it
    assert view.note == "" and len(view.edges) == 2  # input -> a -> inner
    view.expanded = ("inner",)
    assert view.error == "" and ("a", "inner/d") in view.edges
    rows = {row[1]: row for row in table.rows}
    assert rows["a"][3] == "(N, 3)" and rows["a"][4] == rows["a"][5] == 15
    view.close()
    table.close()


def test_dashboard_has_a_model_tab_and_an_attention_tab_only_with_attention():
    x, y = nw.datasets.load_digits(32)
    app = nw.explore(nw.datasets.demo_model(), x, y)
    assert app.tabs.titles[-1] == "Model" and app.attention is None
    app.tabs.selected_index = app.tabs.titles.index("Model")  # a person opens the tab
    assert isinstance(app.graph, nw.ModelGraph) and isinstance(app.table, nw.LayerTable)
    assert app.table.recorder is app.dynamics.recorder  # its gradients are the tab's
    first = app.state.layer_names[0]
    click(app.graph, first)  # the graph picks for every view
    assert app.state.layer == first and app.weights.variable.split("/")[-2] == first
    assert app.table.canvas.selected == app.state.layer_names[0]
    app.close()
    case = zoo.build("text_transformer")
    text = nw.explore(case.model, case.x, case.y, **case.kwargs)
    assert text.tabs.titles[-2:] == ("Model", "Attention")
    assert "multi_head_attention" in text.attention.layer and text.attention.error == ""
    text.close()
