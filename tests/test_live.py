"""The live plot for real runs: smoothing, log scale, epoch axis, runs, learning rate,
pause, tf.distribute, NaN, export, and faults in a foreground fit."""

from __future__ import annotations

import csv
import time

import keras
import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.testing import wait_for
from nnwidgets.training.metrics import ema


@pytest.fixture
def data(digits):
    x, y = digits
    return x, y


def fit(model, plot, x, y, **kw):
    kw = {"epochs": 2, "batch_size": 30, "verbose": 0, **kw}
    return model.fit(x, y, callbacks=[plot.callback], **kw)


def test_smoothing_log_scale_and_epoch_axis(data):
    x, y = data
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(nw.datasets.demo_model(), plot, x, y, validation_split=0.25)
    raw_x, _ = plot.drawn("loss", "batch")
    assert len(plot.drawn("loss", "smooth")[0]) == 0  # made when smoothing is first asked for

    plot.controls.smoothing.value = 0.9  # as a person moving the slider
    assert plot.smoothing == 0.9
    _, smooth = plot.drawn("loss", "smooth")
    np.testing.assert_allclose(smooth, ema(plot.store.series("batch/loss")[1], 0.9))

    plot.log_y = True  # the option, from code: the checkbox follows
    assert plot.controls.log_y.value
    assert type(plot.figure("loss").axes[1].scale).__name__ == "LogScale"
    for series in ("batch", "train", "val"):
        assert plot.drawn("loss", series)[1].min() > 0

    plot.controls.x_axis.value = "epoch"
    assert plot.x_axis == "epoch"
    assert list(plot.drawn("loss", "train")[0]) == [1.0, 2.0]
    assert list(plot.drawn("loss", "val")[0]) == [1.0, 2.0]
    batch_x = plot.drawn("loss", "batch")[0]
    assert 0 < batch_x[0] < 1 and batch_x[-1] == 2.0 and len(batch_x) == len(raw_x)


def test_second_fit_is_a_new_run_that_continues_the_same_model(data):
    x, y = data
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(model, plot, x, y)
    fit(model, plot, x, y, epochs=1)
    steps1, _ = plot.store.series("batch/loss", run=1)
    steps2, _ = plot.store.series("batch/loss", run=2)
    assert len(steps1) == 8 and len(steps2) == 4 and steps2[0] == steps1[-1] + 1
    assert plot.colors("loss", run=2) != plot.colors("loss", run=1)
    assert "run 2" in plot.legend.value and "run 2 done" in plot.status.value

    other = nw.datasets.demo_model(seed=1)
    fit(other, plot, x, y, epochs=1)  # another model starts again at step 1
    assert plot.store.series("batch/loss", run=3)[0][0] == 1
    plot.controls.x_axis.value = "epoch"
    assert list(plot.drawn("loss", "train", run=2)[0]) == [3.0]
    assert list(plot.drawn("loss", "train", run=3)[0]) == [1.0]


def test_export_keeps_every_value(data, tmp_path):
    x, y = data
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(nw.datasets.demo_model(), plot, x, y, validation_split=0.25)
    path = tmp_path / "run.csv"
    plot.store.to_csv(path)
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == len(plot.store) > 0
    assert {r["series"] for r in rows} >= {"batch/loss", "loss", "val_accuracy", "lr"}
    pd = pytest.importorskip("pandas")
    df = plot.store.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == len(rows)


def test_nan_loss_is_marked_and_the_curve_stays():
    plot = nw.LiveTrainingPlot(interval=0.0)
    plot.session.begin({"epochs": 1, "steps": 4})
    for value in (1.0, float("nan"), 0.5, float("inf")):
        plot.session.record_batch(None, {"loss": value})
    assert list(plot.drawn("loss")[0]) == [1.0, 3.0]
    bad_x, bad_y = plot.drawn("loss", "bad")
    assert list(bad_x) == [2.0, 4.0] and np.all(np.isfinite(bad_y))
    assert "loss is inf at step 4" in plot.status.value


def test_validation_every_other_epoch(data):
    x, y = data
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(nw.datasets.demo_model(), plot, x, y, epochs=4, validation_split=0.25, validation_freq=2)
    assert len(plot.store.series("val_loss")[0]) == 2 and len(plot.store.series("loss")[0]) == 4
    assert len(plot.drawn("loss", "val")[0]) == 2


def test_distributed_with_steps_per_execution(data):
    import tensorflow as tf

    x, y = data
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = nw.datasets.demo_model()
        model.compile("adam", "sparse_categorical_crossentropy", steps_per_execution=3)
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(model, plot, x[:96], y[:96], batch_size=8, epochs=2)
    steps, values = plot.store.series("batch/loss")
    assert list(steps) == [3, 6, 9, 12, 15, 18, 21, 24]  # 12 batches an epoch, hooks every 3
    assert list(plot.store.series("loss")[0]) == [12, 24] and np.all(np.isfinite(values))
    assert "step 24/24" in plot.status.value


def test_learning_rate_and_pause_act_on_a_background_run(data):
    x, y = data
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    run = plot.fit_in_background(model, x, y, epochs=500, batch_size=20, verbose=0)
    try:
        assert not plot.controls.stop.disabled and plot.controls.lr.value == pytest.approx(1e-3)
        wait_for(lambda: len(plot.store.series("batch/loss")[0]) >= 2)
        plot.controls.lr.value = 0.0123  # as a person typing in the box
        wait_for(lambda: plot.store.last("lr") == pytest.approx(0.0123))
        assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0123)
        wait_for(lambda: "lr" in plot.metrics)  # the learning rate changed: it gets its plot

        plot.controls.lr.value = -1.0
        assert "positive" in plot.controls.message.value

        plot.controls.pause.value = True
        wait_for(lambda: run.paused and "paused" in plot.status.value)
        time.sleep(0.3)
        n = len(plot.store.series("batch/loss")[0])
        time.sleep(0.5)
        assert len(plot.store.series("batch/loss")[0]) == n and "paused" in plot.status.value
        plot.controls.pause.value = False
        wait_for(lambda: len(plot.store.series("batch/loss")[0]) > n + 2)
    finally:
        plot.controls.stop.click()
        assert run.join(60)
    assert plot.controls.stop.disabled and "(stopped)" in plot.status.value


def test_exception_in_a_foreground_cell_is_shown(data):
    from IPython.core.interactiveshell import InteractiveShell

    x, y = data
    shell = InteractiveShell.instance()
    plot = nw.LiveTrainingPlot(interval=0.0)

    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise ValueError("bad batch from the data")

    try:
        shell.user_ns.update(model=nw.datasets.demo_model(), plot=plot, x=x, y=y, Boom=Boom)
        shell.run_cell(
            "model.fit(x, y, batch_size=10, callbacks=[plot.callback, Boom()], verbose=0)"
        )
    finally:
        InteractiveShell.clear_instance()
    assert "training failed" in plot.status.value and "bad batch" in plot.status.value
    assert len(plot.drawn("loss")[0]) == 3


def test_toggles_close_the_figures_they_replace(data):
    import ipywidgets as W

    x, y = data
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(nw.datasets.demo_model(), plot, x, y, epochs=1, validation_split=0.25)
    plot.controls.log_y.value = True
    count = len(W.Widget._active_widgets)
    for _ in range(6):  # ends where it began: no smoothing, log y, step axis
        plot.controls.smoothing.value = 0.5 if plot.controls.smoothing.value == 0 else 0.0
        plot.controls.log_y.value = not plot.controls.log_y.value
        plot.controls.x_axis.value = "epoch" if plot.controls.x_axis.value == "step" else "step"
    assert len(W.Widget._active_widgets) <= count
    assert set(plot.metrics) == {"loss", "accuracy"}


def test_steps_stay_within_the_epoch_with_steps_per_execution(data):
    x, y = data
    model = nw.datasets.demo_model()
    model.compile("adam", "sparse_categorical_crossentropy", steps_per_execution=3)
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(model, plot, x[:80], y[:80], batch_size=8, epochs=2)  # 10 batches an epoch
    assert list(plot.store.series("loss")[0]) == [10, 20]
    steps = plot.store.series("batch/loss")[0]
    assert steps.max() == 20 and np.all(np.diff(steps) > 0)
    assert "step 20/20" in plot.status.value


def test_initial_epoch_and_learning_rate_of_each_run(data):
    x, y = data
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    fit(model, plot, x, y, epochs=1)
    fit(model, plot, x, y, epochs=3, initial_epoch=1)  # resumes: epochs 2 and 3
    plot.controls.x_axis.value = "epoch"
    assert list(plot.drawn("loss", "train", run=2)[0]) == [2.0, 3.0]
    assert 1.0 < plot.drawn("loss", run=2)[0][0] < 2.0  # its first epoch is placed too
    assert "step 8/8" in plot.status.value  # two epochs of four batches, not three
    assert len(plot.store.series("lr", run=2)[0]) == 1  # each run records its rate


def test_foreground_fit_after_a_background_run(data):
    x, y = data
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    run = plot.fit_in_background(model, x, y, epochs=300, verbose=0)
    wait_for(lambda: len(plot.store) > 0)
    run.stop()
    assert run.join(60)
    fit(model, plot, x, y, epochs=1)
    assert plot.session.background is None and "(stopped)" not in plot.status.value
    assert plot.controls.stop.disabled


def tensorboard_smoothing(values, weight):
    """TensorBoard's scalar smoothing, point by point (its dashboard's algorithm)."""
    last, count, out = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out.append(last / (1 - weight**count))
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.95])
def test_smoothing_is_tensorboards(weight):
    rng = np.random.default_rng(1)
    values = rng.normal(size=300).cumsum()
    values[[5, 50, 51]] = [np.nan, np.inf, np.nan]
    np.testing.assert_allclose(ema(values, weight), tensorboard_smoothing(values, weight))


def test_a_start_button_offered_to_the_viewer(data):
    """offer_training shows a button; a click starts the run, the button waits while it
    trains and comes back when it ends; an error from the start is shown, not raised."""
    x, y = data
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    button = plot.controls.start
    assert button.layout.display == "none"  # nothing offered: no button
    assert "fit_in_background" in plot.status.value

    runs = []

    def start():
        runs.append(plot.fit_in_background(model, x[:200], y[:200], epochs=2, batch_size=50))
        return runs[-1]

    assert plot.offer_training(start, "Train from scratch") is button
    assert button.layout.display is None and not button.disabled
    assert "press \u201cTrain from scratch\u201d" in plot.status.value  # no code to type
    button.click()
    assert len(runs) == 1 and button.disabled  # one run at a time
    button.click()
    assert len(runs) == 1
    assert runs[0].join(60)
    wait_for(lambda: not button.disabled)
    assert plot.store.runs() == [1] and len(plot.store.series("batch/loss")[0]) >= 2

    def broken():
        raise ValueError("no data today")

    plot.offer_training(broken, "Train")
    button.click()
    assert "no data today" in plot.controls.message.value and not button.disabled
    with pytest.raises(TypeError, match="callable"):
        plot.offer_training("fit")


def test_the_trained_demo_model_is_made_once_and_restarted(tmp_path, monkeypatch):
    """The dashboard's model: trained and saved on first use, loaded (safe_mode) after;
    restart() gives back demo_model's untrained weights and a fresh optimizer."""
    x, y = nw.datasets.load_digits()
    monkeypatch.setenv("NNW_CACHE_DIR", str(tmp_path))
    path = nw.datasets.demo_model_path()
    assert path.parent == tmp_path and not path.exists()
    model = nw.datasets.trained_demo_model()
    assert path.exists()
    stamp = path.stat().st_mtime_ns
    again = nw.datasets.trained_demo_model()  # loaded, not trained again
    assert path.stat().st_mtime_ns == stamp
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    accuracy = float(np.mean(np.argmax(again.predict(x[1500:], verbose=0), 1) == y[1500:]))
    assert accuracy > 0.8, accuracy  # held-out digits: it was trained

    untrained = nw.datasets.demo_model()
    nw.datasets.restart(again)
    for a, b in zip(again.get_weights(), untrained.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(again.optimizer.iterations.numpy()) == 0
    assert float(again.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
