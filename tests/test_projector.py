"""The embedding projector, the confusion matrix and the neuron view, on real Keras
models: what they draw equals scikit-learn's and Keras' own numbers, and selecting in
them selects inputs in the shared state."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import confusion_matrix

import nnwidgets as nw
from nnwidgets.views.confusion import ConfusionMatrix
from nnwidgets.views.neurons import NeuronView
from nnwidgets.views.projector import EmbeddingProjector


@pytest.fixture(scope="module")
def digits():
    x, y = nw.datasets.load_digits(300)
    model = nw.datasets.demo_model()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model, x, y


def _layer_output(model, x, name):
    """The reference: Keras' own sub-model up to ``name``."""
    sub = keras.Model(model.inputs, model.get_layer(name).output)
    return np.asarray(sub.predict(x, verbose=0))


def test_the_projection_follows_the_layer_and_equals_scikit_learns_pca(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y)
    view = EmbeddingProjector(state)
    state.layer = "dense"
    assert view.error == ""
    ref = PCA(n_components=2).fit_transform(_layer_output(model, x, "dense").reshape(len(x), -1))
    pts = np.asarray(view.points, np.float64)
    for col in range(2):  # equal up to the sign of each axis
        sign = np.sign(np.dot(pts[:, col], ref[:, col]))
        np.testing.assert_allclose(pts[:, col] * sign, ref[:, col], rtol=1e-3, atol=1e-3)
    assert np.array_equal(view.scatter.x, view.points[:, 0])
    assert view.indices == tuple(range(len(x)))
    assert view.colors == tuple(int(v) for v in y)  # coloured by label
    before = np.asarray(view.points).copy()
    state.layer = "conv2"
    assert view.points.shape == (len(x), 2) and not np.allclose(view.points, before)
    assert "conv2" in view.figure.title
    view.close()


def test_a_click_or_a_brush_selects_inputs_for_every_view(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y)
    view = EmbeddingProjector(state)
    view._on_click(view.scatter, {"data": {"index": 42}})  # what a click on point 42 sends
    assert state.input_index == view.indices[42] and state.selection == (42,)
    assert len(view.ring.x) == 1 and view.ring.x[0] == view.points[42, 0]
    view.tool.value = "box"  # two clicks on the plot: the corners of a box
    pts = np.asarray(view.points)
    xs = (float(np.percentile(pts[:, 0], 70)), float(np.percentile(pts[:, 0], 40)))
    ys = (float(pts[:, 1].min()), float(np.median(pts[:, 1])))
    for x_, y_ in zip(xs, ys, strict=True):
        view._on_picture_click(view.picture, {"data": {"click_x": x_, "click_y": y_}})
    inside = (
        (pts[:, 0] >= xs[1]) & (pts[:, 0] <= xs[0]) & (pts[:, 1] >= ys[0]) & (pts[:, 1] <= ys[1])
    )
    assert state.selection == tuple(np.flatnonzero(inside).tolist()) and len(state.selection) > 1
    assert len(view.box.x) == 5  # the box is drawn
    assert state.input_index == 42  # a group keeps the input shown
    view.tool.value = "lasso"
    view.scatter.selected = [5, 9, 7]  # a lasso sets the mark's selection in the browser
    assert state.selection == (5, 7, 9)
    state.selection = (1, 2)  # set elsewhere (a confusion-matrix cell): the points follow
    assert list(view.scatter.selected) == [1, 2] and view.selected == (1, 2)
    view.clear.click()
    assert state.selection == () and view.scatter.selected is None and len(view.box.x) == 0
    view.close()


def test_thousands_of_points_are_drawn_into_one_png_that_still_selects(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y)
    view = EmbeddingProjector(state, renderer="png")
    assert view.drawn_as == "png" and len(view.scatter.x) == 0  # no point sent one by one
    first = bytes(view.picture.image.value)
    assert first.startswith(b"\x89PNG") and len(first) < 60_000
    box = view._box
    target = np.asarray(view.points)[17]
    view._on_picture_click(view.picture, {"data": {"click_x": target[0], "click_y": target[1]}})
    assert state.input_index == view.indices[17] and state.selection == (17,)
    assert bytes(view.picture.image.value) != first  # the other points are drawn pale now
    assert ("lasso", "lasso") not in [tuple(o) for o in view.tool.options]
    assert view._box == box and view.x_scale.min == box[0] and view.y_scale.max == box[3]
    auto = EmbeddingProjector(state)  # 300 points: one SVG element each
    assert auto.drawn_as == "svg" and len(auto.scatter.x) == len(x)
    view.close()
    auto.close()


def test_misclassified_points_are_crossed_out_and_colours_follow_the_prediction(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y)
    view = EmbeddingProjector(state, color_by="prediction")
    predicted = np.argmax(model.predict(x, verbose=0), axis=1)
    assert view.colors == tuple(predicted.tolist())
    wrong = tuple(np.flatnonzero(predicted != y).tolist())
    assert view.misclassified == wrong and len(view.errors.x) == len(wrong)
    view.close()


def test_switching_units_off_moves_the_points_and_changes_the_confusion_matrix(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y)
    state.layer = "dense"
    proj, conf = EmbeddingProjector(state), ConfusionMatrix(state)
    points, matrix = np.asarray(proj.points).copy(), conf.matrix.copy()
    state.ablation = {"conv2": tuple(range(16))}
    assert not np.allclose(proj.points, points)
    assert not np.array_equal(conf.matrix, matrix) and conf.matrix.sum() == len(x)
    state.ablation = {"dense": tuple(range(64))}  # every feature of the layer is 0
    assert "zero variance" in proj.error and np.isfinite(proj.points).all()
    state.restore()
    assert proj.error == "" and np.allclose(proj.points, points, atol=1e-4)
    assert np.array_equal(conf.matrix, matrix)
    proj.close()
    conf.close()


def test_the_confusion_matrix_equals_scikit_learns_and_a_cell_selects_its_inputs(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y, class_names=[f"d{i}" for i in range(10)])
    view = ConfusionMatrix(state)
    predicted = np.argmax(model.predict(x, verbose=0), axis=1)
    assert np.array_equal(view.matrix, confusion_matrix(y, predicted, labels=range(10)))
    assert list(view.grid.row) == [f"d{i}" for i in range(10)]
    t, p = np.unravel_index(np.argmax(view.matrix - np.diag(np.diag(view.matrix))), (10, 10))
    view._on_click(
        view.grid, {"data": {"rowNum": int(t), "columnNum": int(p)}}
    )  # what a click sends
    expected = tuple(np.flatnonzero((y == t) & (predicted == p)).tolist())
    assert view.cell == (t, p) and state.selection == expected and expected
    assert view.gallery.indices == expected
    assert view.gallery.captions[0] == f"d{t}\u2192d{p}"
    state.selection = (0,)  # selected elsewhere: the cell is no longer selected
    assert view.cell is None and view.gallery.indices == (0,)
    view.close()


def test_a_segmentation_model_gets_a_per_pixel_matrix():
    rng = np.random.default_rng(0)
    x = rng.random((12, 8, 8, 1), dtype=np.float32)
    masks = (x[..., 0] > 0.5).astype(np.int64)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(2, 1, activation="softmax", name="seg")(h)
    model = keras.Model(inputs, outputs)
    state = nw.ModelState(model, x, masks)
    view = ConfusionMatrix(state)
    predicted = np.argmax(model.predict(x, verbose=0), axis=-1)
    ref = confusion_matrix(masks.reshape(-1), predicted.reshape(-1), labels=[0, 1])
    assert np.array_equal(view.matrix, ref) and view.matrix.sum() == 12 * 64
    assert "pixels" in view.summary.value
    view.cell = (1, 0)
    hit = ((masks == 1) & (predicted == 0)).reshape(12, -1).any(axis=1)
    assert state.selection == tuple(np.flatnonzero(hit).tolist())
    view.close()


def test_without_labels_points_are_coloured_by_prediction_and_the_matrix_says_why(digits):
    model, x, _ = digits
    state = nw.ModelState(model, x[:50])
    proj, conf = EmbeddingProjector(state), ConfusionMatrix(state)
    predicted = np.argmax(model.predict(x[:50], verbose=0), axis=1)
    assert proj.colors == tuple(predicted.tolist()) and proj.misclassified == ()
    assert "predicted class" in proj.legend.value
    assert "needs labels" in conf.error and conf.matrix.shape == (0, 0)
    proj.close()
    conf.close()


def test_tsne_runs_in_the_background_and_too_few_inputs_say_the_minimum(digits):
    model, x, y = digits
    state = nw.ModelState(model, x[:120], y[:120])
    view = EmbeddingProjector(state, method="tsne")
    assert view.wait(120) and view.error == ""
    assert view.points.shape == (120, 2) and np.isfinite(view.points).all()
    assert "t-SNE" in view.figure.title
    small = EmbeddingProjector(nw.ModelState(model, x[:5], y[:5]), method="tsne")
    assert small.wait(60)
    assert "at least" in small.error  # the minimum is named
    view.close()
    small.close()


def test_nan_activations_are_left_out_and_said(digits):
    model, x, y = digits
    bad = x[:40].copy()
    bad[3] = np.nan
    state = nw.ModelState(model, bad, y[:40])
    view = EmbeddingProjector(state)
    assert view.error == "" and view.points.shape == (39, 2) and 3 not in view.indices
    assert "NaN" in view.note.value
    view.close()


def test_many_inputs_are_capped_with_a_stated_sample():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, name="h"), keras.layers.Dense(3, name="out")]
    )
    x = np.random.default_rng(1).random((100_000, 4), dtype=np.float32)
    state = nw.ModelState(model, x)
    view = EmbeddingProjector(state, max_points=5_000)
    assert view.points.shape == (5_000, 2) and len(set(view.indices)) == 5_000
    assert "5,000 of 100,000" in view.note.value
    assert view.drawn_as == "png" and len(view.picture.image.value) < 100_000
    view.close()


def test_the_neuron_view_shows_the_inputs_that_activate_a_unit_most(digits):
    model, x, y = digits
    state = nw.ModelState(model, x, y)
    state.layer = "conv2"
    view = NeuronView(state, unit=3, k=8)
    ref = _layer_output(model, x, "conv2")[..., 3].reshape(len(x), -1).mean(axis=1)
    np.testing.assert_allclose(view.values, ref, rtol=1e-4, atol=1e-5)
    assert view.top == tuple(np.argsort(-ref, kind="stable")[:8].tolist())
    assert view.gallery.indices == view.top
    assert int(view.counts.sum()) == len(x)
    bin_ = int(np.argmax(view.counts))
    view._on_bar(view.hist.bars, {"data": {"index": bin_}})  # a click on the tallest bar
    assert len(state.selection) == view.counts[bin_]
    state.layer = "dense"  # 64 units: unit 3 stays; a layer with fewer resets it
    assert view.unit == 3 and view.unit_picker.max == 63
    state.layer = "probs"
    view.unit = 9
    state.layer = "pool"
    assert view.unit == 9 and view.error == ""
    view.close()


def test_what_a_person_does_in_any_order_leaves_the_views_consistent(digits):
    """Switching method while t-SNE runs, changing the renderer, clicking the selected
    point again, bad cells and bad selections (found in review)."""
    from traitlets import TraitError

    model, x, y = digits
    state = nw.ModelState(model, x[:150], y[:150])
    view = EmbeddingProjector(state, method="tsne")
    view.method = "pca"  # while t-SNE optimises: PCA is shown, the t-SNE dropped
    assert view.wait(120) and "PCA" in view.figure.title and view.progress == ""
    view.renderer = "png"
    assert view.drawn_as == "png"
    view._on_click(view.scatter, {"data": {"index": 5}})
    state.input_index = 7
    view._on_picture_click(
        view.picture, {"data": {"click_x": view.points[5, 0], "click_y": view.points[5, 1]}}
    )
    assert state.input_index == view.indices[5]  # a click on the selected point selects it
    with pytest.raises(TraitError, match="out of range"):
        view.selected = (999,)
    assert view.selected == state.selection == (view.indices[5],)
    conf = ConfusionMatrix(state)
    for bad in ((99, 0), 5, "ab", (1, 2, 3)):
        with pytest.raises(TraitError, match="ConfusionMatrix.cell"):
            conf.cell = bad
    assert conf.cell is None and state.selection == (view.indices[5],)
    view.close()
    conf.close()
