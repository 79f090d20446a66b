"""Grad-CAM of the watched input over training: recorded by the dynamics' recorder,
compiled before fit, replayed with the step slider."""

from __future__ import annotations

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets import attribution

keras = pytest.importorskip("keras")
L = keras.layers


def fit(model, x, y, callbacks, epochs=2, batch_size=16):
    model.fit(
        x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=False, callbacks=callbacks
    )


@pytest.fixture(scope="module")
def trained():
    """The digits CNN trained briefly with TrainingDynamics, the watched input's
    Grad-CAM before training (computed before the widget), and the widget. (The tests
    using it run in file order: the last one watches another input.)"""
    x, y = nw.datasets.load_digits(600)
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:100], y[:100])
    state.input_index = 3
    before = attribution.grad_cam(model, x[3:4], "conv1", class_index=int(y[3]))[0]
    dyn = nw.TrainingDynamics(state)
    cams = dyn.recorder.explanations
    cams.budget = 0.05  # (a short fit: more maps than the default share would take)
    fit(model, x, y, [dyn.callback])
    yield state, dyn, before
    dyn.close()


def test_maps_are_recorded_from_the_weights_before_training_on(trained):
    state, dyn, before = trained
    cams = dyn.recorder.explanations
    items = cams.log.items()
    assert len(items) >= 3 and cams.index == 3 and cams.error == ""
    step, first = items[0]
    assert step == 0  # compiled (and run) before fit: the map before training
    np.testing.assert_array_equal(first.cam, before)
    assert first.cam.dtype == np.float32 and first.cam.shape == (8, 8)
    assert {(s.layer, s.class_index, s.source) for _, s in items} == {("conv1", 3, "label")}
    last = items[-1][1].cam
    assert not np.allclose(last, first.cam, rtol=0.1, atol=0)  # where it looks changed
    if items[-1][0] == dyn.session.step:  # (taken at the end when the budget allowed)
        now = attribution.grad_cam(state.model, state.inputs[3:4], "conv1", class_index=3)
        np.testing.assert_allclose(last, now[0])


def test_the_maps_take_their_share_of_training_time(trained):
    _, dyn, _ = trained
    cams = dyn.recorder.explanations
    assert cams.trained > 0 and cams.spent > 0
    # its own count, map seconds over training seconds: within the budget, up to the
    # excess of one map dearer than expected (a cost is known only once paid)
    assert cams.fraction <= cams.budget + cams.dearest / cams.trained
    assert len(cams.log) - 1 < dyn.session.step / 2  # (not at every step: spaced by cost)


def test_the_step_slider_replays_the_map_of_that_step(trained):
    state, dyn, _ = trained
    replay, cams = dyn.replay, dyn.recorder.explanations
    steps = cams.log.steps()
    assert replay.cam_step == steps[-1] and replay.cam_layer == "conv1"
    assert replay.cam_class == 3 and "the label" in replay.cam_note
    newest = replay.cam_images[1].value
    dyn.step = steps[1]
    assert replay.cam_step == steps[1]
    assert f"step {steps[1]}" in replay.cam_note
    assert replay.cam_images[1].value != newest  # another map drawn over the input
    dyn.step = steps[1] + 1  # between two maps: the one before
    assert replay.cam_step == steps[1]
    dyn.step = None
    assert replay.cam_step == steps[-1]
    assert dyn.slider.min == 0  # the map before training is on the slider
    dyn.slider.value = 0  # a person moves it there
    assert dyn.step == 0 and replay.cam_step == 0
    dyn.newest.value = True


def test_a_layer_picked_while_idle_is_compiled_in_the_background(trained):
    state, dyn, _ = trained
    cams = dyn.recorder.explanations
    state.layer = "dense"  # no spatial axes: the last spatial layer, pool
    dyn.recorder.join()
    assert cams.layer == "pool"
    assert dyn.replay.cam_layer == "conv1"  # the maps recorded stay where they were taken
    dyn.replay.draw()
    assert "pool is selected: its maps are recorded from the next fit" in dyn.replay.cam_note
    state.layer = "conv1"
    dyn.recorder.join()
    assert cams.layer == "conv1"


def test_the_layer_is_never_compiled_while_fit_runs(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:40], y[:40])
    dyn = nw.TrainingDynamics(state)
    cams = dyn.recorder.explanations
    cams.budget = 1.0
    seen = []

    class PickLayer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                state.layer = "conv2"  # a person clicks conv2 while fit runs
            seen.append(cams.traces.busy)

    fit(model, x, y, [dyn.callback, PickLayer()], epochs=1)
    assert not any(seen)  # nothing traced in the background during fit
    assert {s.layer for _, s in cams.log.items()} == {"conv1"}  # kept the compiled layer
    dyn.recorder.join()  # compiled once fit ended
    assert cams.layer == "conv2"
    fit(model, x, y, [dyn.callback], epochs=1)
    assert cams.log.last().layer == "conv2"
    dyn.close()


def test_a_warm_up_asked_for_while_fit_runs_compiles_when_it_ends(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:40], y[:40])
    dyn = nw.TrainingDynamics(state, warm_up=False)  # (explore()'s tab, not shown yet)
    cams, busy, notes = dyn.recorder.explanations, [], []

    class OpenTab(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                dyn.recorder.warm_up()  # a person opens the tab while fit runs
                dyn.replay.draw()
                notes.append(dyn.replay.cam_note)
            busy.append(cams.traces.busy)

    fit(model, x, y, [dyn.callback, OpenTab()], epochs=1)
    assert not any(busy) and len(cams.log) == 0
    assert "never while it runs" in notes[0]
    dyn.recorder.join()  # compiled once fit ended, its map taken then
    assert cams.layer == "conv1" and cams.log.steps() == [dyn.session.step]
    dyn.close()


def test_watching_another_input_starts_its_maps_again(trained):
    state, dyn, _ = trained
    state.input_index = 7
    dyn.replay.watch.click()
    cams = dyn.recorder.explanations
    assert cams.index == 7 and len(cams.log) == 0
    assert dyn.replay.cam_step is None and "no Grad-CAM map yet" in dyn.replay.cam_note


def test_without_labels_the_predicted_class_is_explained(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:40])
    dyn = nw.TrainingDynamics(state)
    dyn.recorder.join()
    dyn.replay.draw()
    cams = dyn.recorder.explanations
    shot = cams.log.last()
    predicted = int(np.argmax(model.predict(x[:1], verbose=0)))
    assert (shot.source, shot.class_index) == ("predicted", predicted)
    assert "predicted then" in dyn.replay.cam_note
    dyn.close()


def test_a_model_without_a_spatial_layer_records_nothing_and_says_why(digits):
    x, y = digits
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Flatten(name="flat"),
            L.Dense(16, activation="relu", name="h"),
            L.Dense(10, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    state = nw.ModelState(model, x[:40], y[:40])
    dyn = nw.TrainingDynamics(state, budget=1.0)
    fit(model, x, y, [dyn.callback], epochs=1)
    cams = dyn.recorder.explanations
    assert len(cams.log) == 0 and cams.layer is None
    assert "no layer with spatial output" in dyn.replay.cam_note
    assert dyn.replay.cam_step is None and dyn.replay.error == ""
    assert len(dyn.recorder.snapshots.log) >= 2  # the rest still records
    dyn.close()


def test_other_inputs_say_the_replay_is_for_images():
    x, y = nw.datasets.waves(48)
    model = keras.Sequential(
        [
            keras.Input((100, 1)),
            L.Conv1D(4, 5, activation="relu", name="conv"),
            L.GlobalAveragePooling1D(name="gap"),
            L.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    state = nw.ModelState(model, x, y)
    dyn = nw.TrainingDynamics(state, budget=1.0)
    fit(model, x, y, [dyn.callback], epochs=1)
    assert len(dyn.recorder.explanations.log) == 0
    assert dyn.replay.cam_note == "Grad-CAM replay is for image inputs"
    dyn.close()
