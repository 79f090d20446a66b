"""RunComparison: runs followed from a log folder, drawn, tabled, filtered, toggled."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw
from nnwidgets.logs import write_hparams, write_scalars
from nnwidgets.logs.follow import group_runs
from nnwidgets.training.metrics import ema
from nnwidgets.views.training.curves import run_colors

LRS = {"a": (0.1, "sgd"), "b": (0.01, "adam"), "c": (0.001, "adam")}


def write_runs(root, names=LRS, batches=300):
    """Experiments as Keras writes them: NAME (hparams), NAME/train, NAME/validation."""
    rng = np.random.default_rng(0)
    for name, (lr, opt) in names.items():
        write_hparams(root / name, {"lr": lr, "optimizer": opt})
        steps = np.arange(batches)
        write_scalars(
            root / name / "train",
            "batch_loss",
            steps,
            np.exp(-lr * steps) + rng.random(batches) * 0.01,
        )
        write_scalars(
            root / name / "train", "epoch_loss", range(4), 1.0 / (1 + lr * 100 * np.arange(4))
        )
        write_scalars(
            root / name / "validation", "epoch_loss", range(4), 1.1 / (1 + lr * 90 * np.arange(4))
        )


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def drawn(view, run, tag, which="raw"):
    """What the page has for one curve (empty while the poll thread has not drawn it)."""
    marks = view._marks.get((run, tag))
    if marks is None:
        return np.zeros(0), np.zeros(0), None
    mark = marks[which]
    return np.asarray(mark.x), np.asarray(mark.y), mark


@pytest.fixture
def folder(tmp_path):
    write_runs(tmp_path)
    return tmp_path


def test_groups_are_experiments():
    groups = group_runs(["x/train", "x/validation", "y", "z/eval"], ["y"])
    assert groups["x/validation"] == ("x", "validation", "val")
    assert groups["y"] == ("y", "", "train") and groups["z/eval"][0] == "z"


def test_runs_table_and_curves(folder):
    view = nw.RunComparison(folder, follow=False)
    view.reload()
    assert view.runs == ("a", "b", "c") and view.shown == ("a", "b", "c")
    assert view.tags == ("epoch_loss", "batch_loss")
    summary = view.summary().set_index("run")
    assert summary.loc["b", "lr"] == pytest.approx(0.01) and summary.loc["c", "optimizer"] == "adam"
    expected = 1.1 / (1 + 0.1 * 90 * 3)
    assert summary.loc["a", "validation/epoch_loss"] == pytest.approx(expected, rel=1e-6)
    # curves: training in the run's colour, validation in its partner colour
    x, y, mark = drawn(view, "b/validation", "epoch_loss")
    steps, values, _ = view.follower.reader.series("b/validation", "epoch_loss")
    np.testing.assert_array_equal(x, steps) and np.testing.assert_allclose(y, values)
    assert mark.colors == [run_colors(2)[1]]
    assert drawn(view, "b/train", "epoch_loss")[2].colors == [run_colors(2)[0]]
    # the table: a coloured dot, the run, hyperparameters, final values
    row = next(r for r in view.table.rows if r["id"] == "a")
    keys = [c[0] for c in view.table.columns]
    assert keys[:4] == ["color", "run", "lr", "optimizer"] and "validation/epoch_loss" in keys
    assert row["cells"][keys.index("lr")] == "0.1" and row["color"] == run_colors(1)[0]
    assert view.metric_box.value == "validation/epoch_loss"
    assert f'b: <b style="color:{run_colors(2)[0]}">' in view.legend.value  # train, then
    assert "validation</span>" in view.legend.value and run_colors(2)[1] in view.legend.value
    view.close()


def test_sorting_the_table(folder):
    view = nw.RunComparison(folder, follow=False)
    view.reload()
    view.table.descending = False
    view.table.sort_by = "validation/epoch_loss"
    assert [r["id"] for r in view.table.rows] == ["a", "b", "c"]  # the best first
    view.table.descending = True
    assert [r["id"] for r in view.table.rows] == ["c", "b", "a"] and view.runs == ("c", "b", "a")
    view.close()


def test_long_curves_are_decimated_keeping_extremes(tmp_path):
    values = np.sin(np.arange(50_000) / 500.0)
    values[12_345] = 40.0  # a spike
    write_scalars(tmp_path / "long", "batch_loss", np.arange(50_000), values)
    view = nw.RunComparison(tmp_path, follow=False, max_points=1000)
    view.reload()
    x, y, _ = drawn(view, "long", "batch_loss")
    assert len(x) <= 1000 and y.max() == pytest.approx(40.0) and x[np.argmax(y)] == 12_345
    view.close()


def test_a_click_on_a_row_hides_and_shows_the_run(folder):
    view = nw.RunComparison(folder, follow=False)
    view.reload()
    view.table.selected = "b"  # what a click in the page sends
    assert view.hidden == ("b",) and view.shown == ("a", "c") and view.table.selected == ""
    assert not drawn(view, "b/train", "batch_loss")[2].visible
    row = next(r for r in view.table.rows if r["id"] == "b")
    assert row["dim"] and row["cells"][0] == "\u25cb"
    assert view.parallel.lines and "b" not in view.parallel.passing
    view.table.selected = "b"
    assert view.hidden == () and drawn(view, "b/train", "batch_loss")[2].visible
    view.close()


def test_brushing_filters_every_part(folder):
    view = nw.RunComparison(folder, follow=False)
    view.reload()
    view.parallel.ranges = {"lr": [0.005, 0.5]}  # what a drag on the lr axis sends
    assert view.shown == ("a", "b")
    assert [r["id"] for r in view.table.rows] == ["a", "b"]
    assert not drawn(view, "c/train", "epoch_loss")[2].visible
    view.parallel.ranges = {}
    assert view.shown == ("a", "b", "c")
    view.close()


def test_smoothing_and_log_scale(folder):
    view = nw.RunComparison(folder, follow=False, smoothing=0.6)
    view.reload()
    x, y, _ = drawn(view, "a/train", "batch_loss", "smooth")
    _, values, _ = view.follower.reader.series("a/train", "batch_loss")
    np.testing.assert_allclose(y, ema(values, 0.6))
    assert drawn(view, "a/train", "batch_loss")[2].opacities == [0.3]
    view.log_y = True
    assert type(view._figures["batch_loss"]["scales"]["y"]).__name__ == "LogScale"
    view.close()


def test_it_follows_the_folder_live(tmp_path):
    view = nw.RunComparison(tmp_path / "later", interval=0.1)
    assert wait_for(lambda: "waiting for" in view.status.value)
    write_runs(tmp_path / "later", {"a": LRS["a"]}, batches=10)
    assert wait_for(lambda: len(drawn(view, "a/train", "batch_loss")[0]) == 10)
    assert view.runs == ("a",)
    write_scalars(tmp_path / "later" / "a" / "train", "batch_loss", [10, 11], [0.5, 0.25])
    assert wait_for(lambda: len(drawn(view, "a/train", "batch_loss")[0]) == 12)
    assert drawn(view, "a/train", "batch_loss")[1][-1] == 0.25
    write_runs(tmp_path / "later", {"b": LRS["b"]}, batches=10)
    assert wait_for(
        lambda: view.runs == ("a", "b") and ("b/validation", "epoch_loss") in view._marks
    )
    shutil.rmtree(tmp_path / "later" / "a")
    assert wait_for(lambda: view.runs == ("b",))
    assert wait_for(lambda: "a/validation&#x27; was removed" in view.status.value)
    figure = view._figures["batch_loss"]["figure"]
    visible = [m.labels[0] for m in figure.marks[1:] if m.visible and len(m.x)]
    assert visible == ["b train"]
    view.close()
    assert not view.follower.following


def test_many_runs_are_capped_and_said(tmp_path):
    for i in range(60):
        write_scalars(tmp_path / f"r{i:02d}", "epoch_loss", [0, 1], [1.0, 1.0 / (i + 1)])
    view = nw.RunComparison(tmp_path, follow=False, max_runs=25)
    view.reload()
    assert len(view.runs) == 60 and len(view.shown) == 25
    assert "drawing 25 of 60 runs" in view.status.value
    assert sum(m["raw"].visible for m in view._marks.values()) == 25
    view.close()


def test_nan_is_shown_and_flagged(tmp_path):
    write_scalars(tmp_path / "bad", "epoch_loss", [0, 1, 2], [1.0, 0.5, np.nan])
    view = nw.RunComparison(tmp_path, follow=False)
    view.reload()
    row = view.table.rows[0]
    col = [c[0] for c in view.table.columns].index("epoch_loss")
    assert row["cells"][col] == "NaN" and col in row["warn"]
    assert len(drawn(view, "bad", "epoch_loss")[0]) == 2  # the finite points drawn
    view.close()


def test_bad_input(folder):
    with pytest.raises(TypeError, match="logdir must be a path"):
        nw.RunComparison(123)
    view = nw.RunComparison(folder, follow=False)
    view.reload()
    for option, bad in (("smoothing", 1.5), ("max_points", 2), ("max_runs", 0)):
        with pytest.raises(TraitError, match=option):
            setattr(view, option, bad)
    with pytest.raises(TraitError):
        view.interval = 0
    assert view.smoothing == 0 and view.runs == ("a", "b", "c")
    view.metric = "no such metric"  # falls back to one that exists, and says nothing odd
    assert view.metric_box.value == "validation/epoch_loss" and not view.error
    view.close()


def test_explore_with_a_logdir_has_a_runs_tab(folder):
    x, y = nw.datasets.load_digits(20)
    model = nw.datasets.demo_model()
    app = nw.explore(model, x, y, logdir=folder)
    assert app.tabs.titles[-1] == "Runs"
    runs = app.runs  # made (and following) when first used
    runs.reload()
    assert runs.runs == ("a", "b", "c") and runs.follower.following
    app.close()
    assert not runs.follower.following
    plain = nw.explore(model, x, y)
    assert "Runs" not in plain.tabs.titles and plain.runs is None
    plain.close()
    with pytest.raises(TypeError, match="logdir must be a path"):
        nw.explore(model, x, y, logdir=3)


def test_keras_copies_of_validation_values_are_left_out(tmp_path):
    write_scalars(tmp_path / "k" / "validation", "epoch_loss", [0, 1], [1.0, 0.5])
    write_scalars(
        tmp_path / "k" / "validation", "evaluation_loss_vs_iterations", [9, 19], [1.0, 0.5]
    )
    view = nw.RunComparison(tmp_path, follow=False)
    view.reload()
    assert view.tags == ("epoch_loss",) and len(view.row.children) == 1
    assert list(view.summary().columns) == ["run", "validation/epoch_loss"]
    view.exclude = ""
    assert set(view.tags) == {"epoch_loss", "evaluation_loss_vs_iterations"}
    assert len(view.row.children) == 2
    with pytest.raises(TraitError, match="regular expression"):
        view.exclude = "("
    assert view.exclude == "" and len(view.row.children) == 2
    view.close()
