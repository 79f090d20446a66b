"""LiveTrainingPlot on real fit runs: every value stored, bounded payload, faults kept."""

from __future__ import annotations

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.testing import recording_comms


@pytest.fixture
def setup(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:10], y[:10])
    return model, state, x, y


def test_fit_streams_every_value(setup):
    model, state, x, y = setup
    plot = nw.LiveTrainingPlot(state, interval=0.0, view_budget=1e9)
    version = state.version
    model.fit(
        x, y, epochs=2, batch_size=20, validation_split=0.25, callbacks=[plot.callback], verbose=0
    )
    batches = 2 * int(np.ceil(90 / 20))
    xs, _ = plot.store.series("batch/loss")
    assert len(xs) == batches and list(xs) == list(range(1, batches + 1))
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(plot.store.series(name)[0]) == 2, name
    assert set(plot.metrics) == {"loss", "accuracy"}
    assert len(plot.drawn("loss", "batch")[0]) == batches
    assert len(plot.drawn("loss", "val")[1]) == 2
    assert state.version >= version + 3  # views refreshed at least at epoch ends and the end
    assert "done: epoch 2/2" in plot.status.value


def test_updates_stream_during_fit(setup):
    model, state, x, y = setup
    with recording_comms() as log:
        plot = nw.LiveTrainingPlot(interval=0.0)
        seen = []

        class Probe(__import__("keras").callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                seen.append(len(log))

        model.fit(x, y, epochs=1, batch_size=30, callbacks=[plot.callback, Probe()], verbose=0)
    # messages had gone out before fit ended, after each batch
    assert seen[0] > 0 and seen == sorted(seen) and seen[-1] > seen[0]


def test_exception_in_fit_keeps_points(setup):
    import keras

    model, state, x, y = setup
    plot = nw.LiveTrainingPlot(state, interval=0.0)

    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise RuntimeError("data loader failed")

    with pytest.raises(RuntimeError, match="data loader failed"):
        model.fit(x, y, epochs=1, batch_size=10, callbacks=[plot.callback, Boom()], verbose=0)
    assert len(plot.drawn("loss")[0]) == 3
    model.fit(x, y, epochs=1, batch_size=60, callbacks=[plot.callback], verbose=0)
    assert len(plot.store.series("batch/loss")[0]) == 5  # the old points are still there


def test_nan_loss_is_flagged(setup):
    _, state, _, _ = setup
    plot = nw.LiveTrainingPlot(interval=0.0)
    plot.session.begin({"epochs": 1})
    for value in (1.0, float("nan"), 0.5):
        plot.session.record_batch(None, {"loss": value})
    assert "loss is nan at step 2" in plot.status.value
    assert len(plot.store.series("batch/loss")[0]) == 3


def test_long_run_payload_is_bounded():
    with recording_comms() as log:
        plot = nw.LiveTrainingPlot(interval=3600.0, max_points=2000)
        session = plot.session
        session.begin({"epochs": 1})
        rng = np.random.default_rng(0)
        biggest = 0
        for step in range(200_000):
            loss = float(rng.random()) + (50.0 if step == 123_456 else 0.0)
            session.record_batch(step, {"loss": loss})
            if step % 20_000 == 0 or step == 199_999:
                mark = len(log)
                session.publish()
                biggest = max(biggest, log.bytes(mark))
    assert len(plot.store) == 200_000
    x, y = plot.drawn("loss")
    assert y.max() > 50.0 and len(x) <= 2000  # the spike survives decimation
    assert biggest < 100_000, biggest


def test_view_refresh_keeps_within_budget(setup):
    model, state, x, y = setup
    plot = nw.LiveTrainingPlot(state, view_budget=0.0)
    version = state.version
    model.fit(x, y, epochs=3, batch_size=60, callbacks=[plot.callback], verbose=0)
    # a zero budget skips the epoch-end redraws after the first, but never the final one
    assert version + 2 <= state.version <= version + 3
    np.testing.assert_allclose(
        state.activation("probs"), model(x[:1], training=False)[0].numpy(), rtol=1e-4, atol=1e-6
    )


def test_steps_per_execution_counts_real_steps(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    model.compile("adam", "sparse_categorical_crossentropy", steps_per_execution=4)
    plot = nw.LiveTrainingPlot(interval=0.0)
    model.fit(x[:96], y[:96], batch_size=8, epochs=2, callbacks=[plot.callback], verbose=0)
    steps, _ = plot.store.series("loss")
    assert list(steps) == [12, 24]  # 12 batches per epoch, hooks every 4
    assert plot.store.series("batch/loss")[0][-1] == 24
