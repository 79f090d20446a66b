"""The live plot and TensorBoard logs, both ways: its store written as event files,
and a folder followed so that a job started elsewhere streams into the plot."""

from __future__ import annotations

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.logs import read_scalars
from tests.test_runs import wait_for


@pytest.fixture(scope="module")
def trained_plot():
    import keras

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(96, 6)).astype("float32"), rng.integers(0, 3, 96)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    plot = nw.LiveTrainingPlot(interval=0)
    model.fit(
        x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[plot.callback]
    )
    return plot, (model, x, y)


def test_the_store_is_written_as_keras_lays_out_logs(trained_plot, tmp_path):
    from tbparse import SummaryReader

    plot, _ = trained_plot
    plot.store.to_tensorboard(tmp_path)
    frame = read_scalars(tmp_path)
    assert set(frame["run"]) == {"run_1/train", "run_1/validation"}
    train = frame[frame["run"] == "run_1/train"]
    steps, values = plot.store.series("batch/loss", 1)
    got = train[train["tag"] == "batch_loss"]
    np.testing.assert_array_equal(got["step"], steps)
    np.testing.assert_allclose(got["value"], values, rtol=1e-6)
    val = frame[(frame["run"] == "run_1/validation") & (frame["tag"] == "epoch_loss")]
    assert val["step"].tolist() == [0, 1, 2]  # epochs, as Keras numbers them
    np.testing.assert_allclose(val["value"], plot.store.series("val_loss", 1)[1], rtol=1e-6)
    ref = SummaryReader(str(tmp_path), pivot=False, extra_columns={"dir_name"}).tensors
    assert len(ref) == len(frame) and set(ref["tag"]) == set(frame["tag"])


def test_a_followed_folder_streams_into_the_plot(trained_plot, tmp_path):
    plot, _ = trained_plot
    plot.store.to_tensorboard(tmp_path)
    other = nw.LiveTrainingPlot()
    follower = other.follow(tmp_path, interval=0.1)
    assert wait_for(lambda: len(other.store.series("val_loss", 1)[0]) == 3)
    for name in ("batch/loss", "batch/accuracy", "loss", "val_loss", "val_accuracy"):
        want_steps, want = plot.store.series(name, 1)
        steps, got = other.store.series(name, 1)
        np.testing.assert_array_equal(steps, want_steps, err_msg=name)  # epochs at their end
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)
    assert {"loss", "accuracy"} <= set(other.metrics)
    x, y = other.drawn("loss", "val", run=1)
    np.testing.assert_allclose(y, plot.store.series("val_loss", 1)[1], rtol=1e-6)
    epochs = other.session.x_of(plot.store.series("loss", 1)[0], 1, "epoch")
    np.testing.assert_allclose(epochs, [1, 2, 3])
    assert "run 1: run_1" in other.status.value
    other.close()
    assert not follower.following


def test_keras_tensorboard_logs_follow_live(trained_plot, tmp_path):
    import keras

    _, (model, x, y) = trained_plot
    plot = nw.LiveTrainingPlot()
    plot.follow(tmp_path / "job", interval=0.1)
    assert wait_for(lambda: "waiting for" in plot.status.value)
    board = keras.callbacks.TensorBoard(str(tmp_path / "job" / "exp"), update_freq=1)
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[board])
    assert wait_for(lambda: len(plot.store.series("val_loss", 1)[0]) == 2)
    batch_steps, _ = plot.store.series("batch/loss", 1)
    epoch_steps, _ = plot.store.series("loss", 1)
    steps_per_epoch = 72 // 16 + 1
    assert len(batch_steps) == 2 * steps_per_epoch
    np.testing.assert_array_equal(epoch_steps, [steps_per_epoch, 2 * steps_per_epoch])
    assert len(plot.drawn("loss", "batch", run=1)[0]) == 2 * steps_per_epoch
    plot.close()
