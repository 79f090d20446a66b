"""Probes: what a training session records while ``fit`` runs, within a time budget.

A probe is called by :class:`~nnwidgets.training.TrainingSession` at batch ends (at most
every :attr:`Probe.every` steps), at epoch ends and once when training ends. The session
times every call and skips a probe while its last call cost more than its budget (a
share of the training time since that call): a slow probe is called less often, never
slowing training by more than its share. Training's end always calls it.

Write one by subclassing :class:`Probe` and adding it with
``session.add_probe(probe)``; nothing else changes:

>>> class CountSteps(Probe):
...     def __init__(self):
...         super().__init__(every=10, budget=0.01)
...         self.seen = []
...     def record(self, session, event):
...         self.seen.append((event, session.step))
"""

from __future__ import annotations


class Probe:
    """Something recorded while a model trains.

    Parameters
    ----------
    every : int
        Steps between two batch-end records, at least (1: every batch hook).
    budget : float
        Share of training time this probe may take (0.01 is 1 %).
    events : tuple of str
        Which of ``"batch"``, ``"epoch"`` and ``"end"`` it records at.
    """

    def __init__(self, every: int = 1, budget: float = 0.01, events=("batch", "epoch", "end")):
        if int(every) < 1:
            raise ValueError(f"a probe's every must be a step count >= 1, got {every}")
        if not budget >= 0:
            raise ValueError(f"a probe's budget must be a share >= 0, got {budget}")
        self.every = int(every)
        self.budget = float(budget)
        self.events = tuple(events)

    #: True when the probe must be called at the next batch end whatever its ``every``,
    #: gap and budget (it finishes a record there, e.g. the update of one step).
    pending = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def wants(self, session, event: str) -> bool:
        """Whether to record at this event (before the budget is checked)."""
        return event in self.events

    def share(self, session) -> float:
        """The share of training time allowed now (default: :attr:`budget`)."""
        return self.budget

    def gap(self, session) -> float:
        """Seconds at least between two batch-end records (default 0)."""
        return 0.0

    def record(self, session, event: str):
        """Record. Return None, or the cost in seconds to count instead of the time
        taken (e.g. 0 for a first call that compiles something)."""
        raise NotImplementedError


class ViewRefresh(Probe):
    """Redraws a state's views with the new weights (``state.refresh()``).

    In a foreground ``fit`` at epoch ends; in a background run, whose views are what a
    person watches, at batch ends too (at most every ``session.interval`` seconds),
    with five times the budget. The first redraw of a background run may compile the
    recording pass: it is not counted.

    >>> probe = ViewRefresh(state, budget=0.005)  # doctest: +SKIP
    >>> session.add_probe(probe)  # doctest: +SKIP
    """

    def __init__(self, state, budget: float = 0.005):
        super().__init__(every=1, budget=budget)
        self.state = state
        self.count = 0

    def wants(self, session, event: str) -> bool:
        return event != "batch" or session.steerable

    def share(self, session) -> float:
        return self.budget * (5 if session.steerable else 1)

    def gap(self, session) -> float:
        return session.interval

    def record(self, session, event: str):
        self.state.refresh()  # (holds no lock across the redraw: see ModelState.refresh)
        self.count += 1
        return 0.0 if session.steerable and self.count == 1 else None
