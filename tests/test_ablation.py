"""Switching units off (``ModelState.ablation``): recordings, predictions, the views, and
that the model itself never changes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw
from nnwidgets.compute import ablation as A
from nnwidgets.views.unit_switch import clicked_unit

L = keras.layers


@pytest.fixture
def trained():
    x, y = nw.datasets.load_digits(300)
    model = nw.datasets.trained_demo_model()
    return model, x, y


@pytest.fixture
def state(trained):
    model, x, y = trained
    return nw.ModelState(model, x[:40], y[:40])


def weight_bytes(model) -> list[bytes]:
    return [np.asarray(v.numpy()).tobytes() for v in model.weights]


def click(mark, **data) -> None:
    """What bqplot's front end sends when a mark is clicked."""
    mark._handle_custom_msgs(None, {"event": "element_click", "data": data})


# -- the state ---------------------------------------------------------------------
def test_every_channel_off_zeroes_the_layer_and_changes_what_follows(state):
    conv2, probs = state.activation("conv2").copy(), state.prediction().copy()
    state.ablation = {"conv1": tuple(range(16))}
    assert np.all(state.activation("conv1") == 0)
    after = state.activation("conv2")
    assert not np.allclose(after, conv2)
    bias = state.model.get_layer("conv2").bias.numpy()
    np.testing.assert_allclose(after, np.broadcast_to(np.maximum(bias, 0), after.shape), atol=1e-6)
    assert not np.allclose(state.prediction(), probs)


def test_some_channels_off_zero_only_them(state):
    before = state.activation("conv2").copy()
    state.toggle_unit("conv2", 5)
    state.toggle_unit("conv2", 1)
    assert state.ablation == {"conv2": (1, 5)}
    after = state.activation("conv2")
    assert np.all(after[..., [1, 5]] == 0)
    keep = [c for c in range(32) if c not in (1, 5)]
    np.testing.assert_allclose(after[..., keep], before[..., keep], rtol=1e-6, atol=1e-6)


def test_restoring_gives_back_the_very_same_outputs(state):
    model, x = state.model, state.inputs
    before = [[a.copy() for a in state.predictions(i)] for i in range(4)]
    layers = {name: state.activation(name).copy() for name in state.layer_names}
    batched = A.predict_batches(model, x)
    state.ablation = {"conv1": (0, 3), "dense": tuple(range(0, 64, 2)), "probs": (7,)}
    assert not np.array_equal(state.prediction(0), before[0][0])
    assert not np.array_equal(A.predict_batches(model, x, state.ablation), batched)
    state.ablation = {}
    for i in range(4):
        assert all(
            np.array_equal(a, b) for a, b in zip(state.predictions(i), before[i], strict=True)
        )
    state.input_index = 0
    assert all(np.array_equal(state.activation(n), a) for n, a in layers.items())
    assert np.array_equal(A.predict_batches(model, x), batched)
    assert np.array_equal(A.predict_batches(model, x, {}), batched)


def test_weights_never_change(state):
    model = state.model
    saved = weight_bytes(model)
    views = [nw.ActivationExplorer(state), nw.AblationView(state), nw.PredictionView(state)]
    for layer in ("conv1", "conv2", "dense", "probs"):
        state.layer = layer
        state.toggle_unit(layer, 0)
        state.toggle_unit(layer, 3)
    A.predict_batches(model, state.inputs, state.ablation)
    state.ablation = {}
    assert weight_bytes(model) == saved
    for view in views:
        assert view.error == ""
        view.close()


def test_changes_bump_the_version_and_are_normalised(state):
    version = state.version
    state.ablation = {"dense": [9, np.int64(2), 9], "conv1": (), "conv2": 4}
    assert state.ablation == {"conv2": (4,), "dense": (2, 9)}  # graph order, sorted, once
    assert state.version == version + 1
    state.ablation = {"conv2": (4,), "dense": (9, 2)}  # the same: no change, no redraw
    assert state.version == version + 1
    assert state.switched_off("dense") == (2, 9) and state.units("dense") == 64
    state.restore("dense")
    assert state.ablation == {"conv2": (4,)}
    assert state.toggle_unit("conv2", 4) is False and state.ablation == {}


@pytest.mark.parametrize(
    "bad, says",
    [
        ({"nope": (1,)}, "no layer named 'nope'"),
        ({"conv1": (16,)}, r"range 0\.\.15 \(16 units\); got 16"),
        ({"conv1": (-1,)}, r"range 0\.\.15"),
        ({"conv1": (1.5,)}, r"ints in range 0\.\.15; got 1\.5 \(float\)"),
        ({"conv1": (True,)}, "got True"),
        ({"conv1": ("2",)}, "got '2'"),
        ({"conv1": "2"}, "must be a tuple of ints"),
        ({3: (1,)}, "layer names must be str"),
        ({"": (1,)}, "no layer named ''"),
    ],
)
def test_bad_values_raise_naming_the_choices_and_keep_the_state(state, bad, says):
    state.ablation = {"dense": (1,)}
    version = state.version
    with pytest.raises(TraitError, match=says) as err:
        state.ablation = bad
    assert "ModelState.ablation" in str(err.value)
    assert "'conv1' (16 units), 'conv2' (32 units)" in str(err.value)
    assert state.ablation == {"dense": (1,)} and state.version == version


def test_toggle_checks_first(state):
    for layer, unit in (("conv1", 16), ("conv1", 1.0), ("nope", 0)):
        with pytest.raises(TraitError, match="ModelState.ablation"):
            state.toggle_unit(layer, unit)
    with pytest.raises(TraitError):
        state.ablation = ["conv1"]
    assert state.ablation == {}


class Block(L.Layer):
    """A user's composite layer: its inner Dense runs inside call()."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = L.Dense(4, name="inner")

    def call(self, x):
        return self.inner(x) * 2.0


def test_a_layer_inside_a_call_cannot_be_switched_off():
    i = keras.Input((3,))
    model = keras.Model(i, L.Dense(2, name="out")(Block(name="block")(i)))
    state = nw.ModelState(model, np.ones((2, 3), "float32"))
    assert "block/inner" in state.layer_names
    with pytest.raises(TraitError, match=r"inside the call\(\) of 'block'.*'block' \(4 units\)"):
        state.ablation = {"block/inner": (0,)}
    state.ablation = {"block": (0, 1, 2, 3)}  # the block's own output can
    assert np.all(state.activation("block") == 0)


# -- graphs: branches, nested models -----------------------------------------------
def test_branches():
    i = keras.Input((12,), name="x")
    a = L.Dense(8, activation="relu", name="left")(i)
    b = L.Dense(8, activation="tanh", name="right")(i)
    o = L.Dense(4, name="out")(L.Add(name="add")([a, b]))
    model = keras.Model(i, o)
    x = np.random.default_rng(0).normal(size=(5, 12)).astype("float32")
    state = nw.ModelState(model, x)
    right = state.activation("right").copy()
    state.ablation = {"left": tuple(range(8))}
    np.testing.assert_array_equal(state.activation("add"), right)
    # the same through the batched predictions, against the model without "left"
    without = keras.Model(i, L.Dense(4)(b))
    without.layers[-1].set_weights(model.get_layer("out").get_weights())
    np.testing.assert_allclose(
        A.predict_batches(model, x, state.ablation), without.predict(x, verbose=0), atol=1e-5
    )


def test_nested_model_inner_and_outer():
    inner = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(6, 3, name="inner_conv"), L.GlobalAveragePooling2D()],
        name="encoder",
    )
    i = keras.Input((8, 8, 1))
    model = keras.Model(i, L.Dense(3, name="head")(inner(i)))
    x = np.random.default_rng(1).random((4, 8, 8, 1)).astype("float32")
    state = nw.ModelState(model, x)
    head = state.prediction().copy()
    state.ablation = {"encoder/inner_conv": (2,)}
    assert np.all(state.activation("encoder/inner_conv")[..., 2] == 0)
    assert state.activation("encoder")[2] == 0
    state.ablation = {"encoder": (0, 1, 2, 3, 4, 5)}
    assert np.all(state.activation("encoder") == 0)
    bias = model.get_layer("head").bias.numpy()
    np.testing.assert_allclose(state.prediction(), bias, atol=1e-6)
    state.ablation = {}
    assert np.array_equal(state.prediction(), head)


def test_toggling_units_does_not_retrace(state):
    state.ablation = {"conv1": (1,)}
    state.activation()
    recorder = state.activations.recorder
    traces = recorder.compiled_masked.experimental_get_tracing_count()
    plain = recorder.compiled.experimental_get_tracing_count()
    for unit in (2, 3, 4):
        state.toggle_unit("conv1", unit)
        state.activation()
    assert recorder.compiled_masked.experimental_get_tracing_count() == traces
    assert recorder.compiled.experimental_get_tracing_count() == plain
    predictor = A._Predictor.of(state.model)
    A.predict_batches(state.model, state.inputs, {"dense": (1,)})
    count = predictor._compiled.experimental_get_tracing_count()
    A.predict_batches(state.model, state.inputs, {"dense": (1, 2, 3)})
    assert predictor._compiled.experimental_get_tracing_count() == count


def test_predict_batches_is_the_model_without_ablation(trained):
    model, x, _ = trained
    out = A.predict_batches(model, x, batch_size=64)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ablated = A.predict_batches(model, x, {"conv2": (0, 31)}, batch_size=64)
    np.testing.assert_allclose(
        ablated, A.predict_batches(model, x, {"conv2": (0, 31)}, batch_size=300), atol=1e-6
    )


# -- the views -----------------------------------------------------------------------
def zeroed_clone(model, layer: str, units) -> keras.Model:
    """An independent reference: a clone whose ``layer`` has those units' kernel
    columns and biases zeroed (its activation is a ReLU: their outputs are 0)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    target = clone.get_layer(layer)
    kernel, bias = (w.copy() for w in target.get_weights())
    kernel[..., list(units)] = 0
    bias[list(units)] = 0
    target.set_weights([kernel, bias])
    return clone


@pytest.mark.parametrize("layer, units", [("dense", tuple(range(0, 64, 2))), ("conv1", (0, 2, 5))])
def test_accuracy_with_and_without_matches_a_clone(trained, layer, units):
    model, x, y = trained
    state = nw.ModelState(model, x, y)
    view = nw.AblationView(state)
    assert view.accuracy == () and view.measured == 0  # nothing off: nothing computed
    state.ablation = {layer: units}
    before = np.argmax(model.predict(x, verbose=0), axis=1)
    after = np.argmax(zeroed_clone(model, layer, units).predict(x, verbose=0), axis=1)
    assert view.accuracy == (np.mean(before == y), np.mean(after == y))
    assert view.changed == np.sum(before != after) and view.measured == len(x)
    assert view.accuracy[1] < view.accuracy[0]
    assert len(view.rows.children) == 1 and layer in view.rows.children[0].children[1].value
    assert "accuracy" in view.overall.value and view.summaries[1].startswith("predicted")
    view.close()


def test_the_view_restores_and_follows_the_selection(state):
    view = nw.AblationView(state, max_samples=10)
    state.ablation = {"conv1": (1,), "dense": tuple(range(64))}
    assert view.measured == 10 and len(view.rows.children) == 2
    state.input_index = 30  # beyond the inputs measured: computed alone
    predictions = nw.PredictionView(state)  # it follows the ablation too
    assert view.summaries[1] == predictions.summaries[0] != view.summaries[0]
    predictions.close()
    view.rows.children[0].children[0].click()  # "restore" conv1
    assert state.ablation == {"dense": tuple(range(64))} and len(view.rows.children) == 1
    view.restore_all.click()
    assert state.ablation == {} and view.rows.children == () and view.summaries == ()
    assert "Nothing is switched off" in view.heading.value
    view.close()


def test_the_view_of_a_regression_compares_values():
    model = keras.Sequential([keras.Input((4,)), L.Dense(6, name="h"), L.Dense(1, name="y")])
    x = np.random.default_rng(2).normal(size=(20, 4)).astype("float32")
    state = nw.ModelState(model, x, np.zeros(20))
    view = nw.AblationView(state)
    state.ablation = {"h": (0, 1, 2)}
    assert view.accuracy == () and view.changed == 20 and view.mean_change > 0
    before, after = model.predict(x, verbose=0), A.predict_batches(model, x, state.ablation)
    assert view.mean_change == pytest.approx(np.mean(np.abs(after - before)), rel=1e-5)
    assert "compared are its values" in view.overall.value and view.error == ""
    view.close()


def test_a_click_on_the_grid_toggles_that_channel(state):
    view = nw.ActivationExplorer(state)
    state.layer = "conv1"  # 16 maps 8x8 in 4 columns, one gap cell between tiles
    assert view.shape == (8, 8, 16)
    click(view.panel.mark, click_x=2 * 9 + 4.5, click_y=9 + 0.5)  # row 1, column 2
    assert state.ablation == {"conv1": (6,)}
    click(view.panel.mark, click_x=0.2, click_y=35.0)  # row 3, column 0
    assert state.ablation == {"conv1": (6, 12)}
    click(view.panel.mark, click_x=22.0, click_y=13.0)
    assert state.ablation == {"conv1": (12,)}
    click(view.panel.mark, click_x=99.0, click_y=1.0)  # off the grid: nothing
    assert state.ablation == {"conv1": (12,)} and view.error == ""
    view.close()


def test_a_click_on_a_bar_and_the_switch_toggle_units(state):
    view = nw.ActivationExplorer(state)
    state.layer = "dense"
    click(view.vector.bars, index=5)
    assert state.ablation == {"dense": (5,)} and "units 5" in view.stats.value
    state.layer = "conv2"
    view.channel = 3
    assert view.off_box.layout.display != "none" and view.off_box.value is False
    view.off_box.value = True  # as a person ticks it
    assert state.ablation == {"dense": (5,), "conv2": (3,)}
    state.ablation = {}
    assert view.off_box.value is False
    view._toggle(99)  # out of range: said in the view, never raised
    assert "range 0..31" in view.error and state.ablation == {}
    view.close()


def test_the_picture_follows_and_crosses_out(state):
    view = nw.ActivationExplorer(state)
    state.layer = "conv1"
    plain = bytes(view.panel.mark.image.value)
    state.toggle_unit("conv1", 2)
    crossed = bytes(view.panel.mark.image.value)
    assert crossed != plain and "switched off (crossed out): channels 2" in view.panel.bar.value
    state.ablation = {}
    assert bytes(view.panel.mark.image.value) == plain
    view.close()


def test_clicked_unit_covers_the_grid():
    shape = (3, 5, 10)  # 10 tiles 3x5 in grid_columns(10) = 5 columns, 2 rows
    for unit in range(10):
        row, col = divmod(unit, 5)
        assert clicked_unit(col * 6 + 2.5, row * 4 + 1.5, shape) == unit
    assert clicked_unit(-1, 0, shape) is None and clicked_unit(0, 100, shape) is None


def test_the_view_keeps_the_contract(state):
    from ipywidgets.widgets.widget import _instances

    with pytest.raises(TraitError, match="max_samples"):
        nw.AblationView(state, max_samples=0)
    view = nw.AblationView(state)
    state.ablation = {"conv1": (1,), "dense": (1,)}
    widgets = len(_instances)
    for units in ((1, 2), (3,), (1, 2), (3,)):  # rows remade: the old ones closed
        state.ablation = {"conv1": units, "dense": units}
    assert len(_instances) == widgets
    view.close()
    misses = state.activations.misses
    state.ablation = {"dense": (4,)}  # closed: it computes nothing
    state.refresh()
    assert state.activations.misses == misses and view.summaries[1]


def test_predictions_hold_the_model_weakly_and_check_names(digits):
    import gc
    import weakref

    model = nw.datasets.demo_model()
    x = digits[0][:20]
    A.predict_batches(model, x, {"dense": (1,)})
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        A.predict_batches(model, x, {"nope": (1,)})
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
