"""The training session without widgets: runs, phases, steering, and probes that plug
in beside the live plot within their time budgets."""

from __future__ import annotations

import pytest

import nnwidgets as nw
from nnwidgets.training import Probe, TrainingSession


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
