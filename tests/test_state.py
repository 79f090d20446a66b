"""ModelState: selection, validation, caching and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw


@pytest.fixture
def state(digits):
    x, y = digits
    return nw.ModelState(nw.datasets.demo_model(), inputs=x[:10], labels=y[:10])


def test_layer_names_in_graph_order(state):
    assert state.layer_names == ("conv1", "conv2", "pool", "flatten", "dense", "dropout", "probs")
    assert state.layer == "conv1"  # the first layer with weights


def test_unknown_layer_raises_and_keeps_state(state):
    state.layer = "dense"
    with pytest.raises(TraitError, match=r"ModelState.layer must be one of .*'conv1'.*'nope'"):
        state.layer = "nope"
    assert state.layer == "dense"


def test_input_index_out_of_range(state):
    state.input_index = 3
    with pytest.raises(TraitError, match=r"input_index must be in range 0..9"):
        state.input_index = 10
    with pytest.raises(TraitError):
        state.input_index = -1
    assert state.input_index == 3


def test_layer_names_is_read_only(state):
    with pytest.raises(TraitError):
        state.layer_names = ("x",)


def test_layer_switch_costs_no_forward_pass(state, monkeypatch):
    state.activation()
    calls = []
    original = state.activations.recorder

    def counting(x):
        calls.append(1)
        return original(x)

    monkeypatch.setattr(state.activations, "recorder", counting)
    for name in state.layer_names:
        state.layer = name
        state.activation()
    assert calls == []
    state.input_index = 4
    state.activation()
    assert calls == [1]


def test_activation_matches_a_sub_model(state):
    import keras

    state.input_index = 2
    model = state.model
    sub = keras.Model(model.inputs, model.get_layer("conv2").output)
    expected = np.asarray(sub(state.inputs[2:3]))[0]
    np.testing.assert_allclose(state.activation("conv2"), expected, rtol=1e-5, atol=1e-6)


def test_refresh_sees_new_weights(state):
    before = state.activation("probs").copy()
    version = state.version
    layer = state.model.get_layer("probs")
    layer.set_weights([w * 0 for w in layer.get_weights()])
    state.refresh()
    assert state.version == version + 1
    np.testing.assert_allclose(state.activation("probs"), np.full(10, 0.1), atol=1e-6)
    assert not np.allclose(before, 0.1)


def test_not_a_model():
    with pytest.raises(TypeError, match="needs a keras.Model, got str"):
        nw.ModelState("resnet")
    with pytest.raises(TypeError, match="keras.Model"):
        nw.ModelState(np.zeros(3))


@pytest.mark.parametrize(
    "inputs, error, match",
    [
        (
            np.zeros((4, 5, 5, 1)),
            ValueError,
            r"expects input .digit. of shape \(None, 8, 8, 1\); got an array of shape \(4, 5, 5, 1\)",
        ),
        (np.zeros((0, 8, 8, 1)), ValueError, "empty"),
        (np.array(["a", "b"]), TypeError, "numeric"),
        ([[1, 2], [3]], ValueError, "could not be turned into an array"),
        (np.float32(3.0), ValueError, "batch axis"),
    ],
)
def test_bad_inputs_name_the_problem(inputs, error, match, digits):
    with pytest.raises(error, match=match):
        nw.ModelState(nw.datasets.demo_model(), inputs=inputs)


def test_bad_data_keeps_previous_data(state):
    before = state.inputs
    state.input_index = 5
    with pytest.raises(ValueError):
        state.set_data(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="one entry per input"):
        state.set_data(before, labels=np.zeros(3))
    assert state.inputs is before and state.input_index == 5


def test_lists_and_integer_images_are_accepted(digits):
    x, y = digits
    ints = (x[:4] * 16).astype("uint8")
    state = nw.ModelState(nw.datasets.demo_model(), inputs=ints.tolist(), labels=list(y[:4]))
    assert state.n_inputs == 4 and state.activation("probs").shape == (10,)


def test_nan_inputs_are_carried_not_crashed(digits):
    x, _ = digits
    bad = x[:3].copy()
    bad[1, 2, 2, 0] = np.nan
    state = nw.ModelState(nw.datasets.demo_model(), inputs=bad)
    state.input_index = 1
    # compiled kernels may turn relu(NaN) into 0, so the output is not checked for NaN;
    # what matters is that it runs and that the input view flags the NaN
    assert state.activation("probs").shape == (10,)
    picker = nw.InputPicker(state)
    assert "1 NaN/Inf values" in picker.displays[0].note.value


def test_unbuilt_sequential_without_inputs_lists_layers():
    import keras

    model = keras.Sequential([keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])
    state = nw.ModelState(model)
    assert state.layer_names == ("a", "b")
    with pytest.raises(ValueError, match="no inputs"):
        state.activation()
    state.set_data(np.ones((2, 5)))
    assert state.activation("b").shape == (2,)


def test_labels_without_inputs():
    import keras

    with pytest.raises(ValueError, match="labels were given without inputs"):
        nw.ModelState(keras.Sequential([keras.layers.Dense(1)]), labels=[1])


def test_subclassed_model_lists_layers_and_says_why_no_activations():
    import keras

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, name="hidden")
            self.out = keras.layers.Dense(2, name="out")

        def call(self, x):
            return self.out(self.hidden(x))

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    app = nw.explore(model, np.ones((3, 3), "float32"))
    assert app.state.layer_names == ("hidden", "out")
    assert app.state.prediction().shape == (2,)
    assert "subclassed model" in app.activations.message.value
    assert app.weights.panel.figure.title.startswith("hidden: kernel")


def test_wrong_shape_leaves_unbuilt_model_usable():
    import keras

    L = keras.layers
    model = keras.Sequential([L.Conv2D(4, 3), L.Flatten(), L.Dense(2)])
    state = nw.ModelState(model)
    with pytest.raises(ValueError, match=r"model expects .*; got an array of shape \(3, 10\)"):
        state.set_data(np.zeros((3, 10)))
    assert not model.built
    state.set_data(np.zeros((3, 8, 8, 1)))
    assert state.activation().shape == (6, 6, 4)
    assert "(N, 6, 6, 4)" in state.layer_info(state.layer_names[0]).label()


def test_index_and_name_checks_outside_traits(state):
    with pytest.raises(ValueError, match="range 0..9"):
        state.activation("dense", 99)
    with pytest.raises(ValueError, match="range 0..9"):
        state.prediction(-1)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        state.activation("nope")
    with pytest.raises(TypeError, match="got None"):
        state.set_data(None)


def test_odd_input_ranks():
    import keras

    L = keras.layers
    i = keras.Input(())
    scalar = keras.Model(i, L.Dense(2)(L.Reshape((1,))(i)))
    app = nw.explore(scalar, np.random.rand(5))
    assert app.state.activation(app.state.layer_names[-1]).shape == (2,)
    assert "input 0" in app.input.caption.value
    j = keras.Input((1,))
    squeezed = keras.Model(j, L.Dense(2)(j))
    state = nw.ModelState(squeezed, inputs=np.random.rand(5))  # like predict, rank is fixed
    assert state.prediction().shape == (2,)


def test_subclassed_model_with_two_inputs():
    import keras

    class Two(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, xs):
            return self.d(keras.ops.concatenate(xs, axis=-1))

    state = nw.ModelState(Two(), inputs=[np.zeros((3, 2)), np.ones((3, 4))])
    assert state.n_inputs == 3 and state.prediction().shape == (2,)


def test_model_without_pickable_layers():
    import keras

    i = keras.Input((3,))
    app = nw.explore(keras.Model(i, i), np.zeros((2, 3)))
    assert app.state.layer_names == ()
    assert "no layers to pick" in app.weights.message.value


def test_training_through_another_state_is_seen_on_the_next_draw(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    watcher = nw.ModelState(model, x[:5], y[:5])
    view = nw.WeightHeatmap(watcher)
    before_act, before_bar = watcher.prediction().copy(), view.panel.bar.value
    model.fit(x, y, epochs=1, verbose=0)  # no callback, no refresh(): the optimizer stepped
    assert not np.allclose(watcher.prediction(), before_act)
    np.testing.assert_allclose(watcher.prediction(), model(x[:1])[0].numpy(), rtol=1e-5, atol=1e-6)
    view.draw()
    assert view.panel.bar.value != before_bar


def test_selection_is_a_checked_sorted_set_of_inputs_emptied_by_new_data():
    x, y = nw.datasets.load_digits(20)
    state = nw.ModelState(nw.datasets.demo_model(), x, y)
    state.selection = [7, np.int64(3), 7]
    assert state.selection == (3, 7)
    for bad, words in (((True,), "ints"), ((20,), "out of range 0..19"), (("a",), "ints")):
        with pytest.raises(TraitError, match=words):
            state.selection = bad
        assert state.selection == (3, 7)  # kept
    state.set_data(x[:5], y[:5])
    assert state.selection == ()
