"""Widgets built in pytest: select every layer and several inputs, check what is drawn."""

from __future__ import annotations

import re

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.testing import recording_comms


def _drawn_png(panel) -> bytes:
    return bytes(panel.mark.image.value)


def _visible(widget) -> bool:
    return widget.layout.display != "none"


def _check_weights(view, state):
    info = state.layer_info()
    if not info.layer.weights:
        assert "has no weights" in view.message.value and not _visible(view.body)
        return
    assert _visible(view.body) and view.message.value == ""
    assert view.panel.figure.title.startswith(info.name)
    w = np.asarray(next(v for v in info.layer.weights if v.path == view.variable).numpy())
    assert view.hist.bars.y.sum() == np.isfinite(w).sum()
    assert _drawn_png(view.panel).startswith(b"\x89PNG")


def _check_activations(view, state):
    a = state.activation()
    title = view.panel.figure.title if a.ndim >= 2 else view.vector.figure.title
    assert title.startswith(f"{state.layer}: output {tuple(a.shape)}")
    if a.ndim <= 1:
        assert _visible(view.vector.figure) and not _visible(view.panel.figure)
        drawn = view.vector.bars.y if view.vector.bars.visible else view.vector.line.y
        assert len(drawn) == a.size if a.size <= 128 else len(drawn) <= 1000
    else:
        assert _visible(view.panel.figure) and _drawn_png(view.panel).startswith(b"\x89PNG")


def test_every_layer_and_several_inputs_of_every_model(model_and_inputs):
    model, x = model_and_inputs
    app = nw.explore(model, x)
    state = app.state
    for index in (0, state.n_inputs - 1, 1):
        state.input_index = index
        for name in state.layer_names:
            app.layers.select.value = name  # as a click in the picker
            assert state.layer == name
            _check_weights(app.weights, state)
            _check_activations(app.activations, state)


def test_mobilenet_every_layer_bounded(mobilenet):
    model, x = mobilenet
    with recording_comms() as log:
        app = nw.explore(model, x)
        state = app.state
        largest = 0
        for name in state.layer_names:
            mark = len(log)
            state.layer = name
            largest = max(largest, log.bytes(mark))
        mark = len(log)
        state.input_index = 1
        input_bytes = log.bytes(mark)
    assert 0 < largest < 600_000, largest
    assert 0 < input_bytes < 600_000, input_bytes


def test_picture_changes_with_layer_and_input(digits):
    x, y = digits
    app = nw.explore(nw.datasets.demo_model(), x[:20], y[:20])
    state = app.state
    first_w, first_a = _drawn_png(app.weights.panel), _drawn_png(app.activations.panel)
    state.layer = "conv2"
    assert _drawn_png(app.weights.panel) != first_w
    second_a = _drawn_png(app.activations.panel)
    assert second_a != first_a
    app.input.next.click()
    assert state.input_index == 1 and app.input.slider.value == 1
    assert _drawn_png(app.activations.panel) != second_a
    (summary,) = app.prediction.summaries
    assert f"label {y[1]}" in summary and "predicted " in summary and "(p=0." in summary
    assert app.input.caption.value.count("input 1</b> of 20") == 1


def test_state_moves_the_pickers(digits):
    x, y = digits
    state = nw.ModelState(nw.datasets.demo_model(), x[:5], y[:5])
    layers, inputs = nw.LayerPicker(state), nw.InputPicker(state)
    state.layer = "dense"
    state.input_index = 4
    assert layers.select.value == "dense" and inputs.slider.value == 4
    labels = [label for label, _ in layers.select.options]
    assert any("conv1 \u00b7 Conv2D \u00b7 (N, 8, 8, 16) \u00b7 160 params" in t for t in labels)
    assert layers.select.tooltip == "Layer" and layers.select.description == ""


def test_messages_per_switch_are_batched(digits):
    x, y = digits
    with recording_comms() as log:
        app = nw.explore(nw.datasets.demo_model(), x[:5], y[:5])
        mark = len(log)
        app.state.layer = "dense"
        sent = log[mark:]
    # every update message carries one widget's batched changes
    updates = [m for m in sent if m[0] == "send" and m[2].get("method") == "update"]
    per_widget = {}
    for _, comm_id, data, _ in updates:
        per_widget.setdefault(comm_id, []).append(data["state"])
    assert updates and max(len(v) for v in per_widget.values()) <= 4


def test_weight_variable_picker_shows_bias(digits):
    x, _ = digits
    state = nw.ModelState(nw.datasets.demo_model(), x[:3])
    view = nw.WeightHeatmap(state)
    state.layer = "dense"
    assert [label for label, _ in view.picker.options] == ["kernel", "bias"]
    assert view.variable == "digits_cnn/dense/kernel"
    assert "kernel (512, 64)" in view.panel.figure.title
    view.picker.value = view.picker.options[1][1]  # as a person choosing "bias"
    assert view.variable == "digits_cnn/dense/bias" and "bias (64,)" in view.panel.figure.title
    view.variable = "digits_cnn/dense/kernel"  # from code: the dropdown follows
    assert view.picker.label == "kernel" and "kernel" in view.panel.figure.title


def test_nan_weights_are_flagged(digits):
    x, _ = digits
    model = nw.datasets.demo_model()
    kernel, bias = model.get_layer("probs").get_weights()
    kernel[0, 0], kernel[1, 1] = np.nan, np.inf
    model.get_layer("probs").set_weights([kernel, bias])
    state = nw.ModelState(model, x[:3])
    view = nw.WeightHeatmap(state)
    acts = nw.ActivationExplorer(state)
    state.layer = "probs"
    assert "1 NaN, 1 Inf" in view.panel.bar.value  # the stats line under the colour bar
    assert "NaN" in acts.stats.value  # the NaN flows into the output and is flagged


def test_per_channel_toggle_redraws(digits):
    x, _ = digits
    state = nw.ModelState(nw.datasets.demo_model(), x[:3])
    view = nw.ActivationExplorer(state)
    before = _drawn_png(view.panel)
    view.scale_box.value = False  # as a person unticking the box
    assert view.per_channel is False and _drawn_png(view.panel) != before
    assert "each channel" not in view.panel.bar.value


@pytest.mark.parametrize("kind", ["tokens", "vector"])
def test_input_picker_non_images(kind):
    import keras

    if kind == "tokens":
        model = keras.Sequential(
            [keras.Input((6,), dtype="int32"), keras.layers.Embedding(9, 2), keras.layers.Flatten()]
        )
        x = np.arange(12).reshape(2, 6) % 9
    else:
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
        x = np.ones((2, 5), "float32")
    picker = nw.InputPicker(nw.ModelState(model, x))
    shown = picker.displays[0].html.value
    assert picker.image.layout.display == "none"
    if kind == "tokens":  # id 0 is padding: dimmed and counted, the others as ids
        assert picker.shown == ("tokens",) and "[1 pre-padding]" in shown
        assert re.findall(r'class="nnw-token"[^>]*>(\d+)<', shown) == ["1", "2", "3", "4", "5"]
    else:  # a vector of features: a table of labelled values
        assert picker.shown == ("tabular",) and shown.count("<tr>") == 5


def test_switches_leak_no_widgets(digits):
    from ipywidgets.widgets.widget import _instances

    x, y = digits
    app = nw.explore(nw.datasets.demo_model(), x[:10], y[:10])
    app.state.layer = "conv2"
    app.state.input_index = 1
    before = len(_instances)
    for i in range(10):
        app.state.layer = app.state.layer_names[i % len(app.state.layer_names)]
        app.state.input_index = i
    assert len(_instances) == before


def test_shrinking_data_does_not_move_the_state(digits):
    x, y = digits
    app = nw.explore(nw.datasets.demo_model(), x[:8], y[:8])
    app.state.input_index = 7
    app.state.set_data(x[:5], y[:5])
    assert app.state.input_index == 0 and app.input.slider.value == 0
    assert app.input.slider.max == 4


def test_weight_pictures_are_cached_until_weights_change(digits, monkeypatch):
    from nnwidgets.compute import display

    x, _ = digits
    state = nw.ModelState(nw.datasets.demo_model(), x[:3])
    view = nw.WeightHeatmap(state)
    calls = []
    original = display.weight_picture
    monkeypatch.setattr(
        display, "weight_picture", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    state.layer = "dense"
    state.layer = "conv1"
    assert len(calls) == 1  # conv1 was drawn before, dense is new
    state.refresh()
    assert len(calls) == 2  # new weights: drawn again
    assert view.panel.figure.title.startswith("conv1")
