"""The zoo in tests/zoo.py builds, says what it holds, and its models run on its data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")
pd = pytest.importorskip("pandas")

from tests import zoo  # noqa: E402


def first_sample(case: zoo.Case):
    """The first sample of ``case.x`` as the model takes it (a list in inputs order)."""
    x = case.x
    if hasattr(x, "element_spec"):  # a batched tf.data.Dataset of (images, labels)
        batch = next(iter(x))
        return np.asarray(batch[0])[:1]
    if isinstance(x, pd.DataFrame):
        return [x[[t.name]].to_numpy("float32")[:1] for t in case.model.inputs]
    if isinstance(x, dict):
        return [np.asarray(x[t.name])[:1] for t in case.model.inputs]
    if isinstance(x, list):
        return [np.asarray(a)[:1] for a in x]
    return np.asarray(x)[:1]


def n_samples(x) -> int:
    if hasattr(x, "element_spec"):
        return sum(int(b[0].shape[0]) for b in x)
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    if isinstance(x, list):
        return len(x[0])
    return len(x)


@pytest.mark.parametrize("name", zoo.SMALL)
def test_small_case_builds_runs_and_has_a_label_per_sample(name):
    case = zoo.build(name)
    assert case.name == name
    assert set(case.input_kinds) <= set(zoo.INPUT_KINDS), case.input_kinds
    assert set(case.output_kinds) <= set(zoo.OUTPUT_KINDS), case.output_kinds
    model = case.model
    if name != "vae_subclassed":
        # A subclassed keras.Model has no symbolic inputs/outputs even once called
        # (``model.inputs`` raises AttributeError): its counts are checked on the call.
        assert len(model.inputs) == len(case.input_kinds)
        assert len(model.outputs) == len(case.output_kinds)
        if isinstance(case.x, (dict, pd.DataFrame)):  # the keys/columns name the inputs
            assert sorted(case.x.keys()) == sorted(t.name for t in model.inputs)
    out = model(first_sample(case), training=False)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert len(outs) == len(case.output_kinds)
    for o, kind in zip(outs, case.output_kinds, strict=True):
        o = np.asarray(o)
        assert o.shape[0] == 1 and np.isfinite(o).all(), (kind, o.shape)
        if kind == "segmentation":
            assert o.ndim == 4 and o.shape[1:3] == first_sample(case).shape[1:3]
        if kind == "image":
            assert o.ndim == 4 and o.min() >= 0 and o.max() <= 1  # sigmoid pixels
    names = case.kwargs.get("class_names")
    if names is not None:
        heads = [
            o
            for o, k in zip(outs, case.output_kinds, strict=True)
            if k in ("classes", "segmentation")
        ]
        assert np.asarray(heads[0]).shape[-1] in (1, len(names))
    if case.y is not None:  # one label per sample (per output, keyed by output name)
        n = n_samples(case.x)
        if isinstance(case.y, dict):
            assert list(case.y) == list(model.output_names)
            assert all(len(v) == n for v in case.y.values())
        else:
            assert len(case.y) == n


def test_text_is_pre_padded_with_varied_lengths_and_a_vocabulary_per_id():
    case = zoo.build("text_transformer")
    x = case.x
    assert x.dtype == np.int32 and x.shape == (16, 20)
    assert (x[:, -1] != 0).all() and (x[:, 0] == 0).any()  # zeros first, words last
    lengths = (x != 0).sum(axis=1)
    assert len(set(lengths.tolist())) > 3
    vocab = case.kwargs["vocabulary"]
    assert len(vocab) == 50 and vocab[:2] == ["[pad]", "[UNK]"] and x.max() < len(vocab)


def test_masks_mark_the_circle_and_the_square():
    case = zoo.build("unet")
    assert case.y.shape == (16, 32, 32, 1)
    assert set(np.unique(case.y).tolist()) == {0, 1, 2}
    for img, mask in zip(case.x, case.y[..., 0], strict=True):
        # drawn shapes are brighter than the background noise (< 0.3)
        assert img[mask > 0].max() >= 0.4 and img[mask == 0].max() < 0.3


def test_build_is_seeded_and_fresh():
    a, b = zoo.build("regression"), zoo.build("regression")
    assert a.model is not b.model
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.x, b.x)


def test_unknown_case_names_the_known_ones():
    with pytest.raises(KeyError, match="unet"):
        zoo.build("nope")


def test_densenet121_builds_at_64_pixels():
    # The one application built here (about 5 s); the others take as long each.
    case = zoo.build("densenet121")
    assert len(case.model.layers) >= 400
    assert case.model.input_shape == (None, 64, 64, 3)
    assert case.model.output_shape == (None, 10)
