"""The teaching notebook's attention task: data that a self-attention head solves by
finding the query's copy, and a small transformer that learns to (measured over seeds
0, 1, 2 with :data:`~nnwidgets.datasets.MATCHING_TRAINING`: held-out accuracy 1.00, the
head-averaged attention of position 0 peaks on the match for 95 %, 96 %, 99 % of inputs,
untrained 3-12 %; 14-25 s of training on a busy 2-core machine)."""

import numpy as np
import pytest

from nnwidgets.datasets import MATCHING_TRAINING, matching_tokens, matching_transformer

keras = pytest.importorskip("keras")

from nnwidgets.attention import attention_layers, attention_scores  # noqa: E402


def test_matching_tokens_hold_one_copy_of_the_query():
    x, y, words = matching_tokens(500, length=12, vocab=24, seed=3)
    assert x.shape == (500, 12) and x.dtype == np.int32 and y.shape == (500,)
    assert words[0] == "[PAD]" and len(words) == 24 and words[1] == "A"
    assert x.min() >= 1 and x.max() <= 23
    assert y.min() >= 1 and y.max() <= 11 and len(set(y.tolist())) == 11
    rows = np.arange(500)
    assert np.all(x[rows, y] == x[:, 0])
    for row in x:  # the query twice, every other token once
        _, counts = np.unique(row, return_counts=True)
        assert sorted(counts.tolist()) == [1] * 10 + [2]
    again, y_again, _ = matching_tokens(500, length=12, vocab=24, seed=3)
    assert np.array_equal(again, x) and np.array_equal(y_again, y)
    assert not np.array_equal(matching_tokens(500, seed=4)[0], x)
    with pytest.raises(ValueError, match="length <= vocab"):
        matching_tokens(10, length=30, vocab=24)


def hit_rate(model, x, y) -> float:
    """How often the head-averaged attention of query position 0 peaks on the match."""
    from_query = attention_scores(model, x, "attention")[:, :, 0, :].mean(axis=1)
    return float(np.mean(from_query.argmax(axis=-1) == y))


def test_the_trained_transformer_attends_to_the_match():
    x, y, _ = matching_tokens(seed=0)
    x_test, y_test, _ = matching_tokens(400, seed=100)
    model = matching_transformer(seed=0)
    assert attention_layers(model) == ["attention"]
    assert hit_rate(model, x_test, y_test) < 0.25  # untrained: near chance (1/11)
    model.fit(
        x,
        y,
        epochs=MATCHING_TRAINING["epochs"],
        batch_size=MATCHING_TRAINING["batch_size"],
        verbose=0,
    )
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy >= 0.9
    assert hit_rate(model, x_test, y_test) >= 0.8  # measured 0.95 for this seed
