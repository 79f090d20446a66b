"""ParallelCoordinates: axes, normalised lines, colours by metric, brushing ranges."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from traitlets import TraitError

from nnwidgets.views.parallel import (
    NO_METRIC_COLOR,
    ParallelCoordinates,
    metric_color,
    parallel_axes,
    passing,
)


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "run": ["a", "b", "c", "d", "e"],
            "lr": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
            "units": [32, 64, 64, 128, np.nan],
            "optimizer": ["adam", "sgd", "adam", None, "rmsprop"],
            "bn": [True, False, True, True, False],
            "val_loss": [0.9, 0.3, 0.5, 0.7, np.nan],
        }
    )


@pytest.fixture
def pc():
    widget = ParallelCoordinates(height=260)
    yield widget
    widget.close()


def line(pc, run):
    (found,) = [entry for entry in pc.lines if entry["id"] == run]
    return found


def luminance(color: str) -> float:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# -- passing ----------------------------------------------------------------------------
def test_passing_numeric_ends_included_and_nan_fails(frame):
    assert passing(frame, {}) == ["a", "b", "c", "d", "e"]
    assert passing(frame, {"units": [64, 128]}) == ["b", "c", "d"]  # e is NaN: fails
    assert passing(frame, {"units": [128, 64]}) == ["b", "c", "d"]  # either order
    assert passing(frame, {"units": [0, 1e9]}) == ["a", "b", "c", "d"]


def test_passing_log_axis_in_data_units(frame):
    # a range brushed on a log axis comes in data units, so a decade is a decade
    assert passing(frame, {"lr": [5e-5, 5e-3]}) == ["b", "c"]
    assert passing(frame, {"lr": [1e-5, 1e-5]}) == ["a"]


def test_passing_categories_and_booleans(frame):
    assert passing(frame, {"optimizer": ["adam"]}) == ["a", "c"]
    assert passing(frame, {"optimizer": ["adam", "sgd"], "units": [50, 100]}) == ["b", "c"]
    assert passing(frame, {"optimizer": []}) == []  # d (None) is in no category either
    assert passing(frame, {"bn": ["False"]}) == ["b", "e"]


def test_passing_bad_input(frame):
    with pytest.raises(ValueError, match="'depth'"):
        passing(frame, {"depth": [0, 1]})
    with pytest.raises(ValueError, match="'run'"):
        passing(frame.drop(columns="run"), {})
    with pytest.raises(ValueError, match="units"):
        passing(frame, {"units": ["64"]})


# -- axes -------------------------------------------------------------------------------
def test_axes_kinds_and_log_choice(frame):
    axes = parallel_axes(frame, ["lr", "units", "optimizer", "bn"], "val_loss")
    assert [(a["key"], a["kind"], a["log"]) for a in axes] == [
        ("lr", "num", True),  # 1e-5 .. 1e-1: four decades
        ("units", "num", False),  # 32 .. 128: a ratio of 4
        ("optimizer", "cat", False),
        ("bn", "cat", False),
        ("val_loss", "num", False),
    ]
    assert axes[0]["domain"] == [1e-5, 1e-1]
    assert axes[1]["domain"] == [32.0, 128.0] and axes[1]["missing"] == 1
    assert axes[2]["values"] == ["adam", "rmsprop", "sgd"] and axes[2]["missing"] == 1
    assert axes[3]["values"] == ["False", "True"]
    assert [a["metric"] for a in axes] == [False] * 4 + [True]


def test_log_needs_positive_values_and_two_decades():
    f = pd.DataFrame({"run": list("abc"), "x": [0.0, 1.0, 1000.0], "y": [1.0, 50.0, 99.0]})
    f["z"] = [1.0, 10.0, 100.0]
    axes = parallel_axes(f, ["x", "y", "z"], None)
    assert [a["log"] for a in axes] == [False, False, True]


def test_single_value_axis_is_drawn_in_the_middle(pc):
    f = pd.DataFrame({"run": ["a", "b"], "units": [64, 64], "opt": ["adam", "adam"], "m": [1, 2]})
    pc.show(f, columns=["units", "opt"], metric="m")
    units, opt, _ = pc.axes
    assert units["domain"][0] < 64 < units["domain"][1]
    assert units["ticks"] == [[0.5, "64"]]
    assert opt["values"] == ["adam"]
    assert line(pc, "a")["values"][:2] == [0.5, 0.5]


# -- show -------------------------------------------------------------------------------
def test_show_normalises_values(pc, frame):
    pc.show(frame, columns=["lr", "units", "optimizer"], metric="val_loss")
    assert [a["key"] for a in pc.axes] == ["lr", "units", "optimizer", "val_loss"]
    # lr on a log axis: 1e-5 .. 1e-1 evenly; units linear 32..128; categories evenly
    assert [line(pc, r)["values"][0] for r in "abcde"] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert line(pc, "b")["values"][1] == pytest.approx((64 - 32) / 96)
    assert line(pc, "e")["values"][1] is None  # NaN: the n/a slot
    assert line(pc, "a")["values"][2] == 0.0  # adam, rmsprop, sgd
    assert line(pc, "e")["values"][2] == 0.5
    assert line(pc, "b")["values"][2] == 1.0
    assert line(pc, "d")["values"][2] is None
    assert line(pc, "a")["values"][3] == pytest.approx(1.0)  # the worst loss, at the top
    assert line(pc, "b")["values"][3] == pytest.approx(0.0)
    assert pc.passing == ("a", "b", "c", "d", "e")
    assert not any(entry["dim"] for entry in pc.lines)
    assert pc.note == "5 runs"


def test_colours_follow_the_metric(pc, frame):
    pc.show(frame, columns=["lr"], metric="val_loss")
    by_loss = ["b", "c", "d", "a"]  # 0.3, 0.5, 0.7, 0.9
    colours = [line(pc, r)["color"] for r in by_loss]
    assert len(set(colours)) == 4
    lum = [luminance(c) for c in colours]
    assert lum == sorted(lum)  # viridis: darker for lower values
    assert colours[0] == metric_color(0.0) and colours[-1] == metric_color(1.0)
    assert line(pc, "e")["color"] == NO_METRIC_COLOR  # no metric value
    legend = pc.canvas.legend
    assert (legend["title"], legend["min"], legend["max"]) == ("val_loss", "0.3", "0.9")
    assert pc.canvas.lines == list(pc.lines) and pc.canvas.axes == list(pc.axes)


def test_default_columns_and_no_hyperparameters(pc, frame):
    pc.show(frame, metric="val_loss")
    assert [a["key"] for a in pc.axes] == ["lr", "units", "optimizer", "bn", "val_loss"]
    pc.show(frame[["run", "val_loss"]], columns=[], metric="val_loss")
    assert [a["key"] for a in pc.axes] == ["val_loss"]
    assert pc.note == "no hyperparameters logged"


# -- ranges -----------------------------------------------------------------------------
def test_ranges_from_python_update_passing_and_dim(pc, frame):
    pc.show(frame, columns=["lr", "optimizer"], metric="val_loss")
    pc.ranges = {"optimizer": ["adam"]}
    assert pc.passing == ("a", "c")
    assert {e["id"]: e["dim"] for e in pc.lines} == {
        "a": False,
        "b": True,
        "c": False,
        "d": True,
        "e": True,
    }
    assert pc.note == "2 of 5 runs in the brushed ranges"
    assert pc.lines[-1]["dim"] is False  # the passing lines are drawn last, on top
    pc.ranges = {**pc.ranges, "val_loss": (0.0, 0.6)}
    assert pc.ranges["val_loss"] == [0.0, 0.6]  # kept as a list
    assert pc.passing == ("c",)
    assert pc.canvas.ranges == {"optimizer": ["adam"], "val_loss": [0.3, 0.6]}  # as drawn
    pc.ranges = {}
    assert pc.passing == ("a", "b", "c", "d", "e")
    assert not any(e["dim"] for e in pc.lines)


def test_brush_from_the_page(pc, frame):
    pc.show(frame, columns=["lr", "optimizer"], metric="val_loss")
    pc._on_message(pc.canvas, {"brush": "lr", "range": [3e-4, 2e-2]}, [])
    assert pc.ranges == {"lr": [3e-4, 2e-2]} and pc.passing == ("c", "d")
    pc._on_message(pc.canvas, {"brush": "optimizer", "range": ["adam", "rmsprop"]}, [])
    assert pc.passing == ("c",)
    pc._on_message(pc.canvas, {"brush": "lr", "range": None}, [])  # a click lets go
    assert pc.ranges == {"optimizer": ["adam", "rmsprop"]} and pc.passing == ("a", "c", "e")
    pc._on_message(pc.canvas, {"brush": "nope", "range": [0, 1]}, [])  # ignored
    assert pc.ranges == {"optimizer": ["adam", "rmsprop"]}


def test_bad_ranges(pc, frame):
    pc.show(frame, columns=["lr", "optimizer"], metric="val_loss")
    pc.ranges = {"lr": [1e-5, 1e-4]}
    for bad in (["lr", 1], {"nope": [0, 1]}, {"lr": ["adam"]}, {"optimizer": [1, 2]}):
        with pytest.raises(TraitError):
            pc.ranges = bad
    assert pc.ranges == {"lr": [1e-5, 1e-4]} and pc.passing == ("a", "b")


def test_ranges_kept_when_shown_again(pc, frame):
    pc.show(frame, columns=["lr", "optimizer"], metric="val_loss")
    pc.ranges = {"optimizer": ["adam"], "lr": [1e-5, 1e-3]}
    more = pd.concat([frame, pd.DataFrame({"run": ["f"], "lr": [2e-4], "optimizer": ["adam"]})])
    pc.show(more, columns=["optimizer", "units"], metric="val_loss")  # lr no longer drawn
    assert pc.ranges == {"optimizer": ["adam"]}
    assert pc.passing == ("a", "c", "f")


# -- hidden runs ------------------------------------------------------------------------
def test_hidden_runs_are_faint_and_never_pass(pc, frame):
    pc.show(frame, columns=["lr"], metric="val_loss", hidden={"b", "zz"})
    assert pc.passing == ("a", "c", "d", "e")
    assert line(pc, "b")["hidden"] and line(pc, "b")["dim"]
    assert not line(pc, "a")["hidden"]
    assert pc.lines[0]["id"] == "b"  # drawn first, under the others
    assert pc.note == "4 runs (1 hidden)"
    pc.ranges = {"lr": [1e-5, 1e-3]}
    assert pc.passing == ("a", "c")
    assert pc.note == "2 of 4 runs in the brushed ranges (1 hidden)"


# -- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, named",
    [
        (dict(columns=["lr"], metric="val_acc"), "val_acc"),
        (dict(columns=["lr", "depth"], metric="val_loss"), "depth"),
        (dict(columns=["run"], metric="val_loss"), "run"),
    ],
)
def test_bad_show_keeps_what_was_shown(pc, frame, args, named):
    pc.show(frame, columns=["lr", "optimizer"], metric="val_loss")
    pc.ranges = {"optimizer": ["adam"]}
    before = (pc.axes, pc.lines, pc.passing, pc.note, dict(pc.ranges), pc.canvas.lines)
    with pytest.raises(ValueError, match=named):
        pc.show(frame, **args)
    assert (pc.axes, pc.lines, pc.passing, pc.note, dict(pc.ranges), pc.canvas.lines) == before


def test_bad_frames(pc, frame):
    pc.show(frame, columns=["lr"], metric="val_loss")
    before = pc.lines
    with pytest.raises(ValueError, match="'run'"):
        pc.show(frame.drop(columns="run"), columns=["lr"], metric="val_loss")
    with pytest.raises(ValueError, match="repeat.*a"):
        pc.show(frame.assign(run=["a", "a", "c", "d", "e"]), columns=["lr"], metric="val_loss")
    assert pc.lines == before


# -- many runs --------------------------------------------------------------------------
def test_max_lines_cap_keeps_the_passing_first(pc):
    n = 10_000
    rng = np.random.default_rng(0)
    big = pd.DataFrame(
        {
            "run": [f"r{i}" for i in range(n)],
            "lr": 10 ** rng.uniform(-5, -1, n),
            "units": rng.choice([32, 64, 128], n),
            "optimizer": rng.choice(["adam", "sgd"], n),
            "val_loss": rng.uniform(0.1, 2, n),
        }
    )
    start = time.perf_counter()
    pc.show(big, columns=["lr", "units", "optimizer"], metric="val_loss")
    assert time.perf_counter() - start < 5
    assert len(pc.lines) == 2000 == len(pc.canvas.lines)
    assert len(pc.passing) == n
    assert "drawing 2,000 of 10,000" in pc.note
    pc.ranges = {"val_loss": [0.1, 0.2]}  # about 5 % of the runs
    inside = set(pc.passing)
    assert 300 < len(inside) < 800
    drawn = {e["id"] for e in pc.lines}
    assert inside <= drawn and len(drawn) == 2000  # every passing run, then a sample
    assert all(not e["dim"] for e in pc.lines if e["id"] in inside)
    assert "the passing ones first" in pc.note
    pc.max_lines = 100  # more passing than room: a sample of them, all passing
    assert len(pc.lines) == 100 and all(not e["dim"] for e in pc.lines)


def test_values_are_json_safe(pc, frame):
    pc.show(
        frame.assign(units=[1.0, np.inf, 2.0, np.nan, 3.0]), columns=["units"], metric="val_loss"
    )
    for entry in pc.lines:
        for v in entry["values"]:
            assert v is None or (0.0 <= v <= 1.0 and math.isfinite(v))
    assert line(pc, "b")["values"][0] is None  # inf: drawn in the n/a slot
    pc.ranges = {"units": [0.0, math.inf]}
    assert pc.passing == ("a", "b", "c", "e")
    assert pc.canvas.ranges == {"units": [1.0, 3.0]}  # no infinity sent to the page
