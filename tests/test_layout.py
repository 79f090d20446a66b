"""The layered layout of a model's layer graph (nnwidgets.compute.layout)."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from nnwidgets.compute.layout import DEFAULT_SIZE, crossings, layered_layout

GAP_X = 24


def residual():
    """a -> b -> c -> add, with the skip a -> add."""
    return ["a", "b", "c", "add"], [("a", "b"), ("b", "c"), ("c", "add"), ("a", "add")]


def random_dag(n: int, seed: int = 0):
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(n)]
    edges = [
        (nodes[i], nodes[j])
        for j in range(1, n)
        for i in rng.sample(range(j), min(j, rng.choice([1, 1, 2, 3])))
    ]
    return nodes, edges


def boxes_by_rank(lay, sizes=None):
    rows = {}
    for name, r in lay.layer.items():
        w, h = (sizes or {}).get(name, DEFAULT_SIZE)
        rows.setdefault(r, []).append((lay.x[name] - w / 2, lay.x[name] + w / 2, name))
    return {r: sorted(row) for r, row in rows.items()}


def assert_edges_flow_down(lay, sizes=None):
    for (s, t), pts in lay.routes.items():
        if (s, t) in lay.reversed:
            continue
        assert lay.layer[t] > lay.layer[s], (s, t)
        hs, ht = (sizes or {}).get(s, DEFAULT_SIZE)[1], (sizes or {}).get(t, DEFAULT_SIZE)[1]
        assert pts[0] == pytest.approx((lay.x[s], lay.y[s] + hs / 2))
        assert pts[-1] == pytest.approx((lay.x[t], lay.y[t] - ht / 2))
        assert len(pts) == lay.layer[t] - lay.layer[s] + 1
        assert [y for _, y in pts] == sorted(y for _, y in pts)


def assert_no_overlap(lay, sizes=None, gap=GAP_X):
    for row in boxes_by_rank(lay, sizes).values():
        for (_, right, a), (left, _, b) in pairwise(row):
            assert left - right >= gap - 1e-9, (a, b)


def test_a_chain_is_a_vertical_line():
    nodes = [f"l{i}" for i in range(12)]
    lay = layered_layout(nodes, list(pairwise(nodes)))
    assert len({lay.x[n] for n in nodes}) == 1
    ys = [lay.y[n] for n in nodes]
    assert all(b > a for a, b in pairwise(ys))
    assert [lay.layer[n] for n in nodes] == list(range(12))
    assert lay.width == pytest.approx(DEFAULT_SIZE[0])


def test_edges_go_down_from_source_to_target_and_boxes_do_not_overlap():
    nodes, edges = random_dag(60, seed=3)
    sizes = {n: (60 + 10 * (i % 7), 20 + 4 * (i % 5)) for i, n in enumerate(nodes)}
    lay = layered_layout(nodes, edges, sizes)
    assert not lay.reversed
    assert set(lay.routes) == set(edges)
    assert_edges_flow_down(lay, sizes)
    assert_no_overlap(lay, sizes)
    for name in nodes:
        w, h = sizes[name]
        assert 0 <= lay.x[name] - w / 2 and lay.x[name] + w / 2 <= lay.width + 1e-9
        assert 0 <= lay.y[name] - h / 2 and lay.y[name] + h / 2 <= lay.height + 1e-9


def test_a_crossing_in_the_given_order_is_undone():
    # given order puts c before d, but a (first) feeds d and b feeds c; a 3x3 one below
    nodes = ["a", "b", "c", "d", "t0", "t1", "t2", "u0", "u1", "u2"]
    edges = [("a", "d"), ("b", "c")]
    edges += [("t0", "u2"), ("t1", "u0"), ("t2", "u1"), ("t0", "u1")]
    assert crossings(layered_layout(nodes, edges, sweeps=0)) > 0
    lay = layered_layout(nodes, edges)
    assert crossings(lay) == 0
    assert (lay.x["a"] < lay.x["b"]) == (lay.x["d"] < lay.x["c"])


def test_a_cycle_and_a_self_loop_are_laid_out_and_listed_as_reversed():
    nodes = ["in", "cell", "mix", "out"]
    edges = [("in", "cell"), ("cell", "mix"), ("mix", "cell"), ("mix", "mix"), ("mix", "out")]
    lay = layered_layout(nodes, edges)
    assert lay.reversed == {("mix", "cell"), ("mix", "mix")}
    assert set(lay.routes) == set(edges)
    assert_edges_flow_down(lay)
    h = DEFAULT_SIZE[1]
    back = lay.routes[("mix", "cell")]  # drawn upward, from mix's top to cell's bottom
    assert back[0] == pytest.approx((lay.x["mix"], lay.y["mix"] - h / 2))
    assert back[-1] == pytest.approx((lay.x["cell"], lay.y["cell"] + h / 2))
    loop = lay.routes[("mix", "mix")]
    assert loop[0] == pytest.approx((lay.x["mix"], lay.y["mix"] + h / 2))
    assert loop[-1] == pytest.approx((lay.x["mix"], lay.y["mix"] - h / 2))
    assert max(x for x, _ in loop) > lay.x["mix"] + DEFAULT_SIZE[0] / 2
    assert max(x for x, _ in loop) <= lay.width


def test_a_two_node_cycle_reverses_the_edge_found_going_back():
    lay = layered_layout(["a", "b"], [("a", "b"), ("b", "a")])
    assert lay.reversed == {("b", "a")}
    assert lay.layer == {"a": 0, "b": 1}


def test_unknown_nodes_in_edges_are_named():
    with pytest.raises(ValueError, match="ghost"):
        layered_layout(["a", "b"], [("a", "b"), ("ghost", "b")])
    with pytest.raises(ValueError, match="more than once"):
        layered_layout(["a", "a"], [])


def test_duplicate_edges_are_routed_once():
    lay = layered_layout(["a", "b"], [("a", "b"), ("a", "b")])
    assert list(lay.routes) == [("a", "b")]


def test_long_edges_bend_once_per_rank_beside_the_boxes():
    nodes, edges = random_dag(80, seed=1)
    edges += [("n0", "n79"), ("n2", "n60")]
    lay = layered_layout(nodes, edges)
    rows = boxes_by_rank(lay)
    long = [(s, t) for s, t in lay.routes if lay.layer[t] - lay.layer[s] > 1]
    assert len(long) > 10
    for s, t in long:
        bends = lay.routes[(s, t)][1:-1]
        assert len(bends) == lay.layer[t] - lay.layer[s] - 1
        for r, (x, y) in enumerate(bends, start=lay.layer[s] + 1):
            row_y = lay.y[rows[r][0][2]]
            assert y == pytest.approx(row_y)
            for left, right, name in rows[r]:
                assert not left - 1e-9 < x < right + 1e-9, (s, t, name)


def test_a_residual_block_keeps_its_chain_straight_and_the_skip_beside():
    nodes, edges = residual()
    lay = layered_layout(nodes, edges)
    assert len({lay.x[n] for n in nodes}) == 1
    half = DEFAULT_SIZE[0] / 2
    for x, _ in lay.routes[("a", "add")][1:-1]:
        assert abs(x - lay.x["b"]) >= half + GAP_X / 2


def test_a_second_input_sits_just_above_its_consumer():
    nodes = ["x", "d1", "d2", "d3", "side", "merge"]
    edges = [("x", "d1"), ("d1", "d2"), ("d2", "d3"), ("d3", "merge"), ("side", "merge")]
    lay = layered_layout(nodes, edges)
    assert lay.layer["side"] == lay.layer["merge"] - 1 == 3
    assert lay.layer["x"] == 0


def test_the_same_graph_gives_the_same_layout():
    nodes, edges = random_dag(120, seed=5)
    edges.append(("n90", "n10"))  # and a cycle
    assert layered_layout(nodes, edges) == layered_layout(nodes, edges)


def test_isolated_nodes_are_placed():
    nodes, edges = residual()
    lay = layered_layout([*nodes, "unused_input"], edges)
    assert lay.layer["unused_input"] == 0
    assert_no_overlap(lay)
    assert lay.x["unused_input"] + DEFAULT_SIZE[0] / 2 <= lay.width
    one = layered_layout(["only"], [])
    assert (one.x["only"], one.y["only"]) == (DEFAULT_SIZE[0] / 2, DEFAULT_SIZE[1] / 2)
    assert (one.width, one.height) == DEFAULT_SIZE
    empty = layered_layout([], [])
    assert (empty.width, empty.height, empty.routes) == (0.0, 0.0, {})


def test_a_400_node_random_graph_lays_out():
    nodes, edges = random_dag(400, seed=0)
    lay = layered_layout(nodes, edges)
    assert set(lay.x) == set(lay.y) == set(lay.layer) == set(nodes)
    assert set(lay.routes) == set(edges)
    assert_edges_flow_down(lay)
    assert_no_overlap(lay)
    assert crossings(lay) < crossings(layered_layout(nodes, edges, sweeps=0))
