"""DataExplorer: the data itself for each input kind, asserted on what is drawn."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw
from nnwidgets.compute import datastats as D
from nnwidgets.views.data_explorer import DataExplorer

keras = pytest.importorskip("keras")
L = keras.layers
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def digits():
    x, y = nw.datasets.load_digits(200)
    return nw.datasets.demo_model(), x, y


@pytest.fixture
def view_of():
    made = []

    def make(*args, **kwargs):
        view = DataExplorer(nw.ModelState(*args, **kwargs))
        made.append(view)
        return view

    yield make
    for view in made:
        view.close()


def _hist(values, edges):
    values = np.asarray(values, dtype=np.float64).ravel()
    return tuple(np.histogram(values[np.isfinite(values)], bins=np.asarray(edges))[0])


def test_digits_class_counts_values_and_class_filter(digits, view_of):
    model, x, y = digits
    view = view_of(model, x, y)
    assert view.error == ""
    assert view.counts == tuple(np.bincount(y)) and view.classes == tuple(map(str, range(10)))
    assert list(view.bars.mark.y) == list(np.bincount(y))
    # the histogram counts every pixel, on bins centred on the 17 levels of 8x8 digits
    assert sum(view.overall) == x.size and view.overall == _hist(x, view.edges)
    assert len(view.edges) - 1 == 17 and view.histogram == view.overall
    assert list(view.values.front.y) == list(view.overall)
    assert view.shown == tuple(range(200)) and view.gallery.indices == view.shown
    view.class_value = 3
    assert view.shown == tuple(np.flatnonzero(y == 3)) and view.gallery.indices == view.shown
    assert set(view.gallery.captions) == {"3"}
    assert view.histogram == _hist(x[y == 3], view.edges)
    assert view.values.back.visible and "class 3" in view.values.figure.title
    np.testing.assert_allclose(view.values.front.y, np.array(view.histogram) / (y == 3).sum() / 64)
    assert list(view.bars.mark.color) == [float(c == 3) for c in range(10)]
    # a click on a bar picks its class, a second click on it all classes again
    view._on_bar_click(view.bars.mark, {"data": {"index": 5}})
    assert view.class_value == 5 and view.class_picker.value == 5
    view._on_bar_click(view.bars.mark, {"data": {"index": 5}})
    assert view.class_value is None and view.shown == tuple(range(200))
    with pytest.raises(TraitError, match="class_value"):
        view.class_value = 10


def test_an_outlier_and_a_nan_sample_are_flagged_and_marked(digits, view_of):
    model, x, y = digits
    x = x.copy()
    x[5] *= 50
    x[7, 0, 0, 0] = np.nan
    view = view_of(model, x, y)
    assert view.error == ""
    assert 5 in view.outliers and 7 in view.outliers and view.nonfinite_samples == (7,)
    assert view.outliers[0] == 7  # NaN/Inf first (score inf), then the most extreme
    colors = list(view.points.mark.color)
    plotted = list(view.plotted)
    assert colors[plotted.index(5)] == 1.0 and colors[plotted.index(7)] == 2.0
    assert sum(c == 0.0 for c in colors) == len(plotted) - len(view.outliers)
    # the bins span the other samples' values: sample 5's beyond them are counted apart
    assert len(view.edges) - 1 == 17 and view.overall == _hist(x, view.edges)
    assert view.beyond == np.sum(x[5] > view.edges[-1]) > 0
    assert view.nonfinite == 1 and sum(view.overall) + view.beyond == x.size - 1
    assert "1 NaN and 0 Inf" in view.values_note.value
    assert f"{view.beyond} values of outlier samples beyond" in view.values_note.value
    # the scatter's axes span the others too: sample 5 is drawn at their edge
    assert view.points.mark.x[plotted.index(5)] == view.points.x.max < x[5].mean()
    assert "hold NaN/Inf" in view.points_note.value and "#7" in view.points_note.value
    view.filter = "outliers"
    assert view.shown == view.outliers and view.gallery.captions[0] == "NaN/Inf"
    assert view.gallery.captions[1].startswith("z ")


def test_clicking_a_point_selects_its_sample(digits, view_of):
    model, x, y = digits
    view = view_of(model, x, y)
    view._on_point_click(view.points.mark, {"data": {"index": 42}})  # what bqplot sends
    assert view.state.input_index == view.plotted[42] == 42
    assert view.points.mark.selected == [42]
    view.state.input_index = 9
    assert view.points.mark.selected == [9]


def test_misclassified_follow_the_weights_but_not_the_statistics(digits, view_of):
    model, x, y = digits
    view = view_of(keras.models.clone_model(model), x, y)
    state = view.state
    summary, stats = view.summary(), view.summary().stats
    view.filter = "misclassified"
    predicted = np.argmax(state.model.predict(x, verbose=0), axis=1)
    assert view.shown == tuple(np.flatnonzero(predicted != y)) and view.filter_note == ""
    caption, i = view.gallery.captions[0], view.shown[0]
    assert caption == f"true {y[i]} \u2192 {predicted[i]}"
    dense = state.model.layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([np.zeros_like(kernel), np.eye(len(bias))[2].astype(bias.dtype)])
    state.refresh()  # every input is now predicted 2
    assert view.shown == tuple(np.flatnonzero(y != 2))
    assert view.summary() is summary and summary.stats is stats  # the data's, kept
    state.selection = (3, 1, 4)
    view.filter = "selection"
    assert view.shown == (1, 3, 4)
    state.selection = (8,)
    assert view.shown == (8,) and dict(view.filter_picker.options)["selection (1)"]


def test_without_labels_a_note_and_no_misclassified(digits, view_of):
    model, x, _ = digits
    view = view_of(model, x)
    assert view.error == "" and view.counts == () and view.classes == ()
    assert "No class labels" in view.class_note.value
    assert view.bars.figure.layout.display == "none" and view.class_picker.disabled
    assert "misclassified" not in view.filters
    view.filter = "misclassified"
    assert view.shown == () and "needs labels" in view.filter_note
    assert view.gallery.indices == ()
    with pytest.raises(TraitError, match="no class labels"):
        view.class_value = 0


def test_tokens_lengths_and_frequent_words(view_of):
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            L.Embedding(30, 4, mask_zero=True),
            L.GlobalAveragePooling1D(),
            L.Dense(2, activation="softmax"),
        ]
    )
    n = 60
    ids = RNG.integers(1, 30, size=(n, 12)).astype("int32")
    for i, length in enumerate(RNG.integers(2, 13, size=n)):
        ids[i, : 12 - length] = 0  # pre-padding
    y = RNG.integers(0, 2, size=n)
    vocabulary = ["", "[UNK]"] + [f"w{i}" for i in range(2, 30)]
    view = view_of(model, ids, y, class_names=["neg", "pos"], vocabulary=vocabulary)
    assert view.state.input_kinds == ("tokens",) and view.error == ""
    lengths = (ids != 0).sum(axis=1)
    np.testing.assert_array_equal(view.summary().stats.columns[:, 0], lengths)
    assert sum(view.overall) == n and view.overall == _hist(lengths, view.edges)
    top = Counter(ids[ids != 0].tolist()).most_common()
    assert view.top_tokens[0] == (vocabulary[top[0][0]], top[0][1])
    assert "most frequent tokens" in view.words.value
    assert view.feature_picker.layout.display == "none"
    view.class_value = 1
    assert view.histogram == _hist(lengths[y == 1], view.edges)
    assert view.gallery.captions[0] == "pos"


def test_sequences_one_feature_at_a_time(view_of):
    model = keras.Sequential(
        [
            keras.Input((20, 3)),
            L.Conv1D(4, 3, activation="relu"),
            L.GlobalAveragePooling1D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    x = RNG.normal(size=(40, 20, 3)).astype("float32")
    x[:, :, 2] += 10.0
    y = RNG.integers(0, 3, size=40)
    view = view_of(model, x, y)
    assert view.state.input_kinds == ("sequence",)
    assert view.feature is None and sum(view.overall) == x.size
    view.feature = 2
    assert view.overall == _hist(x[..., 2], view.edges) and sum(view.overall) == 800
    assert view.feature_picker.value == 2 and view.values.x_axis.label == "feature 2"
    with pytest.raises(TraitError, match="feature"):
        view.feature = 3
    assert len(view.edges) - 1 <= D.MAX_BINS


def test_tabular_features_by_name(view_of):
    pandas = pytest.importorskip("pandas")
    model = keras.Sequential(
        [keras.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2, activation="softmax")]
    )
    table = pandas.DataFrame(RNG.normal(size=(80, 4)), columns=["age", "bmi", "bp", "s1"])
    table.loc[11, "bp"] = np.inf
    table = table.astype("float32")
    y = RNG.integers(0, 2, size=80)
    view = view_of(model, table, y)
    assert view.state.input_kinds == ("tabular",) and view.error == ""
    labels = [label for label, _ in view.feature_picker.options]
    assert labels == ["all features", "age", "bmi", "bp", "s1"]
    assert view.feature == 0 and view.overall == _hist(table["age"], view.edges)
    view.feature = 2
    assert view.nonfinite == 1 and sum(view.overall) == 79
    assert 11 in view.outliers and view.nonfinite_samples == (11,)


def test_segmentation_pixels_per_class(view_of):
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            L.Conv2D(4, 3, padding="same", activation="relu"),
            L.Conv2D(3, 1, activation="softmax"),
        ]
    )
    x = RNG.random((12, 16, 16, 1)).astype("float32")
    masks = RNG.integers(0, 3, size=(12, 16, 16))
    masks[:, :4] = 0
    view = view_of(model, x, masks, class_names=["bg", "cat", "dog"])
    assert view.state.output_kinds == ("segmentation",) and view.error == ""
    assert view.counts == tuple(np.bincount(masks.ravel())) and "pixels" in view.bars.figure.title
    view.class_value = 2
    assert view.histogram == _hist(x[..., 0][masks == 2], view.edges)
    assert view.shown == tuple(range(12))  # every mask has a "dog" pixel
    assert "misclassified" not in view.filters
    view.filter = "misclassified"
    assert view.shown == () and "segmentation" in view.filter_note


def test_two_inputs_one_at_a_time(view_of):
    image, table = keras.Input((8, 8, 1), name="picture"), keras.Input((3,), name="meta")
    joined = L.Concatenate()([L.Flatten()(image), table])
    model = keras.Model([image, table], L.Dense(2, activation="softmax")(joined))
    x = [RNG.random((30, 8, 8, 1)).astype("float32"), RNG.normal(size=(30, 3)).astype("float32")]
    view = view_of(model, x, RNG.integers(0, 2, size=30))
    assert view.input_picker.layout.display is None and view.input_picker.value == 0
    assert sum(view.overall) == 30 * 64
    view.input = 1
    assert view.feature == 0 and view.overall == _hist(x[1][:, 0], view.edges)
    assert view.summary().kind == "tabular" and view.error == ""
    with pytest.raises(TraitError, match="input"):
        view.input = 2


def test_scatter_draws_at_most_its_cap(digits, view_of, monkeypatch):
    model, x, y = digits
    x = x.copy()
    x[3] *= 40
    monkeypatch.setattr(D, "MAX_POINTS", 50)
    view = view_of(model, x, y)
    assert len(view.plotted) == 50 == len(view.points.mark.x) and 3 in view.plotted
    assert "50 of 200 samples drawn" in view.points_note.value
    assert len(D.plotted(25_000)) == 10_000


def test_new_data_recomputes_the_statistics(digits, view_of):
    model, x, y = digits
    view = view_of(model, x, y)
    before = view.summary()
    view.state.set_data(x[:50], y[:50])
    assert view.summary() is not before and view.counts == tuple(np.bincount(y[:50]))
    assert sum(view.overall) == 50 * 64 and view.shown == tuple(range(50))
    view.class_value = 9
    view.state.set_data(x[:40])  # no labels now: no class 9 either
    assert view.class_value is None and view.counts == () and view.error == ""
    assert view.shown == tuple(range(40)) and "No class labels" in view.class_note.value


def _observers(has_traits) -> int:
    return sum(len(h) for by in has_traits._trait_notifiers.values() for h in by.values())


@pytest.mark.parametrize(
    "option, bad", [("filter", "odd"), ("input", 1), ("feature", 0), ("class_value", 10)]
)
def test_bad_options_raise_naming_the_option(digits, option, bad):
    model, x, y = digits
    state = nw.ModelState(model, x[:30], y[:30])
    with pytest.raises(TraitError, match=option):
        DataExplorer(state, **{option: bad})
    view = DataExplorer(state)
    good = getattr(view, option)
    with pytest.raises(TraitError, match=option):
        setattr(view, option, bad)
    assert getattr(view, option) == good
    assert all(t.help for t in DataExplorer.class_traits(option=True).values())
    view.close()


def test_a_closed_view_follows_nothing_and_errors_are_shown(digits):
    model, x, y = digits
    state = nw.ModelState(model, x[:30], y[:30])
    before = _observers(state)
    view = DataExplorer(state, filter="misclassified")
    assert _observers(state) > before
    view.close()
    assert _observers(state) == before
    empty = DataExplorer(nw.ModelState(model))  # no inputs: said, not raised
    assert "no inputs" in empty.error and "no inputs" in empty.message.value
    empty.close()
