"""Every model a user brings: kinds inferred, data in every form, views by kind.

The models come from ``tests/zoo.py`` (after public keras-io examples); each test
asserts on what a view shows for its kind, not only that nothing raised.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets.compute import outputs as O
from tests import zoo

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def apps():
    """One dashboard per small zoo case, built once for the module."""
    built = {}

    def get(name):
        if name not in built:
            case = zoo.build(name)
            built[name] = (case, nw.explore(case.model, case.x, case.y, **case.kwargs))
        return built[name]

    yield get
    for _, app in built.values():
        app.close()


@pytest.mark.parametrize("name", zoo.SMALL)
def test_kinds_inferred_and_drawn_for_what_they_are(apps, name):
    case, app = apps(name)
    state = app.state
    assert state.input_kinds == case.input_kinds
    assert state.output_kinds == case.output_kinds
    # one prediction panel per output, each of its output's kind
    assert app.prediction.kinds == case.output_kinds
    assert len(app.prediction.panels) == len(case.output_kinds)
    assert app.prediction.error == "" and app.input.error == "" and app.weights.error == ""
    for kind, text in zip(case.output_kinds, app.prediction.summaries, strict=True):
        if kind in ("classes", "multilabel"):
            assert text.startswith("predicted ")
        else:  # no argmax over something that is not a class axis
            assert not re.search(r"\(p=", text), text
        if kind == "segmentation":
            assert text.startswith("mask ")
        if kind == "image":
            assert text.startswith("image out ")
    # the input is drawn for its kind
    expected = {"image": "image", "tokens": "tokens", "sequence": "sequence", "tabular": "tabular"}
    first = case.input_kinds[0]
    assert app.input.shown[0] == expected.get(first, "values")


def test_tokens_are_words_with_padding_skipped(apps):
    case, app = apps("text_transformer")
    state = app.state
    for index in (0, 3):
        state.input_index = index
        ids = case.x[index]
        pad = int(np.argmax(ids != 0))
        shown = app.input.displays[0].html.value
        words = re.findall(r'class="nnw-token"[^>]*>([^<]*)<', shown)
        assert words == [zoo.VOCABULARY[i] for i in ids[pad:]]
        assert f"[{pad} pre-padding]" in shown and "0 0 0" not in shown
    summary = app.prediction.summaries[0]
    assert re.match(
        r"predicted (negative|positive) \(p=0\.\d\d\) \u00b7 label (negative|positive)", summary
    )
    bars = app.prediction.panels[0].draw
    assert sorted(bars.names) == ["negative", "positive"]
    np.testing.assert_allclose(bars.values.sum(), 1.0, rtol=1e-5)


def test_ids_without_a_vocabulary_and_vocabulary_forms():
    case = zoo.build("bilstm")
    state = nw.ModelState(case.model, case.x, case.y)
    picker = nw.InputPicker(state)
    ids = case.x[0][case.x[0] != 0]
    words = re.findall(r'class="nnw-token"[^>]*>([^<]*)<', picker.displays[0].html.value)
    assert words == [str(i) for i in ids]
    as_dict = nw.ModelState(case.model, case.x, vocabulary={f"w{i}": i for i in range(100)})
    assert as_dict.vocabulary(7) == "w7"
    as_call = nw.ModelState(case.model, case.x, vocabulary=lambda i: f"<{i}>")
    assert as_call.vocabulary(3) == "<3>"
    with pytest.raises(TypeError, match="vocabulary must be a list"):
        nw.ModelState(case.model, case.x, vocabulary=42)


def test_time_series_drawn_as_lines(apps):
    case, app = apps("timeseries_fcn")
    display = app.input.displays[0]
    assert display.shown == "sequence" and display.image.layout.display == "none"
    lines = display.lines.lines
    np.testing.assert_allclose(lines.y, case.x[0][:, 0], rtol=1e-6)
    assert "100 steps \u00d7 1 features" in display.note.value
    # (steps, features) activations: no "scale each channel" control
    app.state.layer = next(n for n in app.state.layer_names if "conv1d" in n)
    assert len(app.activations.shape) == 2


def test_segmentation_shows_class_map_over_input_beside_true_mask(apps):
    case, app = apps("unet")
    state = app.state
    panel = app.prediction.panels[0]
    assert panel.kind == "segmentation"
    out = state.prediction()
    np.testing.assert_array_equal(panel.draw.predicted, np.argmax(out, axis=-1))
    np.testing.assert_array_equal(panel.draw.truth, case.y[state.input_index][..., 0])
    assert bytes(panel.draw.overlay.value).startswith(b"\x89PNG")
    assert panel.draw.truth_image.layout.display is None
    assert "background" in panel.draw.legend.value and "agree" in panel.draw.captions.value
    caption = nw.InputPicker(state).caption.value  # (the dashboard's says no prediction)
    assert "mask 32\u00d732" in caption and "(p=" not in caption
    assert "predicted" not in app.input.caption.value


def test_two_outputs_each_in_its_own_panel_with_dict_labels(apps):
    case, app = apps("two_output")
    state = app.state
    names = state.output_names
    assert set(names) == {"class", "box"}
    kinds = dict(zip(names, state.output_kinds, strict=True))
    assert kinds == {"class": "classes", "box": "regression"}
    panels = dict(zip(names, app.prediction.panels, strict=True))
    assert set(panels["class"].draw.names) <= set(case.kwargs["class_names"])
    table = panels["box"].draw.table.value
    box = case.y["box"][state.input_index]
    for value in box:
        assert O.number(float(value)) in table
    caption = nw.InputPicker(state).caption.value
    assert "box: predicted" in caption and "class: predicted" in caption


def test_labels_for_several_outputs_name_the_outputs():
    case = zoo.build("two_output")
    with pytest.raises(ValueError, match=r"2 outputs .*dict keyed by output name"):
        nw.ModelState(case.model, case.x, case.y["class"])
    with pytest.raises(ValueError, match="got keys \\['boxes'\\]"):
        nw.ModelState(case.model, case.x, {"boxes": case.y["box"]})
    as_list = [case.y[name] for name in nw.ModelState(case.model, case.x).output_names]
    state = nw.ModelState(case.model, case.x, as_list)
    assert state.label(2, output=1) is not None
    partial = nw.ModelState(case.model, case.x, {"class": case.y["class"]})
    assert partial.label(0, output=partial.output_names.index("box")) is None


@pytest.mark.parametrize("name", ["dict_tabular", "dataframe_tabular"])
def test_named_inputs_as_dict_or_dataframe(apps, name):
    case, app = apps(name)
    state = app.state
    assert isinstance(state.inputs, list) and len(state.inputs) == len(case.input_kinds)
    table = app.input.displays[0].html.value
    for input_name in state.input_names:
        assert input_name in table
    # the prediction is the model's own on the same named sample
    sample = {k: np.asarray(v)[:1] for k, v in dict(case.x).items()}
    expected = np.asarray(case.model.predict(sample, verbose=0))[0]
    np.testing.assert_allclose(state.prediction(0), expected, rtol=1e-4, atol=1e-5)


def test_named_inputs_that_do_not_fit_say_what_the_model_expects():
    case = zoo.build("dict_tabular")
    with pytest.raises(ValueError, match=r"model expects inputs \{.*'num': \(None, 4\)"):
        nw.ModelState(case.model, {"num": case.x["num"]})
    with pytest.raises(ValueError, match=r"got a list of 2 arrays of shapes \(\d+, 3\)"):
        nw.ModelState(case.model, [np.zeros((5, 3)), np.zeros((5, 3))])
    state = nw.ModelState(case.model, case.x)
    with pytest.raises(ValueError, match="missing"):
        state.set_data({"cat": case.x["cat"]})
    assert state.n_inputs == len(case.x["num"])  # the state kept its data


def test_datasets_generators_and_pydatasets():
    import tensorflow as tf

    case = zoo.build("tf_data")
    state = nw.ModelState(case.model, case.x)
    assert state.n_inputs == 16 and state.labels is not None and len(state.labels) == 16
    assert state.data_note == "16 samples of a tf.data.Dataset"
    images = np.concatenate([x for x, _ in case.x.as_numpy_iterator()])
    np.testing.assert_array_equal(state.inputs, images)
    few = nw.ModelState(case.model, case.x, max_samples=5)
    assert few.n_inputs == 5 and few.data_note.startswith("the first 5 samples")
    unbatched = tf.data.Dataset.from_tensor_slices(images[:7])
    assert nw.ModelState(case.model, unbatched).n_inputs == 7

    def batches():
        while True:  # endless, as fit's generators often are
            yield images[:4], np.zeros(4, "int64")

    endless = nw.ModelState(case.model, batches(), max_samples=10)
    assert endless.n_inputs == 10 and "generator" in endless.data_note

    class Pages(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return images[i * 2 : i * 2 + 2], np.full(2, i)

    pages = nw.ModelState(case.model, Pages())
    assert pages.n_inputs == 6 and pages.labels.tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="labels were given beside a dataset"):
        nw.ModelState(case.model, case.x, np.zeros(16))
    app = nw.explore(case.model, case.x)
    assert "16 samples of a tf.data.Dataset" in app.status.value
    assert "16 samples of a tf.data.Dataset" in app.input.caption.value


def test_multilabel_bars_and_threshold(apps):
    case, app = apps("multilabel")
    panel = app.prediction.panels[0].draw
    probs = app.state.prediction()
    assert panel.predicted == [str(i) for i in np.flatnonzero(probs > 0.5)]
    np.testing.assert_allclose(panel.values, probs, rtol=1e-6)
    app.prediction.threshold = 0.9
    assert list(panel.line.y) == [0.9, 0.9]
    assert panel.predicted == [str(i) for i in np.flatnonzero(probs > 0.9)]


@pytest.mark.parametrize("name", ["autoencoder", "vae_decoder", "vae_subclassed"])
def test_image_outputs_beside_the_input(apps, name):
    case, app = apps(name)
    panel = app.prediction.panels[0].draw
    assert panel.picture is not None and panel.picture.shape[:2] == (28, 28)
    assert panel.images[1].layout.display is None
    has_input_picture = case.input_kinds[0] == "image"
    assert (panel.images[0].layout.display is None) == has_input_picture


def test_vae_encoder_latents_are_not_classes(apps):
    case, app = apps("vae_encoder")
    for text in app.prediction.summaries:
        assert text.startswith("values ") and "p=" not in text
    assert len(app.prediction.panels) == 3


def test_regression_predicted_beside_label(apps):
    case, app = apps("regression")
    table = app.prediction.panels[0].draw.table.value
    label = float(np.asarray(case.y)[app.state.input_index])
    assert O.number(label) in table and "error" in table


def test_kinds_can_be_overridden_and_are_checked():
    case = zoo.build("multilabel")
    state = nw.ModelState(case.model, case.x, output_kinds="regression")
    assert state.output_kinds == ("regression",)
    view = nw.PredictionView(state)
    assert view.kinds == ("regression",) and view.summaries[0].startswith("predicted ")
    with pytest.raises(ValueError, match="must be one of"):
        nw.ModelState(case.model, case.x, output_kinds="probabilities")
    with pytest.raises(ValueError, match="one kind per output"):
        nw.ModelState(case.model, case.x, output_kinds=["classes", "image"])
    with pytest.raises(TypeError, match="class_names must be a list"):
        nw.ModelState(case.model, case.x, class_names=5)
    ts = zoo.build("timeseries_fcn")
    by_name = nw.ModelState(ts.model, ts.x, input_kinds={ts.model.inputs[0].name: "image"})
    assert by_name.input_kinds == ("image",)


def _of_type(state, type_name: str) -> str:
    """The first layer of a type (Keras numbers auto names: they depend on what was
    built before in the process)."""
    return next(n for n in state.layer_names if state.layer_info(n).type_name == type_name)


def test_composite_layers_list_weights_by_sublayer_path(apps):
    case, app = apps("text_transformer")
    state, weights = app.state, app.weights
    block = state.layer = _of_type(state, "TransformerBlock")
    labels = [label for label, _ in weights.picker.options]
    assert len(labels) == len(set(labels)) == 16
    assert any(re.fullmatch(r"multi_head_attention(_\d+)?/query/kernel", t) for t in labels)
    assert any(re.fullmatch(r"sequential(_\d+)?/dense(_\d+)?/kernel", t) for t in labels)
    assert sum(t.startswith("layer_normalization") for t in labels) == 4
    assert weights.panel.figure.title.startswith(f"{block}: ")
    case, app = apps("bilstm")
    app.state.layer = _of_type(app.state, "Bidirectional")
    labels = [label for label, _ in app.weights.picker.options]
    assert any("forward_lstm" in t for t in labels) and any("backward_lstm" in t for t in labels)
    assert len(labels) == len(set(labels))


def test_nested_conv_kernels_drawn_as_filters(apps):
    case, app = apps("custom_layers")
    app.state.layer = "stem"
    assert re.fullmatch(r"stem/conv2d(_\d+)?/kernel", app.weights.variable)
    mark = app.weights.panel.mark
    # a grid of 3x3 filters: 3 input channels by 8 output channels, not a 3x72 strip
    assert app.weights.panel.x_axis.label.startswith("output channel (each 3\u00d73)")
    assert (mark.x[1], mark.y[0]) == (8, 3)
    app.state.layer = "res1"
    assert app.weights.panel.x_axis.label.startswith("output channel")


def test_explore_error_is_shown_on_a_voila_page(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj.data))
    monkeypatch.setenv("VOILA_KERNEL_ID", "test")
    case = zoo.build("dict_tabular")
    with pytest.raises(ValueError):
        nw.explore(case.model, {"num": case.x["num"]})
    assert len(shown) == 1 and "nnw-error" in shown[0] and "model expects inputs" in shown[0]
    monkeypatch.delenv("VOILA_KERNEL_ID")
    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    with pytest.raises(ValueError):
        nw.explore(case.model, {"num": case.x["num"]})
    assert len(shown) == 1  # in a notebook the traceback says it


@pytest.mark.parametrize("name", zoo.APPLICATIONS)
def test_applications_at_64(name):
    case = zoo.build(name)
    app = nw.explore(case.model, case.x, case.y)
    state = app.state
    assert (state.input_kinds, state.output_kinds) == (("image",), ("classes",))
    assert (
        app.prediction.panels[0].kind == "classes" and len(app.prediction.panels[0].draw.names) == 5
    )
    # a search box narrows hundreds of layers
    app.layers.query = "Conv2D"  # any case, name or type
    listed = app.layers.listed
    assert 0 < len(listed) < len(state.layer_names)
    for n in listed:
        assert "conv2d" in n.lower() or "conv2d" in state.layer_info(n).type_name.lower()
    app.layers.select.value = listed[-1]  # as a click
    assert state.layer == listed[-1] and app.activations.error == ""
    app.layers.query = ""
    assert len(app.layers.select.options) == len(state.layer_names)
    app.close()


def test_sublayers_of_composite_layers_can_be_picked(apps):
    case, app = apps("text_transformer")
    state = app.state
    block, attention = _of_type(state, "TransformerBlock"), _of_type(state, "MultiHeadAttention")
    assert re.fullmatch(rf"{block}/multi_head_attention(_\d+)?", attention)
    inner = rf"{block}/sequential(_\d+)?/dense(_\d+)?"
    assert any(re.fullmatch(inner, n) for n in state.layer_names)
    state.layer = attention
    labels = [label for label, _ in app.weights.picker.options]
    assert labels[:2] == ["query/kernel", "query/bias"] and len(labels) == 8
    message = app.activations.message.value
    assert "runs inside the call() of" in message and block in message
    state.layer = block  # the block itself is in the graph
    assert app.activations.shape == (20, 16) and app.activations.error == ""
    case, app = apps("bilstm")
    for side in ("forward", "backward"):  # (Keras numbers names made more than once)
        wrapped = rf"bidirectional(_\d+)?/{side}_lstm(_\d+)?"
        assert any(re.fullmatch(wrapped, n) for n in app.state.layer_names), side
