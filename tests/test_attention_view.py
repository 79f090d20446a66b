"""AttentionView on real Keras models: a tiny masked transformer, cross-attention, a model
without attention and 512 tokens."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from traitlets import TraitError

import nnwidgets as nw
from nnwidgets.attention import attention_scores
from nnwidgets.views.attention import NO_ATTENTION, PAD_LABEL, AttentionView

keras = pytest.importorskip("keras")
L = keras.layers
WORDS = ["", "[UNK]", "the", "cat", "sat", "on", "a", "mat"]


def click(mark, **data) -> None:
    """What bqplot's front end sends when a mark is clicked."""
    mark._handle_custom_msgs(None, {"event": "element_click", "data": data})


def png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return height, width


@pytest.fixture(scope="module")
def transformer():
    """Two self-attention layers over Embedding(mask_zero=True), then a Dense head."""
    keras.utils.set_random_seed(0)
    i = keras.Input((8,), dtype="int32", name="ids")
    e = L.Embedding(20, 8, mask_zero=True, name="embed")(i)
    h = L.LayerNormalization(name="norm1")(
        L.Add()([e, L.MultiHeadAttention(2, 4, name="mha1")(e, e)])
    )
    h = L.Add()([h, L.MultiHeadAttention(3, 4, name="mha2")(h, h)])
    o = L.Dense(2, name="out")(L.GlobalAveragePooling1D()(h))
    x = np.array([[2, 3, 4, 5, 2, 7, 0, 0], [3, 3, 15, 4, 0, 0, 0, 0]], "int32")
    return keras.Model(i, o), x


@pytest.fixture
def view(transformer):
    model, x = transformer
    v = AttentionView(nw.ModelState(model, x, vocabulary=WORDS))
    yield v
    v.close()


def test_shown_is_the_picked_head_or_the_mean_of_the_heads(view, transformer):
    model, x = transformer
    assert view.error == "" and view.layer == "mha1" and view.heads == 2
    want = attention_scores(model, x[:1], "mha1")[0]
    np.testing.assert_allclose(view.scores, want, atol=1e-6)
    np.testing.assert_allclose(view.shown, want.mean(axis=0), atol=1e-6)
    view.head = 1
    np.testing.assert_allclose(view.shown, want[1], atol=1e-6)
    view.state.input_index = 1  # another input: its own scores
    np.testing.assert_allclose(view.shown, attention_scores(model, x[1:], "mha1")[0, 1], atol=1e-6)
    view.layer = "mha2"
    assert view.heads == 3 and view.head == 1
    np.testing.assert_allclose(view.shown, attention_scores(model, x[1:], "mha2")[0, 1], atol=1e-6)


def test_small_maps_pick_the_head_and_clicks_do_not_recompute(view, monkeypatch):
    buttons = [box.children[1] for box in view.thumbs.children]
    assert [b.description for b in buttons] == ["mean", "head 0", "head 1"]
    assert all(len(box.children[0].value) > 0 for box in view.thumbs.children)
    calls = []
    real = nw.attention.attention_scores
    monkeypatch.setattr(
        nw.attention, "attention_scores", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    buttons[2].click()
    assert view.head == 1 and buttons[2].button_style == "info"
    buttons[0].click()
    assert view.head is None
    view.token = 3
    view.mode = "lines"
    assert calls == []  # (cached by weights, layer and input)
    view.state.refresh()
    assert calls == [1]


def test_tokens_are_words_and_padding_is_marked(view):
    assert view.query_labels == ("the", "cat", "sat", "on", "the", "mat", PAD_LABEL, PAD_LABEL)
    assert view.key_labels == view.query_labels
    color = np.asarray(view.grid.color)
    assert (color[6:] < 0).all() and (color[:, 6:] < 0).all()  # below 0: grey
    assert np.isfinite(color[:6, :6]).all()
    assert (view.shown[:, 6:] == 0).all()  # (the layer saw the mask: 0, drawn grey)
    view.state.input_index = 1  # 15 is beyond the vocabulary
    assert view.query_labels[:5] == ("cat", "cat", "#15", "sat", PAD_LABEL)


def test_without_a_vocabulary_tokens_are_ids(transformer):
    model, x = transformer
    v = AttentionView(nw.ModelState(model, x))
    assert v.query_labels[:3] == ("#2", "#3", "#4") and v.query_labels[-1] == PAD_LABEL
    v.close()


def test_layer_follows_the_state_only_to_attention_layers(view):
    state = view.state
    assert view.layer_picker.options == ("mha1", "mha2")
    state.layer = "mha2"
    assert view.layer == "mha2" and view.layer_picker.value == "mha2"
    state.layer = "out"  # not attention: the view keeps its own
    assert view.layer == "mha2" and view.error == ""
    view.layer_picker.value = "mha1"  # as a person picks it
    assert view.layer == "mha1" and state.layer == "out"


def test_a_click_picks_the_token_and_highlights_its_row(view):
    click(view.grid, rowNum=2, columnNum=5)
    assert view.token == 2
    assert np.asarray(view.grid.selected).tolist() == [[2, c] for c in range(8)]
    assert view.row_axis.tick_labels[2] == "\u25b6 sat"
    assert view.row_axis.tick_labels[1] == "cat"
    row = view.shown[2]
    best = int(np.argmax(row))
    caption = view.caption.value.replace("&#x27;", "'")
    assert (
        f"'sat' (pos 2) attends to '{view.key_labels[best]}' (pos {best}) {row[best]:.2f}"
        in caption
    )
    view.token_picker.value = 4  # the token picker does the same
    assert view.token == 4 and np.asarray(view.grid.selected)[0].tolist() == [4, 0]
    view.token = None
    assert view.grid.selected is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("head", 2),
        ("head", -1),
        ("head", True),
        ("token", 8),
        ("token", "3"),
        ("layer", "out"),
        ("layer", "nope"),
        ("mode", "arcs"),
        ("window", 2),
    ],
)
def test_bad_values_raise_and_keep_the_old_one(view, name, value):
    view.head, view.token = 1, 3
    before = getattr(view, name)
    with pytest.raises(TraitError, match=name):
        setattr(view, name, value)
    assert getattr(view, name) == before and view.error == ""


def test_a_model_without_attention_says_so_and_draws_nothing():
    model = keras.Sequential([keras.Input((3,)), L.Dense(2, name="d")])
    v = AttentionView(nw.ModelState(model, np.zeros((2, 3), "float32")))
    assert v.error == NO_ATTENTION and NO_ATTENTION in v.message.value
    assert v.body.layout.display == "none" and v.shown.size == 0 and v.query_labels == ()
    v.close()


def test_cross_attention_labels_queries_by_word_and_keys_by_position():
    keras.utils.set_random_seed(1)
    q = keras.Input((5,), dtype="int32", name="question")
    memory = keras.Input((7, 8), name="memory")
    embed = L.Embedding(30, 8, name="embed")
    mha = L.MultiHeadAttention(3, 4, name="cross")
    model = keras.Model([q, memory], L.Flatten()(mha(embed(q), memory)))
    ids = np.array([[2, 3, 4, 9, 5]], "int32")
    x = [ids, np.random.default_rng(0).normal(size=(1, 7, 8)).astype("float32")]
    v = AttentionView(nw.ModelState(model, x, vocabulary=WORDS), head=2)
    assert v.error == ""
    assert v.query_labels == ("the", "cat", "sat", "#9", "on")
    assert v.key_labels == tuple(f"k{i}" for i in range(7))
    _, want = mha(embed(ids), x[1], return_attention_scores=True)  # Keras' own
    np.testing.assert_allclose(v.shown, np.asarray(want)[0, 2], atol=1e-5)
    v.close()


@pytest.fixture(scope="module")
def long_model():
    keras.utils.set_random_seed(2)
    i = keras.Input((512,), dtype="int32")
    e = L.Embedding(1000, 8, mask_zero=True)(i)
    a = L.MultiHeadAttention(2, 4, name="mha")(e, e)
    ids = np.random.default_rng(0).integers(1, 1000, size=(1, 512)).astype("int32")
    ids[0, 500:] = 0
    return keras.Model(i, L.GlobalAveragePooling1D()(a)), ids


def test_512_tokens_show_a_window_of_48_around_the_token_and_an_overview(long_model):
    model, ids = long_model
    v = AttentionView(nw.ModelState(model, ids, vocabulary=lambda i: f"w{i}"))
    assert v.error == "" and v.shown.shape == (48, 48) and (v.rows.start, v.cols.start) == (0, 0)
    v.token = 300
    assert (v.rows, v.cols) == (slice(276, 324), slice(276, 324))
    words = tuple(f"w{i}" for i in ids[0, 276:324])
    assert v.query_labels == words and v.key_labels == words
    assert v.row_axis.tick_labels[300] == f"\u25b6 w{ids[0, 300]}"
    assert v.col_axis.tick_labels[276] == f"w{ids[0, 276]}"
    full = attention_scores(model, ids, "mha")[0].mean(axis=0)
    np.testing.assert_allclose(v.shown, full[276:324, 276:324], atol=1e-6)
    assert png_size(bytes(v.overview.value)) == (512, 512) and v.overview.layout.display == ""
    v.token = 510  # padding, at the end: the window stops at the last token
    assert v.rows == slice(464, 512) and v.query_labels[-1] == PAD_LABEL
    assert "padding" in v.caption.value
    v.scroll.value = 10  # as a person slides it
    assert v.rows == slice(10, 58) and v.token == 510
    v.window = 16
    assert v.shown.shape == (16, 16) and v.rows == slice(496, 512)
    v.close()


def test_lines_join_the_token_to_every_key_as_opaque_as_the_weight(view):
    view.mode = "lines"
    assert view.heads_box.layout.display == "none" and view.lines_figure.layout.display == ""
    view.token = 1
    xs, ys = np.asarray(view.links.x), np.asarray(view.links.y)
    assert xs.shape == ys.shape == (8, 2)  # one line per key
    assert (ys[:, 0] == 1).all() and ys[:, 1].tolist() == list(range(8))
    weights = view.shown[1]
    np.testing.assert_allclose(view.links.opacities, weights / weights.max(), atol=1e-6)
    assert list(view.query_text.text) == list(view.query_labels)
    assert list(view.key_text.text) == list(view.key_labels)
    click(view.query_dots, index=3)
    assert view.token == 3 and np.asarray(view.links.y)[0, 0] == 3
    view.token = None  # every token, faintly
    assert np.asarray(view.links.y).shape == (64, 2) and max(view.links.opacities) <= 0.5 + 1e-9


def test_keys_masked_for_every_query_are_marked():
    q, kv = keras.Input((4, 8), name="q"), keras.Input((6, 8), name="kv")
    allowed = keras.Input((4, 6), dtype="bool", name="allowed")
    out = L.MultiHeadAttention(2, 4, name="mha")(q, kv, attention_mask=allowed)
    model = keras.Model([q, kv, allowed], out)
    rng = np.random.default_rng(3)
    mask = np.ones((1, 4, 6), bool)
    mask[:, :, 4:] = False  # keys 4 and 5: no query may look at them
    x = [rng.normal(size=(1, 4, 8)).astype("float32"), rng.normal(size=(1, 6, 8)), mask]
    v = AttentionView(nw.ModelState(model, [x[0], x[1].astype("float32"), x[2]]))
    assert v.error == ""
    assert v.key_labels == ("k0", "k1", "k2", "k3", "\u2298k4", "\u2298k5")
    assert v.query_labels == ("q0", "q1", "q2", "q3")
    assert (np.asarray(v.grid.color)[:, 4:] < 0).all() and (v.shown[:, 4:] == 0).all()
    v.close()


def test_named_inputs_reach_the_model_as_a_dict():
    q = keras.Input((4,), dtype="int32", name="query_ids")
    k = keras.Input((6,), dtype="int32", name="key_ids")
    embed = L.Embedding(20, 8, name="embed")
    out = L.MultiHeadAttention(2, 4, name="mha")(embed(q), embed(k))
    model = keras.Model({"query_ids": q, "key_ids": k}, L.GlobalAveragePooling1D()(out))
    x = {"query_ids": np.array([[2, 3, 4, 5]]), "key_ids": np.array([[6, 7, 2, 3, 4, 5]])}
    view = AttentionView(nw.ModelState(model, x, vocabulary=WORDS))
    assert view.error == ""
    np.testing.assert_allclose(view.scores, attention_scores(model, x, "mha")[0], atol=1e-6)
    assert view.key_labels[:2] == ("a", "mat")
    view.close()


def test_units_switched_off_change_the_scores(transformer):
    model, x = transformer
    state = nw.ModelState(model, x, vocabulary=WORDS)
    view = AttentionView(state, layer="mha2")
    before = view.scores.copy()
    state.ablation = {"norm1": tuple(range(8))}  # mha2 sees zeros: equal weights
    after = view.scores
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, np.full_like(after, after[0, 0, 0]), atol=1e-6)
    view.close()


def test_switching_between_head_counts_leaves_no_widgets_behind(view):
    import ipywidgets as W

    view.layer = "mha2"
    view.layer = "mha1"
    count = len(W.Widget.widgets)
    for _ in range(3):
        view.layer = "mha2"
        view.layer = "mha1"
    assert len(W.Widget.widgets) == count


def test_a_shared_layer_says_it_is_called_twice():
    a = keras.Input((5,), dtype="int32", name="a")
    b = keras.Input((5,), dtype="int32", name="b")
    embed = L.Embedding(20, 8, mask_zero=True, name="embed")
    mha = L.MultiHeadAttention(2, 4, name="mha")
    eb, ea = embed(b), embed(a)
    hb, ha = mha(eb, eb), mha(ea, ea)  # node 0 is b's; a runs first when the model runs
    model = keras.Model([a, b], L.Concatenate(axis=1)([ha, hb]))
    x = [np.array([[2, 3, 4, 0, 0]]), np.array([[4, 5, 6, 7, 2]])]
    view = AttentionView(nw.ModelState(model, x, vocabulary=WORDS))
    assert "called 2 times" in view.caption.value
    np.testing.assert_allclose(view.scores, attention_scores(model, x, "mha")[0], atol=1e-6)
    assert all(label.lstrip("\u2298")[0] == "q" for label in view.query_labels)
    view.close()


def test_padding_the_model_does_not_mask_is_labelled_but_keeps_its_weight():
    i = keras.Input((6,), dtype="int32")
    h = L.Embedding(20, 8, name="embed")(i)  # no mask_zero: padding gets attention
    model = keras.Model(i, L.MultiHeadAttention(2, 4, name="mha")(h, h))
    x = np.array([[2, 3, 4, 5, 0, 0]])
    view = AttentionView(nw.ModelState(model, x, vocabulary=WORDS))
    assert view.key_labels[-2:] == (PAD_LABEL, PAD_LABEL)
    assert view.shown[:, -2:].sum() > 0.05  # real weight on padding...
    assert (view.grid.color[:, -2:] >= 0).all()  # ...drawn, not greyed out
    view.close()
