"""The view contract, for every view: options are validated traits, what a view shows is
a public trait that observe and link work on, errors are shown in the view, and a
closed view follows nothing and computes nothing."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw
from nnwidgets.training import TrainingSession
from nnwidgets.training.dynamics import DynamicsRecorder
from nnwidgets.views import dynamics as dynamics_views


def _recorder(state):
    return DynamicsRecorder(state, TrainingSession())


VIEWS = {
    "LayerPicker": lambda s, **o: nw.LayerPicker(s, **o),
    "InputPicker": lambda s, **o: nw.InputPicker(s, **o),
    "WeightHeatmap": lambda s, **o: nw.WeightHeatmap(s, **o),
    "ActivationExplorer": lambda s, **o: nw.ActivationExplorer(s, **o),
    "LiveTrainingPlot": lambda s, **o: nw.LiveTrainingPlot(s, **o),
    "Explorer": lambda s, **o: nw.Explorer(s, **o),
    "TrainingDynamics": lambda s, **o: nw.TrainingDynamics(s, **o),
    "AttributionView": lambda s, **o: nw.AttributionView(s, **o),
    "ModelGraph": lambda s, **o: nw.ModelGraph(s, **o),
    "LayerTable": lambda s, **o: nw.LayerTable(s, _recorder(s), **o),
    "AttentionView": lambda s, **o: nw.AttentionView(s, **o),
    **{
        name: (lambda cls: lambda s, **o: cls(s, _recorder(s), **o))(getattr(dynamics_views, name))
        for name in (
            "GradientFlow",
            "UpdateRatios",
            "WeightDistribution",
            "DeadUnits",
            "InputReplay",
        )
    },
}

# (view, option, a bad value): each must raise a TraitError naming the option
BAD_OPTIONS = [
    ("LayerPicker", "rows", 1),
    ("InputPicker", "picture_size", 4),
    ("WeightHeatmap", "bins", 1),
    ("WeightHeatmap", "cmap", "jet"),
    ("ActivationExplorer", "per_channel", "yes"),
    ("ActivationExplorer", "cmap", 3),
    ("LiveTrainingPlot", "max_points", 2),
    ("LiveTrainingPlot", "smoothing", 1.5),
    ("LiveTrainingPlot", "x_axis", "hours"),
    ("AttributionView", "method", "jet"),
    ("AttributionView", "opacity", 1.5),
    ("AttributionView", "steps", 1),
    ("ModelGraph", "expanded", ("dense",)),
    ("ModelGraph", "height", 10),
    ("LayerTable", "sort_by", "colour"),
    ("LayerTable", "height", 10),
]


@pytest.fixture
def state(digits):
    x, y = digits
    return nw.ModelState(nw.datasets.demo_model(), x[:6], y[:6])


def observers(has_traits) -> int:
    """How many observers are registered on an object's traits."""
    return sum(
        len(handlers)
        for by_type in has_traits._trait_notifiers.values()
        for handlers in by_type.values()
    )


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_closed_view_follows_and_computes_nothing(name, state):
    before = observers(state)
    view = VIEWS[name](state)
    source = view.source  # the state, or the live plot's training session
    assert observers(source) > (before if source is state else 0)  # followed while open
    state.layer, state.input_index = "conv2", 1  # driven through the state
    view.close()
    assert observers(state) == before and observers(source) == (before if source is state else 0)
    assert not getattr(view, "session", None) or view.session.probes == []
    misses = state.activations.misses
    state.input_index = 4  # nothing open wants this input: no forward pass
    state.refresh()
    state.layer = "dense"
    assert state.activations.misses == misses


@pytest.mark.parametrize("name, option, bad", BAD_OPTIONS)
def test_bad_options_raise_naming_the_option(name, option, bad, state):
    with pytest.raises(TraitError, match=option):
        VIEWS[name](state, **{option: bad})
    view = VIEWS[name](state)
    good = getattr(view, option)
    with pytest.raises(TraitError, match=option):
        setattr(view, option, bad)
    assert getattr(view, option) == good  # the view keeps its previous value
    view.close()


def test_a_view_needs_a_state():
    with pytest.raises(TypeError, match="WeightHeatmap needs a ModelState, got str"):
        nw.WeightHeatmap("model")


def test_options_are_documented_traits():
    views = (nw.LayerPicker, nw.InputPicker, nw.WeightHeatmap, nw.ActivationExplorer)
    for cls in (*views, nw.AttributionView, nw.ModelGraph, nw.LayerTable, nw.AttentionView):
        options = cls.class_traits(option=True)
        assert options, cls
        assert all(trait.help for trait in options.values()), cls


def test_layer_picker_value_both_ways_and_linked(state, digits):
    x, y = digits
    picker = nw.LayerPicker(state)
    seen = []
    picker.observe(lambda change: seen.append(change["new"]), names="value")
    picker.value = "dense"
    assert state.layer == "dense" and picker.select.value == "dense"
    state.layer = "pool"
    assert picker.value == "pool" and seen == ["dense", "pool"]
    with pytest.raises(TraitError, match="LayerPicker.value must be one of"):
        picker.value = "nope"
    assert picker.value == state.layer == "pool"

    other = nw.ModelState(nw.datasets.demo_model(seed=1), x[:3], y[:3])
    twin = nw.LayerPicker(other)
    W.link((picker, "value"), (twin, "value"))  # two states, one choice
    state.layer = "conv1"
    assert other.layer == "conv1" and twin.select.value == "conv1"


def test_input_picker_value_both_ways(state):
    picker = nw.InputPicker(state)
    picker.value = 3
    assert state.input_index == 3 and picker.slider.value == 3
    picker.next.click()
    assert picker.value == state.input_index == 4
    state.input_index = 1
    assert picker.value == 1
    with pytest.raises(TraitError, match="InputPicker.value must be in range 0..5"):
        picker.value = 6
    assert state.input_index == 1


def test_weight_variable_follows_the_layer_and_can_be_set(state):
    view = nw.WeightHeatmap(state)
    seen = []
    view.observe(lambda change: seen.append(change["new"]), names="variable")
    state.layer = "dense"
    assert view.variable == "digits_cnn/dense/kernel" and seen == [view.variable]
    view.variable = "digits_cnn/dense/bias"
    assert view.picker.label == "bias" and "bias (64,)" in view.panel.figure.title
    with pytest.raises(TraitError, match="WeightHeatmap.variable must be one of"):
        view.variable = "digits_cnn/conv1/kernel"  # not a variable of this layer
    state.layer = "pool"  # no weights
    assert view.variable == "" and "has no weights" in view.message.value


def test_activation_channel_shown_alone(state):
    view = nw.ActivationExplorer(state)
    state.layer = "conv2"
    assert view.shape == (8, 8, 32) and view.channel is None
    grid = bytes(view.panel.mark.image.value)
    view.channel = 5
    assert "channel 5" in view.panel.figure.title
    assert bytes(view.panel.mark.image.value) != grid
    assert list(view.panel.mark.x) == [0, 8]  # one 8x8 map with pixel axes, not a grid
    assert not view.all_box.value and view.channel_slider.value == 5
    view.channel_slider.value = 7  # as a person moving the slider
    assert view.channel == 7
    view.all_box.value = True  # back to the grid
    assert view.channel is None and view.channel_slider.disabled
    assert bytes(view.panel.mark.image.value) == grid
    view.all_box.value = False  # one channel again: the slider's
    assert view.channel == 7
    with pytest.raises(TraitError, match="channel must be 0..31"):
        view.channel = 32
    state.layer = "dense"  # a vector: back to no channel
    assert view.channel is None and view.shape == (64,)
    with pytest.raises(TraitError, match="channel"):
        view.channel = 0


def test_errors_are_shown_in_the_view_not_raised():
    import keras

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, name="hidden")

        def call(self, x):
            return self.hidden(x)

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    view = nw.ActivationExplorer(nw.ModelState(model, np.ones((2, 3), "float32")))
    assert "subclassed model" in view.error and "subclassed model" in view.message.value


def test_error_clears_when_the_view_draws_again(state, monkeypatch):
    view = nw.ActivationExplorer(state)
    monkeypatch.setattr(state, "activation", lambda **_: 1 / 0)
    state.input_index = 2
    assert "division by zero" in view.error
    monkeypatch.undo()
    state.input_index = 3
    assert view.error == "" and view.message.value == ""
