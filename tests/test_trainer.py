"""Training in a background thread: the kernel stays free, and the run can be steered."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.testing import wait_for
from nnwidgets.training.background import BackgroundFit


@pytest.fixture(autouse=True)
def no_run_left_behind(monkeypatch):
    """Stop every background run a test started, even when the test failed."""
    runs = []
    start = BackgroundFit.start

    def tracked(self):
        runs.append(self)
        start(self)

    monkeypatch.setattr(BackgroundFit, "start", tracked)
    yield
    for run in runs:
        run.stop()
        run.join(60)


@pytest.fixture
def setup(digits):
    x, y = digits
    keras.utils.set_random_seed(0)
    model = nw.datasets.demo_model()
    return model, nw.ModelState(model, x[:10], y[:10]), x[:400], y[:400]


def test_background_fit_streams_and_returns(setup):
    model, state, x, y = setup
    plot = nw.LiveTrainingPlot(state, interval=0.0)
    run = plot.fit_in_background(model, x, y, epochs=2, batch_size=50, verbose=0)
    assert run.join(120) and run.error is None
    assert run.history.history["loss"] and len(plot.store.series("batch/loss")[0]) == 2 * 3
    assert "done: epoch 2/2" in plot.status.value
    # meanwhile the state could be read from this thread; after the run, views follow
    state.layer = "conv2"
    assert state.activation().shape == (8, 8, 32)


def test_stop_ends_the_run_early(setup):
    model, state, x, y = setup
    plot = nw.LiveTrainingPlot(interval=0.0)
    run = plot.fit_in_background(model, x, y, epochs=500, batch_size=20, verbose=0)
    wait_for(lambda: len(plot.store.series("batch/loss")[0]) >= 3)
    run.stop()
    assert run.join(60), "stop did not end fit"
    steps = len(plot.store.series("batch/loss")[0])
    assert steps < 500 * 6 and run.error is None and run.stopped
    assert "done" in plot.status.value
    again = plot.fit_in_background(model, x, y, epochs=1, batch_size=20, verbose=0)
    assert again.join(60) and again.error is None and plot.store.current_run == 2


def test_a_schedule_cannot_be_set_and_training_goes_on(setup):
    model, state, x, y = setup
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.9)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy")
    plot = nw.LiveTrainingPlot(interval=0.0)
    run = plot.fit_in_background(model, x, y, epochs=200, batch_size=20, verbose=0)
    try:
        with pytest.raises(ValueError, match="schedule"):
            run.learning_rate = 0.1
        assert plot.controls.lr.disabled  # nothing to type in
        plot.controls.lr.value = 0.1
        assert "schedule" in plot.controls.message.value
        wait_for(lambda: len(plot.store.series("lr")[0]) >= 2)  # the decay is plotted
    finally:
        run.stop()
        assert run.join(60) and run.error is None


def test_second_run_while_training_is_refused(setup):
    model, state, x, y = setup
    plot = nw.LiveTrainingPlot()
    run = plot.fit_in_background(model, x, y, epochs=200, verbose=0)
    try:
        with pytest.raises(RuntimeError, match="still training"):
            plot.fit_in_background(model, x, y, epochs=1, verbose=0)
    finally:
        run.stop()
        run.join(60)


def test_exception_inside_fit_keeps_points_and_says_so(setup):
    model, state, x, y = setup

    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 4:
                raise RuntimeError("boom from a callback")

    plot = nw.LiveTrainingPlot(interval=0.0)
    run = plot.fit_in_background(model, x, y, epochs=1, batch_size=20, callbacks=[Boom()])
    assert run.join(60)
    assert isinstance(run.error, RuntimeError)
    xs, _ = plot.store.series("batch/loss")
    assert len(xs) >= 4 and len(plot.drawn("loss")[0]) == len(xs)
    assert "training failed" in plot.status.value and "boom from a callback" in plot.status.value


def test_uncompiled_model_is_refused():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="not compiled"):
        BackgroundFit(model, np.zeros((4, 3)), np.zeros(4))


def test_state_says_what_it_computes(setup):
    model, state, x, y = setup
    seen = []
    state.observe(lambda c: seen.append(c["new"]), names="status")
    state.input_index = 5
    state.activation()
    assert seen[0].startswith("computing") and "input 5" in seen[0] and seen[-1] == ""
    seen.clear()
    state.layer = "dense"  # the same input, another layer: nothing to compute
    state.activation()
    assert seen == []
