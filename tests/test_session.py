"""The training session without widgets: runs, phases, steering, and probes that plug
in beside the live plot within their time budgets."""

from __future__ import annotations

import pytest

import nnwidgets as nw
from nnwidgets.testing import wait_for
from nnwidgets.training import Probe, TrainingSession


@pytest.fixture(autouse=True)
def no_fit_left_behind(monkeypatch):
    """Stop every background fit a test started, even when the test failed."""
    from nnwidgets.training.background import BackgroundFit

    jobs, start = [], BackgroundFit.start
    monkeypatch.setattr(BackgroundFit, "start", lambda self: jobs.append(self) or start(self))
    yield
    for job in jobs:
        job.stop()
        job.join(60)


class Steps(Probe):
    """Records the step of every call (a test double with a real session)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = []

    def record(self, session, event):
        self.calls.append((event, session.step))


class FakeClock:
    """``time.perf_counter`` that moves only when told to."""

    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now


def test_a_new_probe_plugs_into_the_plots_session(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    probe = plot.session.add_probe(Steps(every=3, budget=1e9))
    model.fit(x, y, epochs=2, batch_size=30, callbacks=[plot.callback], verbose=0)
    batches = [step for event, step in probe.calls if event == "batch"]
    assert batches == [1, 4, 7]  # 8 batches, at least 3 steps apart
    assert [e for e, _ in probe.calls if e != "batch"] == ["epoch", "epoch", "end"]
    assert len(plot.drawn("loss")[0]) == 8  # the plot drew as before


def test_a_probe_is_kept_within_its_budget(monkeypatch):
    import nnwidgets.training.session as module

    clock = FakeClock()
    monkeypatch.setattr(module, "time", clock)

    class Slow(Steps):
        def record(self, session, event):
            super().record(session, event)
            clock.now += 0.5  # each call costs half a second

    session = TrainingSession(interval=1e9)
    probe = session.add_probe(Slow(budget=0.1, events=("batch",)))
    session.begin({"epochs": 1, "steps": 50})
    start = clock.now
    for batch in range(50):
        clock.now += 1.0  # each batch trains for a second
        session.record_batch(batch, {"loss": 1.0})
    spent = 0.5 * len(probe.calls)
    assert 8 <= len(probe.calls) <= 10  # every ~5 s of training, not every batch
    assert spent <= 0.1 * (clock.now - start - spent) + 0.5


def test_a_failing_probe_never_stops_training(digits):
    x, y = digits

    class Broken(Probe):
        def record(self, session, event):
            raise RuntimeError("probe bug")

    session = TrainingSession()
    session.add_probe(Broken())
    model = nw.datasets.demo_model()
    model.fit(x, y, epochs=1, batch_size=60, callbacks=[session.callback], verbose=0)
    assert session.phase == "done" and len(session.store.series("batch/loss")[0]) == 2
    assert "Broken failed at step" in session.notice and "probe bug" in session.notice


def test_phases_and_steering_without_widgets(digits):
    x, y = digits
    session = TrainingSession(interval=0.0)
    phases = []
    session.observe(lambda change: phases.append(change["new"]), names="phase")
    with pytest.raises(RuntimeError, match="fit_in_background"):
        session.stop()
    job = session.fit_in_background(nw.datasets.demo_model(), x, y, epochs=1, batch_size=40)
    assert job.join(120) and job.error is None
    assert phases == ["training", "done"] and not session.steerable
    assert session.progress().startswith("run 1 done: epoch 1/1")
    with pytest.raises(RuntimeError, match="no background fit"):
        session.set_learning_rate(0.1)


def test_bad_probes_are_refused():
    with pytest.raises(ValueError, match="every"):
        Probe(every=0)
    with pytest.raises(ValueError, match="budget"):
        Probe(budget=-1)
    with pytest.raises(TypeError, match="add_probe takes a nnwidgets Probe"):
        TrainingSession().add_probe(lambda session, event: None)


def test_view_refresh_in_a_background_run_waits_an_interval(monkeypatch, digits):
    import nnwidgets.training.session as module

    x, y = digits
    clock = FakeClock()
    monkeypatch.setattr(module, "time", clock)
    state = nw.ModelState(nw.datasets.demo_model(), x[:3], y[:3])
    session = TrainingSession(interval=0.25)
    probe = session.add_probe(nw.training.ViewRefresh(state, budget=1e9))
    session.set_trait("steerable", True)  # as while a background fit runs
    session.begin({"epochs": 1, "steps": 100})
    for batch in range(100):
        clock.now += 0.05  # 20 batches a second
        session.record_batch(batch, {"loss": 1.0})
    assert 14 <= probe.count <= 21  # about every 0.25 s (5 or 6 batches), not every batch


def test_a_plot_steers_each_new_fit_even_after_one_that_failed_at_once(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    failed = plot.fit_in_background(model, x, y[:3], epochs=1)  # y does not match x
    assert failed.join(60) and failed.error is not None
    assert plot.controls.stop.disabled and "training failed" in plot.status.value
    job = plot.fit_in_background(model, x, y, epochs=300, batch_size=20)
    try:
        assert plot.session.steerable and not plot.controls.stop.disabled
        wait_for(lambda: len(plot.store.series("batch/loss")[0]) >= 1)  # as a person would
        plot.controls.pause.value = True
        assert plot.controls.pause.description == "Resume"
    finally:
        plot.controls.stop.click()
        assert job.join(60)
    # the run ended while paused: the next one starts with a Pause button again
    assert plot.controls.pause.description == "Pause" and not plot.controls.pause.value


def test_a_typed_rate_can_be_typed_back(digits):
    x, y = digits
    model = nw.datasets.demo_model()
    plot = nw.LiveTrainingPlot(interval=0.0)
    job = plot.fit_in_background(model, x, y, epochs=300, batch_size=20)
    try:
        plot.controls.pause.value = True
        plot.controls.lr.value = 0.0123
        plot.controls.lr.value = 0.001  # changed their mind, before the next batch
        assert "0.001 from the next batch" in plot.controls.message.value
        plot.controls.pause.value = False
        wait_for(lambda: len(plot.store.series("batch/loss")[0]) >= 3)
        assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.001)
    finally:
        job.stop()
        assert job.join(60)


def test_the_first_batch_is_drawn_at_once_then_throttled():
    plot = nw.LiveTrainingPlot(interval=3600.0)
    plot.session.begin({"epochs": 1})
    plot.session.record_batch(0, {"loss": 1.0})
    assert len(plot.drawn("loss")[0]) == 1  # the figure appears with the first point
    plot.session.record_batch(1, {"loss": 0.9})
    assert len(plot.drawn("loss")[0]) == 1  # then at most every interval
    plot.session.record_epoch(0, {"loss": 0.95})
    assert len(plot.drawn("loss")[0]) == 2  # epoch ends always draw
