"""nnwidgets.attribution against tf-keras-vis and against what the maps must show."""

from __future__ import annotations

import numpy as np
import pytest

from nnwidgets import attribution as A
from nnwidgets.datasets import load_digits, reviews, waves

keras = pytest.importorskip("keras")
L = keras.layers
tfkv = pytest.importorskip("tf_keras_vis")


def _reference(kind, model, x, classes, **options):
    """tf-keras-vis' map with ReplaceToLinear, no normalisation, no upsampling."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    score = CategoricalScore([int(c) for c in classes])
    if kind == "saliency":
        maker = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
        return np.asarray(maker(score, x, normalize_map=False, **options))
    maker = (GradcamPlusPlus if kind == "plus" else Gradcam)(
        model, model_modifier=ReplaceToLinear(), clone=True
    )
    cam = maker(
        score,
        x,
        seek_penultimate_conv_layer=False,
        expand_cam=False,
        normalize_cam=False,
        **options,
    )
    return np.asarray(cam)


@pytest.fixture(scope="module")
def branched():
    """A trained functional CNN on the digits with a nested block and two branches."""
    keras.utils.set_random_seed(0)
    x, y = load_digits(600)
    block = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(8, 3, padding="same", activation="relu", name="conv")],
        name="block",
    )
    i = keras.Input((8, 8, 1))
    h = block(i)
    a = L.Conv2D(8, 3, padding="same", activation="relu", name="left")(h)
    b = L.Conv2D(8, 1, name="right")(h)
    s = L.Add(name="add")([a, b])
    c = L.Conv2D(16, 3, activation="relu", name="last_conv")(s)
    out = L.Dense(10, activation="softmax", name="out")(L.GlobalAveragePooling2D()(c))
    model = keras.Model(i, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    return model, x[:6]


@pytest.mark.parametrize("layer", ["last_conv", "add", "block"])
def test_grad_cam_equals_tf_keras_vis(branched, layer):
    model, x = branched
    classes = [0, 1, 2, 3, 4, 5]
    ours = A.grad_cam(model, x, layer, class_index=classes)
    ref = _reference("cam", model, x, classes, penultimate_layer=layer)
    assert ours.shape == ref.shape == (6, *model.get_layer(layer).output.shape[1:3])
    assert ref.max() > 0
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_grad_cam_plus_plus_and_saliency_equal_tf_keras_vis(branched):
    model, x = branched
    predicted = A.scores(model, x)[1]
    assert np.array_equal(predicted, model.predict(x, verbose=0).argmax(-1))
    plus = A.grad_cam(model, x, "last_conv", plus_plus=True)  # None: the predicted classes
    ref = _reference("plus", model, x, predicted, penultimate_layer="last_conv")
    np.testing.assert_allclose(plus, ref, rtol=1e-4, atol=1e-6 * ref.max())
    sal = A.saliency(model, x)
    ref = _reference("saliency", model, x, predicted)
    assert sal.shape == ref.shape == (6, 8, 8)
    np.testing.assert_allclose(sal, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_nested_layer_and_block_give_the_same_map(branched):
    model, x = branched
    inner = A.grad_cam(model, x, "block/conv", class_index=3)
    assert np.array_equal(inner, A.grad_cam(model, x, "block", class_index=3))
    assert A.spatial_layers(model)[-1] == "last_conv"
    assert np.array_equal(
        A.grad_cam(model, x, class_index=3), A.grad_cam(model, x, "last_conv", class_index=3)
    )


def test_scores_leave_the_softmax_out_and_the_model_unchanged(branched):
    model, x = branched
    weights = [w.copy() for w in model.get_weights()]
    before = model.predict(x, verbose=0)
    linear = keras.models.clone_model(model)
    linear.set_weights(model.get_weights())
    linear.get_layer("out").activation = keras.activations.linear
    s, classes = A.scores(model, x)
    logits = linear.predict(x, verbose=0)
    np.testing.assert_allclose(s, logits[np.arange(6), classes], rtol=1e-5, atol=1e-6)
    A.saliency(model, x, smooth_samples=3, seed=0)
    A.integrated_gradients(model, x, steps=4)
    assert model.get_layer("out").activation is keras.activations.softmax
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
    assert np.array_equal(before, model.predict(x, verbose=0))


def test_integrated_gradients_are_complete(branched):
    model, x = branched
    for baseline in (None, np.full((8, 8, 1), 0.5, "float32")):
        ig = A.integrated_gradients(model, x, baseline=baseline, steps=64)
        s, classes = A.scores(model, x)
        start = np.zeros_like(x) if baseline is None else np.broadcast_to(baseline, x.shape)
        s0 = A.scores(model, start, class_index=list(classes))[0]
        gap = s - s0
        assert ig.shape == x.shape
        np.testing.assert_allclose(
            ig.reshape(6, -1).sum(1), gap, rtol=0.05, atol=0.05 * np.abs(gap).max()
        )


def test_smoothgrad_is_seeded_and_averages_noisy_saliency(branched):
    model, x = branched
    a = A.saliency(model, x[:2], smooth_samples=10, noise=0.2, seed=1)
    b = A.saliency(model, x[:2], smooth_samples=10, noise=0.2, seed=1)
    plain = A.saliency(model, x[:2])
    assert np.array_equal(a, b) and a.shape == plain.shape
    assert not np.allclose(a, plain)
    assert np.allclose(A.saliency(model, x[:2], smooth_samples=4, noise=0.0), plain, rtol=1e-5)


def test_a_model_that_sees_only_the_left_half_gives_the_right_half_nothing():
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Cropping2D(((0, 0), (0, 4))),  # keep columns 0..3
            L.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ]
    )
    x = load_digits(5)[0]
    sal = A.saliency(model, x)
    assert np.all(sal[:, :, 4:] == 0) and np.any(sal[:, :, :4] > 0)
    occ = A.occlusion(model, x, patch=2, stride=2)
    assert occ.shape == (5, 4, 4)
    assert np.all(occ[:, :, 2:] == 0) and np.any(occ[:, :, :2] != 0)
    ig = A.integrated_gradients(model, x, steps=8)
    assert np.all(ig[:, :, 4:] == 0)


def test_the_maps_of_a_biased_model_peak_on_its_shortcut():
    """Every 3 carries a bright corner patch: the model learns the patch, and every
    method points at it on a 3."""
    keras.utils.set_random_seed(0)
    x, y = load_digits(900)
    clean, x = x, x.copy()
    x[y == 3, :2, :2, 0] = 1.0
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv"),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            L.GlobalMaxPooling2D(),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    stamped = clean[y != 3][:40].copy()
    stamped[:, :2, :2, 0] = 1.0
    assert (model.predict(stamped, verbose=0).argmax(-1) == 3).mean() > 0.5  # the shortcut
    threes = x[y == 3][:10]
    for name, maps in (
        ("grad-cam", A.grad_cam(model, threes, "conv2", class_index=3)),
        ("grad-cam++", A.grad_cam(model, threes, "conv2", class_index=3, plus_plus=True)),
        ("saliency", A.saliency(model, threes, class_index=3)),
        ("occlusion", A.occlusion(model, threes, class_index=3, patch=2, stride=2)),
        ("integrated gradients", A.integrated_gradients(model, threes, class_index=3)[..., 0]),
    ):
        side = 2 * maps.shape[1] // 8  # the patch's rows and columns in the map
        peaks = [np.unravel_index(np.argmax(m), m.shape) for m in maps]
        assert sum(max(p) < side for p in peaks) >= 9, (name, peaks)


@pytest.fixture(scope="module")
def text_model():
    keras.utils.set_random_seed(0)
    x, y = reviews(400)
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            L.Embedding(40, 8, mask_zero=True, name="emb"),
            L.GlobalAveragePooling1D(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    return model, x[:8], y[:8]


def test_token_attributions_point_at_the_words_and_are_complete(text_model):
    from nnwidgets.datasets import VOCABULARY

    model, x, _ = text_model
    grad = A.token_attributions(model, x, class_index=1)
    ig = A.token_attributions(model, x, class_index=1, method="integrated", steps=64)
    assert grad.shape == ig.shape == x.shape
    assert np.all(ig[x == 0] == 0)  # padding is masked out of the average: no part in it
    good = np.isin(x, [VOCABULARY.index(w) for w in ("great", "good", "wonderful")])
    bad = np.isin(x, [VOCABULARY.index(w) for w in ("bad", "boring", "awful")])
    assert ig[good].mean() > 0 > ig[bad].mean()
    # complete: the sum over the tokens is the score's gain over an all-zero embedding
    engine = A.engine.Engine.of(model)
    weights = A.engine.class_weights(1, len(x), 2)
    full = A.scores(model, x, class_index=1)[0]
    zero = engine.run([x], weights, ("layer", "emb"), scale=np.zeros(len(x)))[0]
    np.testing.assert_allclose(ig.sum(1), full - zero, rtol=0.05, atol=0.02)


def test_sequences_get_a_value_per_step_and_feature():
    keras.utils.set_random_seed(0)
    x, _ = waves(4, steps=60)
    model = keras.Sequential(
        [
            keras.Input((60, 1)),
            L.Conv1D(6, 5, activation="relu", name="conv"),
            L.GlobalAveragePooling1D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    assert A.saliency(model, x).shape == (4, 60, 1)
    assert A.grad_cam(model, x).shape == (4, 56)
    assert A.integrated_gradients(model, x, steps=4).shape == (4, 60, 1)
    assert A.occlusion(model, x, patch=10).shape == (4, 6)


def test_regression_and_segmentation_outputs_are_explained_by_their_values():
    keras.utils.set_random_seed(0)
    reg = keras.Sequential([keras.Input((5,)), L.Dense(4, activation="relu"), L.Dense(1)])
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    s, classes = A.scores(reg, x)
    np.testing.assert_allclose(s, reg.predict(x, verbose=0)[:, 0], rtol=1e-5)
    assert np.all(classes == 0) and A.saliency(reg, x).shape == (3, 5)
    seg = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            L.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
            L.Conv2D(3, 1, activation="softmax", name="classes"),
        ]
    )
    images = np.random.default_rng(1).random((2, 16, 16, 3)).astype("float32")
    linear = keras.models.clone_model(seg)
    linear.set_weights(seg.get_weights())
    linear.get_layer("classes").activation = keras.activations.linear
    s = A.scores(seg, images, class_index=2)[0]
    np.testing.assert_allclose(s, linear.predict(images, verbose=0)[..., 2].sum((1, 2)), rtol=1e-4)
    assert A.grad_cam(seg, images, "conv", class_index=2).shape == (2, 16, 16)


def test_bad_inputs_are_named(branched, text_model):
    model, x = branched
    with pytest.raises(ValueError, match=r"range 0\.\.9"):
        A.grad_cam(model, x, class_index=10)
    with pytest.raises(TypeError, match="class_index"):
        A.saliency(model, x, class_index=1.5)
    with pytest.raises(ValueError, match="3 classes for 6 inputs"):
        A.saliency(model, x, class_index=[1, 2, 3])
    with pytest.raises(ValueError, match="no spatial axes.*last_conv"):
        A.grad_cam(model, x, "out")
    with pytest.raises(ValueError, match="steps"):
        A.integrated_gradients(model, x, steps=0)
    dense = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(3)])
    with pytest.raises(ValueError, match="no layer with spatial output"):
        A.grad_cam(dense, x)
    text, ids, _ = text_model
    with pytest.raises(ValueError, match="token_attributions"):
        A.saliency(text, ids)
    with pytest.raises(ValueError, match="not read by an Embedding"):
        A.token_attributions(model, x)
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    sal = A.saliency(model, nan)  # shown, not crashed on
    assert np.isnan(sal[0]).any() and np.isfinite(sal[1:]).all()


def test_mobilenet_grad_cam_uses_the_last_feature_map(mobilenet):
    model, x = mobilenet
    cam = A.grad_cam(model, x[:1])
    assert A.spatial_layers(model)[-1] == "out_relu"
    assert cam.shape == (1, 3, 3) and np.isfinite(cam).all()


@pytest.mark.parametrize("name", ["text_transformer", "unet", "vae_subclassed", "two_output"])
def test_zoo_models_get_maps_of_their_own_kind_or_a_reason(name):
    from nnwidgets import ModelState
    from tests import zoo

    case = zoo.build(name)
    state = ModelState(case.model, case.x, case.y, **case.kwargs)
    model, x = case.model, state.inputs[:2]
    if name == "text_transformer":  # token ids: per token, over the embedding
        assert A.token_attributions(model, x, method="integrated", steps=4).shape == x.shape
        assert A.grad_cam(model, x).shape[:2] == (2, x.shape[1])  # a sequence of steps
        with pytest.raises(ValueError, match="float input"):
            A.saliency(model, x)
    elif name == "unet":  # a segmentation: a class summed over the pixels
        assert A.grad_cam(model, x, class_index=1).shape[0] == 2
        assert A.saliency(model, x, class_index=1).shape == x.shape[:3]
    elif name == "vae_subclassed":  # no graph: inputs only, and a reason for the rest
        with pytest.raises(ValueError, match="subclassed"):
            A.grad_cam(model, x)
        assert A.saliency(model, x).shape == x.shape[:3]
    else:  # two outputs: each explained on its own
        s0, s1 = A.scores(model, x, output=0)[0], A.scores(model, x, output=1)[0]
        out = model.predict(x, verbose=0)
        np.testing.assert_allclose(s1, out[1][:, 0], rtol=1e-4, atol=1e-6)  # regression: its value
        assert not np.allclose(s0, s1)
        with pytest.raises(ValueError, match="output must be in range 0..1"):
            A.saliency(model, x, output=2)


def test_attributions_follow_the_units_switched_off(branched):
    model, x = branched
    off = {"left": tuple(range(8))}
    zeroed = keras.models.clone_model(model)
    zeroed.set_weights(model.get_weights())
    kernel, bias = zeroed.get_layer("left").get_weights()
    zeroed.get_layer("left").set_weights([0 * kernel, 0 * bias])  # relu(0) = 0: the same model
    ablated = A.saliency(model, x, ablation=off)
    np.testing.assert_allclose(ablated, A.saliency(zeroed, x), rtol=1e-5, atol=1e-9)
    assert not np.allclose(ablated, A.saliency(model, x))
    assert np.all(A.grad_cam(model, x, "left", ablation=off) == 0)
    np.testing.assert_allclose(
        A.scores(model, x, ablation=off)[0], A.scores(zeroed, x)[0], rtol=1e-5
    )


def test_odd_models_final_units_off_shared_layers_subclassed_flat_outputs():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    i = keras.Input((4,))
    out = L.Dense(3, activation="softmax", name="out")(L.Dense(5, name="h")(i))
    model = keras.Model(i, out)
    # units of the final layer switched off: their score (before the softmax) is 0
    assert np.all(A.scores(model, x, class_index=0, ablation={"out": (0,)})[0] == 0)
    # one embedding read twice: an attribution to "its output" would be ambiguous
    a, b = keras.Input((5,), dtype="int32"), keras.Input((5,), dtype="int32")
    emb = L.Embedding(20, 4, name="emb")
    pooled = L.Concatenate()(
        [L.GlobalAveragePooling1D()(emb(a)), L.GlobalAveragePooling1D()(emb(b))]
    )
    twice = keras.Model([a, b], L.Dense(2)(pooled))
    ids = [np.ones((1, 5), "int32"), np.full((1, 5), 2, "int32")]
    with pytest.raises(ValueError, match="called more than once"):
        A.token_attributions(twice, ids, input=1)

    class Small(keras.Model):  # subclassed: no graph, the output read from one sample
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3)

        def call(self, t):
            return self.d(t)

    sub = Small()
    logits = np.asarray(sub(x))
    np.testing.assert_allclose(A.scores(sub, x, class_index=2)[0], logits[:, 2], rtol=1e-5)
    flat = keras.Sequential([keras.Input((4,)), L.Dense(1), L.Flatten(), L.Reshape(())])
    s, classes = A.scores(flat, x)  # an output of shape (n,): its value
    np.testing.assert_allclose(s, flat.predict(x, verbose=0), rtol=1e-5)
