"""AttributionView on real Keras models: what it follows, what it offers, what it says.

Maps are checked against independent calls of :mod:`nnwidgets.attribution`; models are
made once per module (the digits CNN is the trained demo model, loaded from its file).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets import attribution as A
from nnwidgets.compute import explain as X

L = keras.layers


def opened(state, **options):
    """A view whose first map is drawn."""
    view = nw.AttributionView(state, **options)
    assert view.wait(), "the first map was not computed in time"
    return view


def shown(view) -> str:
    """Which part draws the map."""
    parts = {"picture": view.picture, "sequence": view.sequence}
    parts.update(tokens=view.tokens, features=view.features)
    visible = [k for k, p in parts.items() if p.widget.layout.display != "none"]
    assert len(visible) == 1, visible
    return visible[0]


@pytest.fixture(scope="module")
def cnn():
    x, y = nw.datasets.load_digits(40)
    model = nw.datasets.trained_demo_model()
    state = nw.ModelState(model, x, y)
    view = opened(state)
    yield model, x, state, view
    view.close()


@pytest.fixture(scope="module")
def text():
    x, y = nw.datasets.reviews(80)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            L.Embedding(len(nw.datasets.VOCABULARY), 8, name="emb"),
            L.GlobalAveragePooling1D(),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=5, verbose=0)
    vocabulary = nw.datasets.VOCABULARY
    return model, x, nw.ModelState(model, x, y, vocabulary=vocabulary)


def test_grad_cam_follows_layer_input_and_class(cnn):
    model, x, state, view = cnn
    state.layer, state.input_index, state.class_index = "conv2", 0, None
    view.method = "grad_cam"
    assert view.wait() and view.layer_used == "conv2" and view.error == ""
    assert np.allclose(view.attribution, A.grad_cam(model, x[0:1], "conv2")[0], atol=1e-6)
    assert shown(view) == "picture" and view.picture.png.startswith(b"\x89PNG")
    assert "Grad-CAM</b> at <b>conv2" in view.explained.value

    state.layer = "dense"  # no spatial output: the last layer that has
    assert view.wait() and view.layer_used == "pool"
    assert "layer dense has no spatial output; Grad-CAM uses pool" in view.notes.value
    state.input_index = 3
    assert view.wait()
    assert np.allclose(view.attribution, A.grad_cam(model, x[3:4], "pool")[0], atol=1e-6)

    state.layer = "conv1"
    state.class_index = 5
    assert view.wait() and view.layer_used == "conv1" and view.explained_class == 5
    reference = A.grad_cam(model, x[3:4], "conv1", class_index=5)[0]
    assert np.allclose(view.attribution, reference, atol=1e-6)
    assert "class 5 (chosen)" in view.explained.value
    state.class_index = None


def test_every_method_on_the_digits(cnn):
    model, x, state, view = cnn
    state.input_index, state.class_index = 2, 4
    assert view.methods == X.METHODS[:4] + X.METHODS[5:]  # no gradient × embedding
    expected = {
        "saliency": A.saliency(model, x[2:3], 4)[0],
        "integrated_gradients": A.integrated_gradients(model, x[2:3], 4, steps=view.steps)[0],
        "occlusion": A.occlusion(model, x[2:3], 4)[0],
        "grad_cam_plus_plus": A.grad_cam(model, x[2:3], state.layer, 4, plus_plus=True)[0],
    }
    for method in view.methods:
        view.method = method
        assert view.wait() and view.error == "" and view.explained_class == 4
        assert view.layer_used == (state.layer if method.startswith("grad_cam") else "")
        if method in expected:
            assert np.allclose(view.attribution, expected[method], atol=1e-5), method
        assert view.method_picker.value == method and shown(view) == "picture"
    state.class_index = None
    view.method = "grad_cam"
    assert view.wait()


def test_the_class_dropdown_sets_the_state(cnn):
    model, x, state, view = cnn
    state.input_index = 1
    assert view.wait()
    labels = [label for label, _ in view.class_picker.options]
    assert labels[0].startswith("predicted: ") and len(labels) == 6
    probs = model.predict(x[1:2], verbose=0)[0]
    assert view.class_picker.options[1][1] == int(np.argmax(probs))
    second = view.class_picker.options[2][1]
    view.class_picker.value = second  # as a person picking it
    assert state.class_index == second and view.wait() and view.explained_class == second
    view.class_picker.value = -1
    assert state.class_index is None and view.explained_class == int(np.argmax(probs))


def test_opacity_blends_again_without_computing(cnn, monkeypatch):
    model, x, state, view = cnn
    assert view.wait()
    computed, before = view.maps.computed, view.picture.png
    monkeypatch.setattr(X, "attribute", lambda *a, **k: pytest.fail("a map was computed"))
    view.opacity_slider.value = 0.9  # as a person moving the slider
    assert view.opacity == 0.9 and view.picture.png != before
    view.opacity = 0.0  # the input picture alone
    assert view.maps.computed == computed
    monkeypatch.undo()
    view.opacity = 0.5


def test_a_cached_click_computes_nothing(cnn):
    model, x, state, view = cnn
    state.input_index = 5
    state.input_index = 6
    assert view.wait()
    computed = view.maps.computed
    state.input_index = 5  # back: found in the cache, drawn at once
    assert not view.busy and view.maps.computed == computed
    state.refresh()  # new weights' key: computed again, on the click (it is quick now)
    assert not view.busy and view.maps.computed == computed + 1


def test_the_first_map_is_computed_in_the_background(digits):
    x, y = digits
    state = nw.ModelState(nw.datasets.demo_model(seed=2), x[:8], y[:8])
    view = nw.AttributionView(state, method="grad_cam_plus_plus")
    assert view.busy and "computing Grad-CAM++ for input 0" in view.progress.value
    assert view.wait() and not view.busy and view.progress.value == ""
    assert view.attribution.shape == (8, 8)
    view.close()


def test_a_model_without_spatial_layers_offers_the_rest(digits):
    x, y = digits
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(10, "softmax")])
    view = opened(nw.ModelState(model, x[:6], y[:6]))
    assert view.methods == ("saliency", "smoothgrad", "integrated_gradients", "occlusion")
    assert view.method == "saliency" and view.layer_used == ""
    assert "Grad-CAM is not offered: no layer has spatial output" in view.notes.value
    assert [v for _, v in view.method_picker.options] == list(view.methods)
    assert np.allclose(view.attribution, A.saliency(model, x[0:1])[0], atol=1e-6)
    view.method = "grad_cam"  # asked anyway: it says so and shows saliency
    assert view.wait() and view.method == "saliency" and view.error == ""
    view.close()


def test_tokens_are_coloured_by_the_embedding_methods(text):
    model, x, state = text
    view = opened(state)
    assert view.methods == (
        "grad_cam",
        "grad_cam_plus_plus",
        "gradient_x_embedding",
        "integrated_gradients",
        "occlusion",
    )
    assert view.method == "gradient_x_embedding" and shown(view) == "tokens"
    reference = A.token_attributions(model, x[0:1])[0]
    assert np.allclose(view.attribution, reference, atol=1e-6)
    words = view.tokens.html.value
    assert "padding]" in words and 'class="nnw-token" title="position' in words
    assert "attribution " in words and "rgba(214,39,40" in words  # red: for
    real = [nw.datasets.VOCABULARY[i] for i in x[0] if i]
    assert all(word in words for word in real)

    view.method = "saliency"  # token ids cannot be nudged
    assert view.wait() and view.method == "gradient_x_embedding"
    assert "saliency does not work here" in view.notes.value
    assert "use the embedding methods" in view.notes.value
    view.method = "integrated_gradients"
    state.input_index = 2
    assert view.wait() and view.error == ""
    reference = A.token_attributions(model, x[2:3], method="integrated", steps=view.steps)[0]
    assert np.allclose(view.attribution, reference, atol=1e-5)
    assert "one sigmoid unit" in view.explained.value
    view.close()


def test_a_sequence_gets_a_heat_strip_under_its_lines():
    x, y = nw.datasets.waves(30)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((100, 1)),
            L.Conv1D(6, 5, activation="relu", name="c1"),
            L.GlobalAveragePooling1D(name="gap"),
            L.Dense(3, activation="softmax", name="out"),
        ]
    )
    state = nw.ModelState(model, x, y, class_names=["sine", "square", "saw"])
    view = opened(state)
    assert view.layer_used == "c1" and shown(view) == "sequence"
    assert view.attribution.shape == (96,)  # Grad-CAM at c1's steps
    assert list(view.sequence.swap.mark.x) == [0, 99]  # stretched under the 100 steps
    assert "per step (features summed)" in view.colorbar.value
    state.layer = "out"
    view.method = "saliency"
    assert view.wait() and view.attribution.shape == (100, 1) and view.layer_used == ""
    assert "class " in view.explained.value and view.error == ""
    view.close()


def test_tabular_features_as_bars_with_names():
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20, 4)), columns=["age", "height", "income", "score"])
    model = keras.Sequential([keras.Input((4,)), L.Dense(8, "relu"), L.Dense(3, "softmax")])
    view = opened(nw.ModelState(model, frame.astype("float32")), method="integrated_gradients")
    assert shown(view) == "features" and view.attribution.shape == (4,)
    assert len(view.features.bars.bars.y) == 4
    names = view.features.top.value
    assert any(n in names for n in ("age", "height", "income", "score"))
    view.close()


def test_what_is_explained_is_said_for_regression_and_segmentation(digits):
    x, y = digits
    regression = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(1)])
    regression.compile("adam", "mse")
    view = opened(nw.ModelState(regression, x[:5], y[:5].astype("float32")))
    assert "regression output: the map explains the predicted value" in view.explained.value
    assert view.class_picker.options[0][0].startswith("predicted: value = ")
    view.close()

    images, masks = nw.datasets.shapes(6, 16)
    i = keras.Input((16, 16, 3))
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="c")(i)
    segmenter = keras.Model(i, L.Conv2D(3, 1, activation="softmax")(h))
    segmenter.compile("adam", "sparse_categorical_crossentropy")
    state = nw.ModelState(segmenter, images, masks, class_names=list(nw.datasets.SHAPE_CLASSES))
    view = opened(state)
    assert "summed over every pixel" in view.explained.value
    assert "% of pixels" in view.class_picker.options[1][0]
    view.close()


def test_bad_cases_are_said_in_the_view(cnn, monkeypatch):
    model, x, state, view = cnn
    state.input_index = 0
    # a class the state could not check (it does not know the output's units)
    monkeypatch.setattr(state, "output_units", lambda output=0: 0)
    state.class_index = 12
    assert view.wait() and "class_index must be in range 0..9" in view.error
    state.class_index = None  # the rest keeps working
    assert view.wait() and view.error == "" and view.attribution is not None
    monkeypatch.undo()

    bad = x[:4].copy()
    bad[1, 2, 2, 0] = np.nan
    nan_state = nw.ModelState(model, bad)
    nan_state.input_index = 1
    nan_view = opened(nan_state, method="saliency")
    assert "holds 1 NaN/Inf values" in nan_view.notes.value and "#d0021b" in nan_view.notes.value
    assert nan_view.attribution is not None and nan_view.error == ""
    nan_view.close()


def test_a_model_not_differentiable_to_its_input_says_so(digits):
    x, y = digits
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Lambda(lambda t: keras.ops.round(t * 4.0)),  # no gradient flows back
            L.Flatten(),
            L.Dense(10, "softmax"),
        ]
    )
    view = opened(nw.ModelState(model, x[:4]), method="saliency")
    assert np.all(view.attribution == 0) and "zero everywhere" in view.progress.value
    view.close()


def test_multi_input_models_explain_input_0():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = L.Concatenate()([L.Dense(5)(a), L.Dense(5)(b)])
    model = keras.Model([a, b], L.Dense(2, activation="softmax")(h))
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")]
    view = opened(nw.ModelState(model, x))
    assert "the model has 2 inputs: the map explains input 0" in view.notes.value
    assert view.attribution.shape == (4,) and view.error == ""
    view.close()


def test_the_explain_tab_is_made_when_shown(digits):
    x, y = digits
    app = nw.explore(nw.datasets.demo_model(), x[:10], y[:10])
    assert app.tabs.titles == (
        "Curves",
        "Dynamics",
        "Explain",
        "Projection",
        "Errors",
        "Data",
        "Model",
    )
    assert "Explain" not in app._made  # opening the dashboard made no attribution view
    app.tabs.selected_index = 2
    view = app.attribution
    assert isinstance(view, nw.AttributionView) and isinstance(app.ablation, nw.AblationView)
    assert view in app.explain.children[0].children
    assert view.wait() and view.attribution is not None
    app.close()


def test_units_switched_off_change_the_map(cnn):
    model, x, state, view = cnn
    state.layer, state.input_index, state.class_index = "conv2", 4, None
    view.method = "grad_cam"
    assert view.wait()
    plain = view.attribution.copy()
    state.ablation = {"conv1": (0, 1, 2, 3, 4, 5, 6, 7)}  # bumps the version: a new map
    assert view.wait() and view.error == ""
    reference = A.grad_cam(model, x[4:5], "conv2", ablation={"conv1": tuple(range(8))})[0]
    assert np.allclose(view.attribution, reference, atol=1e-6)
    assert not np.allclose(view.attribution, plain, atol=1e-6)
    state.ablation = {}
    assert view.wait() and np.allclose(view.attribution, plain, atol=1e-6)


def test_integer_images_are_explained_by_grad_cam_and_occlusion():
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3), dtype="uint8"),
            L.Rescaling(1 / 255.0),
            L.Conv2D(4, 3, activation="relu", name="conv"),
            L.GlobalMaxPooling2D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).integers(0, 256, size=(4, 16, 16, 3)).astype("uint8")
    view = opened(nw.ModelState(model, x), method="saliency")
    assert view.methods == ("grad_cam", "grad_cam_plus_plus", "occlusion")
    assert "holds uint8 values" in view.notes.value and view.method == "grad_cam"
    assert view.attribution.shape == (14, 14) and view.error == ""
    view.close()
