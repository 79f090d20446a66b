"""A training session fed from a TensorBoard log folder: a job started elsewhere (a
script, another machine, a multi-worker run) streams into the live plot.

Keras' ``TensorBoard`` callback writes ``batch_<m>`` at global steps and ``epoch_<m>``
at epoch numbers; the store keeps epoch values at the step where the epoch ended. So
an epoch value goes to the step of the last batch logged before it (by wall time), or
to ``epoch + 1`` when no batch values were logged.
"""

from __future__ import annotations

import threading

import numpy as np

from ..logs.follow import RunFollower


def store_name(tag: str, kind: str) -> str | None:
    """The store's name for a TensorBoard tag of a ``"train"`` or ``"val"`` folder
    (None: not kept, e.g. Keras' ``evaluation_<m>_vs_iterations`` copies).

    >>> store_name("batch_loss", "train"), store_name("epoch_loss", "val")
    ('batch/loss', 'val_loss')
    >>> store_name("epoch_learning_rate", "train"), store_name("my/metric", "train")
    ('lr', 'my/metric')
    """
    if tag.startswith("evaluation_") and tag.endswith("_vs_iterations"):
        return None
    if tag in ("learning_rate", "epoch_learning_rate"):
        return "lr" if kind == "train" else None
    if tag.startswith("batch_"):
        return ("batch/" if kind == "train" else "batch/val_") + tag.removeprefix("batch_")
    base = tag.removeprefix("epoch_")
    return f"val_{base}" if kind == "val" else base


class LogFeed:
    """Copies what a :class:`~nnwidgets.logs.follow.RunFollower` reads into a
    :class:`~nnwidgets.training.TrainingSession`'s store, each experiment a run of its
    own; call it (or let the follower's ``version`` call it) after each poll.

    Parameters
    ----------
    session : TrainingSession
    follower : RunFollower
    on_fed : callable, optional
        Called with the store's run numbers that got values.
    """

    def __init__(self, session, follower: RunFollower, on_fed=None):
        self.session = session
        self.follower = follower
        self.on_fed = on_fed
        self.fed: dict[tuple[str, str], int] = {}  # (run, tag) -> values copied
        self.run_ids: dict[str, int] = {}  # experiment -> the store's run number
        self._cursor = 0
        self._lock = threading.Lock()  # the poll thread and a reload() may feed at once

    def __call__(self, _change=None) -> set[int]:
        with self._lock:
            touched = self._feed_changes()
        if touched:
            self.session.publish()
            if self.on_fed is not None:
                self.on_fed(touched)
        return touched

    def _feed_changes(self) -> set[int]:
        polls, self._cursor = self.follower.changes_since(self._cursor)
        reader = self.follower.reader
        groups = self.follower.groups()
        if polls is None:
            changed = {(run, tag) for run in groups for tag in reader.tags(run)}
        else:
            changed = set().union(*(p.changed for p in polls)) if polls else set()
        touched: set[int] = set()
        # batch values first: epoch values are placed after them
        for run, tag in sorted(changed, key=lambda k: (not k[1].startswith("batch_"), k)):
            if run in groups and self._feed(run, tag, groups):
                touched.add(self.run_ids[groups[run][0]])
        return touched

    def _run_id(self, group: str) -> int:
        if group not in self.run_ids:
            taken = {*self.session.store.runs(), *self.run_ids.values()}
            self.run_ids[group] = max(taken, default=0) + 1
        return self.run_ids[group]

    def _feed(self, run: str, tag: str, groups: dict) -> bool:
        group, _, kind = groups[run]
        name = store_name(tag, kind)
        if name is None:
            return False
        steps, values, walls = self.follower.reader.series(run, tag)
        start = self.fed.get((run, tag), 0)
        if start > len(values):  # the file was rewritten: copy what is there again
            start = 0
        if start == len(values):
            return False
        rid = self._run_id(group)
        steps, values, walls = steps[start:], values[start:], walls[start:]
        epochs = tag.startswith("epoch_") or (kind == "val" and not tag.startswith("batch_"))
        if epochs:
            ended = steps.copy()  # the epoch numbers
            steps = self._epoch_steps(group, groups, steps, walls)
            for epoch, step in zip(ended.tolist(), steps.tolist(), strict=True):
                self.session.add_epoch_boundary(rid, step, epoch + 1)
        store = self.session.store
        for step, value, wall in zip(steps.tolist(), values.tolist(), walls.tolist(), strict=True):
            store.add(name, step, value, run=rid, wall=wall)
        self.fed[(run, tag)] = start + len(values)
        return True

    def _epoch_steps(self, group: str, groups: dict, epochs, walls) -> np.ndarray:
        """The global step at which each epoch ended: the last batch logged before it."""
        reader = self.follower.reader
        for run, (g, _, kind) in groups.items():
            if g != group or kind != "train":
                continue
            batch = [t for t in reader.tags(run) if t.startswith("batch_")]
            if batch:
                steps, _, times = reader.series(run, batch[0])
                order = np.argsort(times, kind="stable")
                at = np.searchsorted(times[order], walls, side="right") - 1
                return np.where(at >= 0, steps[order][np.maximum(at, 0)], 0).astype(np.float64)
        return np.asarray(epochs, dtype=np.float64) + 1.0
