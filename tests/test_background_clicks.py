"""A click while a model trains in the background waits for no forward pass but its own.

The training thread redraws the views (a ``ViewRefresh`` probe) with a recording pass
of its own; the views' lock must not be held across it, or a click waits for it (and a
slow click makes training wait). Asserted on who holds the lock and who waits for whom,
never on timings.
"""

from __future__ import annotations

import threading

import pytest

import nnwidgets as nw
from nnwidgets.compute.activations import ActivationCache
from nnwidgets.training import ViewRefresh


def held_by_another_thread(lock) -> bool:
    """Whether ``lock`` is held, asked from a thread that holds nothing."""
    got = []

    def attempt():
        ok = lock.acquire(blocking=False)
        if ok:
            lock.release()
        got.append(ok)

    probe = threading.Thread(target=attempt)
    probe.start()
    probe.join()
    return not got[0]


def watch_forward_passes(monkeypatch, state, during=None) -> list:
    """Record ``(thread name, lock held)`` for each recording pass of ``state``; call
    ``during()`` inside each pass."""
    passes = []
    recorder = state.activations.recorder

    def recording(batch):
        passes.append((threading.current_thread().name, held_by_another_thread(state.lock)))
        if during is not None:
            during()
        return recorder(batch)

    monkeypatch.setattr(state.activations, "recorder", recording)
    return passes


@pytest.fixture
def views(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    state = nw.ModelState(model, x[:8], y[:8])
    opened = [nw.ActivationExplorer(state), nw.WeightHeatmap(state)]
    yield model, state, opened[0], x[:200], y[:200]
    for view in opened:
        view.close()


def test_a_background_refresh_never_holds_the_lock_across_a_forward_pass(views, monkeypatch):
    model, state, view, x, y = views
    compiled = state.activations.recorder.compiled  # traced by the state, on its data
    traces = compiled.experimental_get_tracing_count()
    passes = watch_forward_passes(monkeypatch, state)
    plot = nw.LiveTrainingPlot(state, interval=0.0, view_budget=1e9)
    job = plot.fit_in_background(model, x, y, epochs=2, batch_size=50)
    assert job.join(120) and job.error is None
    assert plot.refresh_probe.count >= 3
    in_training = [held for name, held in passes if name == "nnwidgets-fit"]
    assert in_training and not any(in_training)  # the views redrew, recording outside
    assert compiled.experimental_get_tracing_count() == traces  # not traced again
    plot.close()


def test_a_click_draws_while_the_training_threads_refresh_is_recording(views, monkeypatch):
    model, state, view, x, y = views
    refresh_recording, clicked, click_came = threading.Event(), threading.Event(), []

    def hold_the_refresh():  # the training thread's pass lasts until the click is drawn
        if threading.current_thread().name == "trainer" and not refresh_recording.is_set():
            refresh_recording.set()
            click_came.append(clicked.wait(timeout=30))

    watch_forward_passes(monkeypatch, state, during=hold_the_refresh)
    drawn, render = [], view.render
    monkeypatch.setattr(view, "render", lambda: (render(), drawn.append(state.input_index)))
    session = nw.TrainingSession()
    probe = session.add_probe(ViewRefresh(state))
    trainer = threading.Thread(target=probe.record, args=(session, "batch"), name="trainer")
    trainer.start()
    try:
        assert refresh_recording.wait(timeout=60)
        state.input_index = 5  # the click: its own forward pass, then every view draws
        drawn_by_the_click = list(drawn)
    finally:
        clicked.set()
        trainer.join(60)
    assert click_came == [True]  # drawn while the refresh's forward pass still ran
    assert drawn_by_the_click == [5] and drawn == [5, 5]  # then the refresh drew
    assert probe.count == 1 and view.error == ""


def test_one_recording_per_weights_and_input_however_many_threads_ask(digits):
    x, _ = digits
    cache = ActivationCache(nw.datasets.demo_model())
    started, release, calls, released = threading.Event(), threading.Event(), [], []
    record = cache.recorder

    def slow(batch):
        calls.append(1)
        started.set()
        released.append(release.wait(timeout=30))
        return record(batch)

    cache.recorder = slow
    first = threading.Thread(target=cache.get, args=(x, 2, "k"))
    second = threading.Thread(target=cache.get, args=(x, 2, "k"))
    first.start()
    assert started.wait(timeout=60)
    second.start()  # asks for the recording being made: it waits for that one
    cache.recorder = record  # another input is made meanwhile, without waiting
    cache.get(x, 3, "k")
    release.set()
    first.join(60)
    second.join(60)
    assert released == [True]  # input 3 was recorded while input 2 still was
    assert calls == [1] and (("k", 2) in cache) and (("k", 3) in cache)
    assert cache.misses == 2 and cache.hits == 1
