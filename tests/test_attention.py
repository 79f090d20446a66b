"""Attention scores against Keras' own: a twin of the layer (same config and weights)
called with ``return_attention_scores=True`` on the same symbolic tensors, in a second
functional model, or the layer itself called eagerly on its input."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from nnwidgets import attention  # noqa: E402
from nnwidgets.attention import attention_calls, attention_layers, attention_scores  # noqa: E402

L = keras.layers


def twin_scores(inputs, layer, node: int = 0):
    """A model from ``inputs`` to the scores of a twin of ``layer`` called on the
    arguments of its ``node``-th call (Keras' functional replay brings the masks)."""
    arguments = layer._inbound_nodes[node].arguments
    twin = type(layer).from_config({**layer.get_config(), "name": f"twin{node}"})
    kwargs = {**arguments.kwargs, "return_attention_scores": True}
    _, scores = twin(*arguments.args, **kwargs)
    twin.set_weights(layer.get_weights())
    return keras.Model(inputs, scores)


def tokens(n=5, length=7, vocab=20, seed=0, pad=True):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, (n, length))
    if pad:
        for i, real in enumerate(rng.integers(2, length + 1, n)):
            x[i, real:] = 0
    return x


def self_attention(kind="mha", mask_zero=False, causal=False, length=7):
    keras.utils.set_random_seed(1)
    inp = keras.Input((length,), dtype="int32", name="tok")
    h = L.Embedding(20, 8, mask_zero=mask_zero, name="emb")(inp)
    if kind == "gqa":
        att = L.GroupQueryAttention(4, 4, 2, name="mha")
    else:
        att = L.MultiHeadAttention(2, 4, name="mha")
    a = att(h, h, use_causal_mask=True) if causal else att(h, h)
    out = L.Dense(3, name="out")(L.GlobalAveragePooling1D(name="pool")(a))
    return keras.Model(inp, out), att


@pytest.mark.parametrize("kind", ["mha", "gqa"])
def test_self_attention_equals_keras(kind):
    model, att = self_attention(kind)
    x = tokens(pad=False)
    assert attention_layers(model) == ["mha"]
    scores = attention_scores(model, x, "mha")
    heads = 2 if kind == "mha" else 4
    assert scores.shape == (5, heads, 7, 7) and scores.dtype == np.float32
    reference = np.asarray(twin_scores(model._inputs_struct, att)(x))
    np.testing.assert_allclose(scores, reference, atol=1e-5)
    np.testing.assert_allclose(scores.sum(-1), 1, atol=1e-5)
    if kind == "gqa":
        assert att._return_attention_scores is False  # its flag set back


def test_cross_attention_with_named_inputs():
    keras.utils.set_random_seed(2)
    q = keras.Input((4, 8), name="query")
    c = keras.Input((6, 8), name="context")
    att = L.MultiHeadAttention(3, 4, name="cross")
    out = L.GlobalAveragePooling1D()(att(q, c))
    model = keras.Model({"query": q, "context": c}, out)
    rng = np.random.default_rng(0)
    x = {"context": rng.normal(size=(5, 6, 8)), "query": rng.normal(size=(5, 4, 8))}
    scores = attention_scores(model, x, "cross")
    assert scores.shape == (5, 3, 4, 6)
    reference = np.asarray(twin_scores(model._inputs_struct, att)(x))
    np.testing.assert_allclose(scores, reference, atol=1e-5)


def test_padding_mask_from_embedding():
    model, att = self_attention(mask_zero=True)
    x = tokens()
    scores = attention_scores(model, x, "mha")
    real = x != 0
    for i in range(len(x)):
        rows = scores[i][:, real[i]]  # real queries
        np.testing.assert_allclose(rows.sum(-1), 1, atol=1e-5)
        assert np.all(rows[..., ~real[i]] == 0)  # padded keys get nothing
        assert np.all(scores[i][:, ~real[i]] == 0)  # padded queries: zero rows
    reference = np.asarray(twin_scores(model._inputs_struct, att)(x))
    np.testing.assert_allclose(scores, reference, atol=1e-5)
    # the mask matters: the same layer without it spreads weight over padding
    plain = attention_scores(self_attention(mask_zero=False)[0], x, "mha")
    assert not np.allclose(plain, scores, atol=1e-3)


def test_causal_mask():
    model, att = self_attention(causal=True)
    x = tokens(pad=False)
    scores = attention_scores(model, x, "mha")
    upper = np.triu(np.ones((7, 7), bool), k=1)
    assert np.all(scores[..., upper] == 0)
    reference = np.asarray(twin_scores(model._inputs_struct, att)(x))
    np.testing.assert_allclose(scores, reference, atol=1e-5)


def test_explicit_attention_mask_input():
    keras.utils.set_random_seed(3)
    inp = keras.Input((6,), dtype="int32")
    allowed = keras.Input((6, 6), dtype="bool")
    h = L.Embedding(20, 8)(inp)
    att = L.MultiHeadAttention(2, 4, name="mha")
    out = L.GlobalAveragePooling1D()(att(h, h, attention_mask=allowed))
    model = keras.Model([inp, allowed], out)
    rng = np.random.default_rng(1)
    mask = rng.random((4, 6, 6)) < 0.6
    mask[:, :, 0] = True  # every query sees something
    x = [tokens(4, 6, pad=False), mask]
    scores = attention_scores(model, x, "mha")
    assert np.all(scores.transpose(1, 0, 2, 3)[:, ~mask] == 0)
    reference = np.asarray(twin_scores(model._inputs_struct, att)(x))
    np.testing.assert_allclose(scores, reference, atol=1e-5)


def test_nested_model():
    keras.utils.set_random_seed(4)
    t = keras.Input((7,), dtype="int32")
    h = L.Embedding(20, 8, mask_zero=True)(t)
    att = L.MultiHeadAttention(2, 4, name="mha")
    inner = keras.Model(t, L.GlobalAveragePooling1D()(att(h, h)), name="inner")
    outer_in = keras.Input((7,), dtype="int32")
    model = keras.Model(outer_in, L.Dense(2)(inner(outer_in)))
    assert attention_layers(model) == ["inner/mha"]
    x = tokens()
    scores = attention_scores(model, x, "inner/mha")
    reference = np.asarray(twin_scores(inner._inputs_struct, att)(x))
    np.testing.assert_allclose(scores, reference, atol=1e-5)
    assert np.all(scores[0][:, :, x[0] == 0] == 0)


class TransformerBlock(L.Layer):
    """keras-io's text classification block (examples/nlp/text_classification_with_
    transformer.py), the attention named."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, name="att")
        self.ffn = keras.Sequential([L.Dense(ff_dim, activation="relu"), L.Dense(embed_dim)])
        self.layernorm1 = L.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = L.LayerNormalization(epsilon=1e-6)
        self.dropout1 = L.Dropout(rate)
        self.dropout2 = L.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + ffn_output)


def block_model():
    keras.utils.set_random_seed(5)
    inp = keras.Input((7,), dtype="int32")
    h = L.Embedding(20, 8, name="emb")(inp)
    block = TransformerBlock(8, 2, 16, name="block")
    out = L.Dense(2)(L.GlobalAveragePooling1D()(block(h)))
    return keras.Model(inp, out), block


def test_composite_layer_and_model_unchanged():
    model, block = block_model()
    x = tokens(pad=False)
    before = np.asarray(model(x))
    weights = [w.copy() for w in model.get_weights()]
    nodes = len(block.att._inbound_nodes)
    assert attention_layers(model) == ["block/att"]
    scores = attention_scores(model, x, "block/att")
    h = keras.Model(model._inputs_struct, block.input)(x)
    reference = np.asarray(block.att(h, h, return_attention_scores=True)[1])
    np.testing.assert_allclose(scores, reference, atol=1e-5)
    assert "call" not in vars(block.att) and len(block.att._inbound_nodes) == nodes
    np.testing.assert_array_equal(np.asarray(model(x)), before)
    for a, b in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(Exception):  # noqa: B017 - Keras' own error for a bad shape
        attention_scores(model, np.zeros((2, 7, 3)), "block/att")
    assert "call" not in vars(block.att)
    np.testing.assert_array_equal(np.asarray(model(x)), before)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.emb = L.Embedding(20, 8)
        self.att = L.MultiHeadAttention(2, 4, name="att")
        self.pool = L.GlobalAveragePooling1D()

    def call(self, x):
        h = self.emb(x)
        return self.pool(self.att(h, h))


def test_subclassed_model():
    keras.utils.set_random_seed(6)
    model = Subclassed()
    x = tokens(pad=False)
    before = np.asarray(model(x))
    assert attention_layers(model) == ["att"]
    scores = attention_scores(model, x, "att")
    h = model.emb(x)
    reference = np.asarray(model.att(h, h, return_attention_scores=True)[1])
    np.testing.assert_allclose(scores, reference, atol=1e-5)
    assert "call" not in vars(model.att)
    np.testing.assert_array_equal(np.asarray(model(x)), before)


def test_shared_layer_called_twice(monkeypatch):
    monkeypatch.setattr(attention, "BATCH", 2)  # 5 inputs in 3 batches
    keras.utils.set_random_seed(7)
    inp = keras.Input((7,), dtype="int32")
    h = L.Embedding(20, 8, mask_zero=True)(inp)
    att = L.MultiHeadAttention(2, 4, name="mha")
    out = L.GlobalAveragePooling1D()(att(att(h, h), h))
    model = keras.Model(inp, out)
    x = tokens()
    nodes = len(att._inbound_nodes)
    assert attention_calls(model, x, "mha") == 2
    first = attention_scores(model, x, "mha", call=0)
    second = attention_scores(model, x, "mha", call=1)
    assert len(att._inbound_nodes) == nodes and "call" not in vars(att)
    assert not np.allclose(first, second, atol=1e-3)
    np.testing.assert_allclose(first, twin_scores(model._inputs_struct, att, 0)(x), atol=1e-5)
    np.testing.assert_allclose(second, twin_scores(model._inputs_struct, att, 1)(x), atol=1e-5)
    with pytest.raises(ValueError, match="calls 'mha' 2 times"):
        attention_scores(model, x, "mha", call=2)


def test_512_tokens():
    keras.utils.set_random_seed(8)
    inp = keras.Input((512,), dtype="int32")
    h = L.Embedding(100, 16, mask_zero=True)(inp)
    out = L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 8, name="mha")(h, h))
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).integers(1, 100, (3, 512))
    x[1, 300:] = 0
    scores = attention_scores(model, x, "mha")
    assert scores.shape == (3, 2, 512, 512)
    np.testing.assert_allclose(scores[0].sum(-1), 1, atol=1e-4)
    np.testing.assert_allclose(scores[1, :, :300].sum(-1), 1, atol=1e-4)
    assert np.all(scores[1, :, :, 300:] == 0)


def test_errors():
    model, _ = self_attention()
    x = tokens(pad=False)
    with pytest.raises(TypeError, match="Keras model"):
        attention_scores("model", x, "mha")
    with pytest.raises(ValueError, match="its attention layers are 'mha'"):
        attention_scores(model, x, "nope")
    with pytest.raises(ValueError, match="'emb' is not an attention layer"):
        attention_scores(model, x, "emb")
    with pytest.raises(ValueError, match="calls 'mha' 1 time"):
        attention_scores(model, x, "mha", call=1)
    dense = keras.Sequential([keras.Input((3,)), L.Dense(2, name="d")])
    with pytest.raises(ValueError, match="has no attention layers"):
        attention_scores(dense, np.zeros((1, 3)), "d")
    before = np.asarray(model(x))
    with pytest.raises(Exception):  # noqa: B017 - Keras' own error for a bad shape
        attention_scores(model, np.zeros((2, 9, 9)), "mha")
    np.testing.assert_array_equal(np.asarray(model(x)), before)
