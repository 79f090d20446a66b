"""Training dynamics: the pure functions against references, the recorders, the views."""

from __future__ import annotations

import numpy as np
import pytest

import nnwidgets as nw
from nnwidgets import dynamics as D
from nnwidgets.training import TrainingSession
from nnwidgets.training.dynamics import DynamicsProbe, InputSnapshots, ThinningLog

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
L = keras.layers
RNG = np.random.default_rng(1)


def fit(model, x, y, callbacks=(), epochs=1, batch_size=16):
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        shuffle=False,
        callbacks=list(callbacks),
    )


def tape_norms(model, x, y, layers: dict) -> dict:
    """The reference: one GradientTape over compute_loss, norms per layer by hand."""
    with tf.GradientTape() as tape:
        pred = model(x, training=False)
        loss = model.compute_loss(x, y, pred, training=False)
    variables = model.trainable_weights
    grads = dict(zip([id(v) for v in variables], tape.gradient(loss, variables), strict=True))
    return {
        name: float(
            np.sqrt(sum(float(tf.reduce_sum(tf.convert_to_tensor(grads[id(v)]) ** 2)) for v in vs))
        )
        for name, vs in layers.items()
    }


def nested_model():
    block = keras.Sequential(
        [keras.Input((6,)), L.Dense(5, activation="tanh", name="a"), L.Dense(4, name="b")],
        name="block",
    )
    i = keras.Input((6,))
    h = block(i)
    h = L.Dropout(0.5, name="drop")(h)
    o = L.Dense(3, activation="softmax", name="out")(h)
    model = keras.Model(i, o)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


# -- gradient norms -------------------------------------------------------------------
def test_gradient_norms_equal_a_gradient_tape_with_nested_layers():
    model = nested_model()
    x, y = RNG.normal(size=(20, 6)).astype("float32"), RNG.integers(0, 3, 20)
    norms = D.gradient_norms(model, x, y)
    state = nw.ModelState(model, x, y)
    assert set(norms) == {"block", "block/a", "block/b", "out"}  # no Dropout: no weights
    assert set(norms) <= set(state.layer_names)
    b = model.get_layer("block")
    layers = {
        "block": b.trainable_weights,
        "block/a": b.get_layer("a").trainable_weights,
        "block/b": b.get_layer("b").trainable_weights,
        "out": model.get_layer("out").trainable_weights,
    }
    want = tape_norms(model, x, y, layers)
    for name in want:
        assert norms[name] == pytest.approx(want[name], rel=1e-5)
    # the container covers its sublayers: its norm is the root of their squares
    assert norms["block"] == pytest.approx(np.hypot(norms["block/a"], norms["block/b"]), rel=1e-6)


def test_regularisation_losses_count_as_compute_loss_counts_them():
    i = keras.Input((4,))
    o = L.Dense(2, kernel_regularizer=keras.regularizers.L2(10.0), name="d")(i)
    model = keras.Model(i, o)
    model.compile("sgd", "mse")
    x, y = np.zeros((8, 4), "float32"), np.zeros((8, 2), "float32")
    # with zero inputs and targets only the L2 penalty has a gradient
    norm = D.gradient_norms(model, x, y)["d"]
    kernel = np.asarray(model.get_layer("d").kernel)
    assert norm == pytest.approx(np.linalg.norm(2 * 10.0 * kernel), rel=1e-5)


def test_integer_inputs_embedding_gradients_and_no_dead_units_for_ids():
    model = keras.Sequential(
        [
            keras.Input((7,), dtype="int32"),
            L.Embedding(50, 8, name="emb"),
            L.GlobalAveragePooling1D(name="gap"),
            L.Dense(2, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = RNG.integers(1, 50, (12, 7)), RNG.integers(0, 2, 12)
    norms = D.gradient_norms(model, x, y)
    want = tape_norms(
        model, x.astype("int32"), y, {"emb": model.get_layer("emb").trainable_weights}
    )
    assert norms["emb"] == pytest.approx(want["emb"], rel=1e-5) and norms["emb"] > 0
    assert set(D.dead_units(model, x)) == {"emb", "gap", "out"}


def test_no_loss_and_no_labels_are_clear_errors():
    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    with pytest.raises(ValueError, match="no loss.*model.compile"):
        D.gradient_norms(model, np.ones((2, 3)), np.ones((2, 2)))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="labels"):
        D.gradient_norms(model, np.ones((2, 3)), None)


def test_deep_sigmoid_stack_gradients_vanish_in_its_first_layers():
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))]
    layers += [L.Dense(32, activation="sigmoid", name=f"s{i}") for i in range(8)]
    model = keras.Sequential([*layers, L.Dense(10, activation="softmax", name="out")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = nw.datasets.load_digits(200)
    norms = D.gradient_norms(model, x.reshape(len(x), -1), y)
    stack = [norms[f"s{i}"] for i in range(8)]
    assert stack[0] < stack[-1] / 100  # vanishes by orders of magnitude
    assert np.argmin(stack) in (0, 1) and min(stack) == min(norms.values())


def test_nan_weights_give_nan_norms():
    model = keras.Sequential([keras.Input((3,)), L.Dense(2, name="d"), L.Dense(1, name="o")])
    model.compile("sgd", "mse")
    kernel = np.asarray(model.get_layer("d").kernel)
    kernel[0, 0] = np.nan
    model.get_layer("d").kernel.assign(kernel)
    norms = D.gradient_norms(model, np.ones((4, 3), "float32"), np.ones((4, 1), "float32"))
    assert np.isnan(norms["d"]) and np.isnan(norms["o"])


# -- histograms -------------------------------------------------------------------------
def tensorboard_buckets(values, bins):
    from tensorboard.plugins.histogram import summary_v2  # (a test extra: never skipped)
    from tensorboard.util import tensor_util

    proto = summary_v2.histogram_pb("w", values, buckets=bins)
    return tensor_util.make_ndarray(proto.value[0].tensor)


@pytest.mark.parametrize(
    "values, bins",
    [
        (RNG.normal(size=5000), 30),
        (RNG.normal(size=(64, 3, 3, 8)).astype("float32"), 30),
        (RNG.integers(-3, 4, 1000), 7),  # values on bucket edges
        (np.full(50, 0.25), 30),  # all equal: every count in the last bucket
        (np.array([1e-8, 1.0]), 1),
    ],
)
def test_histogram_equals_tensorboards(values, bins):
    edges, counts = D.histogram(values, bins)
    tb = tensorboard_buckets(values, bins)
    np.testing.assert_array_equal(counts, tb[:, 2])
    np.testing.assert_allclose(edges[:-1], tb[:, 0], rtol=1e-12)
    np.testing.assert_allclose(edges[1:], tb[:, 1], rtol=1e-12)
    assert counts.sum() == np.size(values)


def test_histogram_in_chunks_counts_the_same(monkeypatch):
    values = RNG.normal(size=10_001)
    whole = D.histogram(values)
    monkeypatch.setattr(D, "CHUNK", 97)
    edges, counts = D.histogram(values)
    np.testing.assert_array_equal(counts, whole[1])
    np.testing.assert_array_equal(edges, whole[0])


def test_histogram_leaves_out_non_finite_values():
    edges, counts = D.histogram([1.0, np.nan, 3.0, np.inf], bins=2)
    assert counts.tolist() == [1, 1] and edges.tolist() == [1.0, 2.0, 3.0]
    assert D.histogram([np.nan], bins=3)[1].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="bins"):
        D.histogram([1.0], bins=0)


def test_percentile_bands_equal_tensorboards_distribution():
    from tensorboard.plugins.distribution import compressor

    for values in (RNG.normal(size=3000), RNG.exponential(size=500), np.full(10, 2.0)):
        edges, counts = D.histogram(values)
        buckets = np.stack([edges[:-1], edges[1:], counts], axis=1)
        want = [v for _, v in compressor.compress_histogram(buckets, D.BAND_BPS)]
        np.testing.assert_allclose(D.percentiles(edges, counts), want, rtol=1e-9, atol=1e-12)


# -- dead units and update ratios ---------------------------------------------------------
def test_relu_with_a_large_negative_bias_is_all_dead():
    model = keras.Sequential(
        [
            keras.Input((5,)),
            L.Dense(6, activation="relu", name="live"),
            L.Dense(4, activation="relu", name="dead"),
            L.Dense(2, name="out"),
        ]
    )
    model.get_layer("dead").bias.assign(np.full(4, -1e4, "float32"))
    kernel = np.zeros((6, 4), "float32")
    kernel[:, 2] = 1.0  # one unit still dies: the bias wins
    model.get_layer("dead").kernel.assign(kernel)
    model.get_layer("out").bias.assign(np.full(2, 0.5, "float32"))  # its inputs are all 0
    x = RNG.normal(size=(100, 5)).astype("float32")
    dead = D.dead_units(model, x, batch_size=32)
    assert dead["dead"] == 1.0
    assert dead["live"] < 1.0 and dead["out"] == 0.0
    model.get_layer("dead").bias.assign(np.array([-1e4, -1e4, 0, -1e4], "float32"))
    assert D.dead_units(model, np.abs(x))["dead"] == 0.75


def test_update_ratio_of_a_frozen_layer_is_zero():
    model = nested_model()
    model.get_layer("out").trainable = False
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = RNG.normal(size=(40, 6)).astype("float32"), RNG.integers(0, 3, 40)
    before = D.snapshot(model)
    fit(model, x, y)
    ratios = D.update_ratios(before, model)
    assert ratios["out"] == 0.0 and ratios["block/a"] > 0 and ratios["block"] > 0
    assert "out" not in D.gradient_norms(model, x, y)  # nothing to train there


# -- recorders ----------------------------------------------------------------------------
def test_thinning_log_stays_bounded_evenly_spread_with_the_newest():
    log = ThinningLog(capacity=50)
    for step in range(1, 100_001):
        if log.due(step):
            log.add(step, step)
    log.add(100_000, "end")  # training's end is always recorded
    steps = np.array(log.steps())
    assert 25 <= len(steps) <= 50 and steps[-1] == 100_000
    gaps = np.diff(steps[:-1])
    assert gaps.max() <= 2 * gaps.min()  # evenly spread over the whole run
    assert steps[0] <= 100_000 / 25


def test_probe_memory_is_bounded_over_a_long_synthetic_run(digits):
    x, y = digits
    state = nw.ModelState(nw.datasets.demo_model(), x[:40], y[:40])
    session = TrainingSession()
    probe = session.add_probe(DynamicsProbe(state.model, x[:8], y[:8], budget=1.0, capacity=16))
    shots = session.add_probe(InputSnapshots(state, budget=1.0, capacity=10, max_bytes=10**9))
    session.begin({"epochs": 1, "steps": 5000}, state.model)
    for step in range(5000):
        session.record_batch(step, {"loss": 1.0})
    session.end()
    assert len(probe.log) <= 16 and len(shots.log) <= 10
    assert probe.log.steps()[-1] == 5000 and shots.log.steps()[-1] == 5000
    assert probe.log.steps()[0] < 1000  # the early steps are still represented
    tight = InputSnapshots(state, capacity=10, max_bytes=1)
    assert tight._capacity_for(shots.log.last()) == 2  # a big recording keeps 2


def test_recording_never_changes_training():
    def run(record: bool):
        keras.utils.set_random_seed(3)
        i = keras.Input((8,))
        h = L.Dense(16, activation="relu", name="h")(i)
        h = L.BatchNormalization(name="bn")(h)
        h = L.Dropout(0.3, name="drop")(h)
        model = keras.Model(
            i, [L.Dense(3, activation="softmax", name="a")(h), L.Dense(1, name="b")(h)]
        )
        model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
        rng = np.random.default_rng(0)
        x = rng.normal(size=(96, 8)).astype("float32")
        y = [rng.integers(0, 3, 96), rng.normal(size=(96, 1)).astype("float32")]
        session = TrainingSession()
        if record:
            state = nw.ModelState(model, x, y)
            dyn = nw.TrainingDynamics(state, session, budget=1.0)
            dyn.recorder.dynamics.every = 1
        model.fit(
            x, y, epochs=2, batch_size=16, verbose=0, shuffle=True, callbacks=[session.callback]
        )
        logs = {k: session.store.series(k)[1].tolist() for k in session.store.names()}
        return (
            [np.asarray(w) for w in model.weights],
            logs,
            (len(dyn.recorder.dynamics.log) if record else 0),
        )

    plain, plain_logs, _ = run(False)
    recorded, recorded_logs, count = run(True)
    assert count >= 3  # it did record
    for a, b in zip(plain, recorded, strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit
    assert plain_logs == recorded_logs  # the per-output loss logs too


# -- the widget ---------------------------------------------------------------------------
@pytest.fixture
def trained(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:100], y[:100])
    dyn = nw.TrainingDynamics(state, budget=1.0)
    fit(model, x, y, callbacks=[dyn.callback], epochs=2, batch_size=16)  # 2 x 8 steps
    yield state, dyn
    dyn.close()


def test_views_draw_the_records_and_follow_the_layer(trained):
    state, dyn = trained
    views = (dyn, dyn.flow, dyn.ratios, dyn.weights, dyn.dead, dyn.replay)
    assert [v.error for v in views] == [""] * len(views)
    log = dyn.recorder.dynamics.log
    assert len(log) >= 3 and log.steps()[-1] == dyn.session.step == 16
    last = log.last()
    assert dyn.flow.layers == ("conv1", "conv2", "dense", "probs")
    assert dyn.flow.shown == tuple(last.gradients[n] for n in dyn.flow.layers)
    assert dyn.dead.layers[:2] == ("conv1", "conv2") and all(0 <= v <= 1 for v in dyn.dead.shown)
    assert dyn.weights.variable == "digits_cnn/conv1/kernel"
    assert dyn.weights.bands.shape == (len(log), len(D.BAND_BPS))
    assert np.all(np.diff(dyn.weights.bands, axis=1) >= -1e-6)  # min <= ... <= max
    assert dyn.replay.shape == (8, 8, 16) and dyn.replay.snapshot_steps[-1] == 16
    assert dyn.ratios.ratio is not None and dyn.ratios.ratio > 0
    state.layer = "dense"
    assert dyn.weights.variable == "digits_cnn/dense/kernel"
    assert dyn.replay.shape == (64,)
    picked = dyn.flow.chart.mark.selected
    assert picked == [dyn.flow.layers.index("dense")]
    assert [v.error for v in views] == [""] * len(views)
    assert dyn.ratios.chart.picked.y.tolist()[-2] == pytest.approx(
        [r.ratios.get("dense", np.nan) for _, r in log.items()][-2]
    )


def test_a_click_on_a_layer_selects_it_everywhere(trained):
    state, dyn = trained
    dyn.flow.chart._clicked(None, {"data": {"index": dyn.flow.layers.index("conv2")}})
    assert state.layer == "conv2"
    index = dyn.dead.layers.index("probs")
    dyn.dead.chart._clicked(None, {"data": {"index": index}})
    assert state.layer == "probs" and dyn.flow.chart.mark.selected == [3]
    dyn.ratios.per_layer._clicked(None, {"data": {"index": 0}})
    assert state.layer == "conv1" and dyn.dead.chart.mark.selected == [0]


def test_the_step_slider_replays_older_records(trained):
    state, dyn = trained
    steps = dyn.recorder.dynamics.log.steps()
    newest = dyn.flow.shown
    dyn.step = steps[0]
    assert dyn.flow.chart.figure.title.endswith(f"step {steps[0]}")
    assert dyn.flow.shown != newest
    first_shot = dyn.recorder.snapshots.log.items()[0]
    assert dyn.replay.message.value.find(f"step {first_shot[0]}") > 0
    dyn.newest.value = True  # a person ticks "newest"
    assert dyn.step is None and dyn.flow.shown == newest


def test_watching_another_input_starts_its_snapshots_again(trained):
    state, dyn = trained
    state.input_index = 5
    assert dyn.replay.watch.description == "Watch input 5" and not dyn.replay.watch.disabled
    dyn.replay.watch.click()
    assert dyn.replay.watched == 5 and dyn.replay.snapshot_steps == ()
    assert "no snapshot yet" in dyn.replay.message.value


def test_no_loss_no_labels_and_frozen_layers_are_said_not_crashed(digits):
    x, y = digits
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Flatten(name="flat"),
            L.Dense(8, activation="relu", name="h"),
            L.Dense(10, activation="softmax", name="out"),
        ]
    )
    state = nw.ModelState(model, x[:50])  # no labels
    dyn = nw.TrainingDynamics(state, budget=1.0)
    model.get_layer("h").trainable = False
    model.compile("sgd", "sparse_categorical_crossentropy")
    fit(model, x[:64], y[:64], callbacks=[dyn.callback])
    assert "labels" in dyn.flow.message.value and dyn.flow.error == ""
    assert "not moving (ratio 0): h" in dyn.ratios.message.value
    assert len(dyn.dead.layers) == 3
    dyn.close()


def test_nan_gradients_are_flagged(digits):
    x, y = digits
    state = nw.ModelState(nw.datasets.demo_model(), x[:40], y[:40])
    dyn = nw.TrainingDynamics(state, budget=1.0)
    layer = state.model.get_layer("dense")
    bias = np.asarray(layer.bias)
    bias[0] = np.nan
    layer.bias.assign(bias)
    session = dyn.session
    session.begin({"epochs": 1, "steps": 1}, state.model)
    session.record_batch(0, {"loss": np.nan})
    session.end()
    assert "NaN / Inf gradients" in dyn.flow.message.value
    assert len(dyn.flow.chart.bad.x) >= 1
    dyn.close()


def test_explore_has_a_dynamics_tab_on_the_plots_session(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    app = nw.explore(model, x[:60], y[:60])
    assert app.tabs.titles[:2] == ("Curves", "Dynamics")  # (all of them: test_attribution_view)
    assert app.dynamics.session is app.training.session
    probe = app.dynamics.recorder.dynamics
    assert not probe._warmed  # opening the dashboard compiles nothing for the tab
    app.tabs.selected_index = 1  # a person opens the Dynamics tab
    assert probe._warmed
    fit(model, x[:64], y[:64], callbacks=[app.training.callback])
    assert len(app.dynamics.recorder.dynamics.log) >= 1
    assert app.dynamics.flow.layers == ("conv1", "conv2", "dense", "probs")
    app.close()
    assert app.training.session.probes == []


def test_a_tiny_budget_records_less_often(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    dyn = nw.TrainingDynamics(nw.ModelState(model, x[:60], y[:60]), budget=1e-4)
    fit(model, x, y, callbacks=[dyn.callback], epochs=2, batch_size=8)  # 30 steps
    probe = dyn.recorder.dynamics
    assert len(probe.log) == 2  # the first record's cost holds off every other one
    assert probe.log.steps()[0] < 30
    assert probe.log.steps()[-1] == 30
    dyn.close()
    assert dyn.session.probes == []  # closed: nothing records any more
    handlers = [
        h for by in dyn.recorder._trait_notifiers.values() for hs in by.values() for h in hs
    ]
    assert handlers == []  # and no view follows the recorder


ZOO_CASES = (
    "text_transformer",
    "unet",
    "two_output",
    "dict_tabular",
    "custom_layers",
    "vae_subclassed",
)


@pytest.mark.parametrize("name", ZOO_CASES)
def test_every_kind_of_model_records_and_draws(name):
    from tests import zoo

    case = zoo.build(name)
    state = nw.ModelState(case.model, case.x, case.y, **case.kwargs)
    dyn = nw.TrainingDynamics(state, budget=1.0)
    session = dyn.session
    session.begin({"epochs": 1, "steps": 3}, state.model)
    for step in range(3):
        session.record_batch(step, {"loss": 1.0})
    session.end()
    rec = dyn.recorder.dynamics.log.last()
    views = (dyn, dyn.flow, dyn.ratios, dyn.weights, dyn.dead, dyn.replay)
    assert [v.error for v in views] == [""] * len(views), name
    with_weights = [n for n in state.layer_names if state.layer_info(n).layer.trainable_weights]
    if state.labels is not None:
        assert set(rec.gradients) == set(with_weights), name
        assert all(np.isfinite(v) and v >= 0 for v in rec.gradients.values()), rec.gradients
        assert dyn.flow.layers == tuple(n for n in state.layer_names if n in rec.gradients)
    else:  # no labels, or a loss only in a custom train_step (the VAE): said
        assert "labels" in dyn.flow.message.value or "no loss" in dyn.flow.message.value
    assert set(rec.histograms) >= {v.path for v in state.model.trainable_weights}
    if name != "vae_subclassed":  # a subclassed model's layers cannot be recorded
        assert rec.dead and dyn.replay.snapshot_steps[-1] == 3
    dyn.close()


def test_bad_arguments_and_models_are_not_kept_alive():
    import gc
    import weakref

    with pytest.raises(TypeError, match="ModelState"):
        nw.TrainingDynamics(nested_model())
    model = nested_model()
    x, y = RNG.normal(size=(8, 6)).astype("float32"), RNG.integers(0, 3, 8)
    D.gradient_norms(model, x, y)
    D.dead_units(model, x)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None  # the compiled helpers cached per model do not keep it


def test_an_output_without_a_loss_needs_no_labels():
    i = keras.Input((4,))
    a, b = L.Dense(2, name="a")(i), L.Dense(3, name="b")(i)
    model = keras.Model(i, [a, b])
    model.compile("sgd", ["mse", None])
    x = RNG.normal(size=(8, 4)).astype("float32")
    norms = D.gradient_norms(model, x, [np.zeros((8, 2), "float32"), None])
    assert norms["a"] > 0 and norms["b"] == 0.0  # b has no loss: no gradient
