"""Training metrics without widgets: a store that keeps every value, smoothing, the
epoch axis, time estimates and export.

>>> s = MetricStore()
>>> s.add("loss", 1, 0.5); s.add("loss", 2, 0.25)
>>> s.series("loss")
(array([1., 2.]), array([0.5 , 0.25]))
"""

from __future__ import annotations

import csv
import math
import os
import time

import numpy as np


class MetricStore:
    """Every logged value, by series name (``loss``, ``val_loss``, ``batch/loss``, ``lr``),
    each tagged with the run it came from. Nothing is dropped; views read copies.

    Arrays grow by doubling, so adding a value costs O(1) amortised.
    """

    def __init__(self):
        self._data: dict[str, list] = {}  # name -> [steps, values, runs, count]
        self._runs: set[int] = set()
        self._bad: dict[str, int] = {}  # name -> how many non-finite values
        self._times: dict[str, list[float]] = {}  # name -> wall time of each value
        self.current_run = 1

    def add(
        self,
        name: str,
        step: float,
        value: float,
        run: int | None = None,
        wall: float | None = None,
    ) -> None:
        """Store one value of series ``name`` at ``step`` (of ``run``, default the
        current one; ``wall``: when it was logged, default now)."""
        run = self.current_run if run is None else int(run)
        entry = self._data.get(name)
        if entry is None:
            entry = self._data[name] = [np.empty(64), np.empty(64), np.empty(64, np.int32), 0]
        n = entry[3]
        if n == len(entry[0]):
            for i in range(3):
                entry[i] = np.concatenate([entry[i], np.empty_like(entry[i])])
        entry[0][n], entry[1][n], entry[2][n] = step, value, run
        entry[3] = n + 1
        self._times.setdefault(name, []).append(time.time() if wall is None else wall)
        self._runs.add(run)
        if not math.isfinite(value):
            self._bad[name] = self._bad.get(name, 0) + 1

    def bad_count(self, name: str) -> int:
        """How many non-finite values a series holds."""
        return self._bad.get(name, 0)

    def names(self) -> list[str]:
        return list(self._data)  # a copy: the training thread may add series meanwhile

    def series(self, name: str, run: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the steps and values of one series (of one run, or of all)."""
        entry = self._data.get(name)
        if entry is None:
            return np.empty(0), np.empty(0)
        n = entry[3]
        xs, ys = entry[0][:n], entry[1][:n]
        if run is None:
            return xs.copy(), ys.copy()
        keep = entry[2][:n] == run
        return xs[keep], ys[keep]

    def last(self, name: str, run: int | None = None) -> float | None:
        """The last value of a series (None if it has none, or none from ``run``)."""
        entry = self._data.get(name)
        if not entry or not entry[3] or (run is not None and entry[2][entry[3] - 1] != run):
            return None
        return float(entry[1][entry[3] - 1])

    def runs(self) -> list[int]:
        return sorted(self._runs)

    def __len__(self) -> int:
        return sum(entry[3] for entry in list(self._data.values()))

    def rows(self):
        """``(run, series, step, value)`` for every stored value."""
        for name, (xs, ys, runs, n) in list(self._data.items()):
            for i in range(n):
                yield int(runs[i]), name, float(xs[i]), float(ys[i])

    def to_csv(self, path) -> None:
        """Write every value as CSV: ``run,series,step,value``."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["run", "series", "step", "value"])
            writer.writerows(self.rows())

    def wall_times(self, name: str, run: int | None = None) -> np.ndarray:
        """When each value of a series was logged (seconds since the epoch)."""
        entry = self._data.get(name)
        if entry is None:
            return np.empty(0)
        n = entry[3]
        walls = np.asarray(self._times[name][:n], dtype=np.float64)
        return walls if run is None else walls[entry[2][:n] == run]

    def to_tensorboard(self, logdir) -> list[str]:
        """Write every value as TensorBoard event files, as Keras' ``TensorBoard``
        callback lays them out: ``run_N/train`` (``batch_<m>`` per step,
        ``epoch_<m>`` per epoch, ``learning_rate``) and ``run_N/validation``
        (``epoch_<m>``), with the times they were logged. Returns the files written.

        TensorBoard, tbparse, :class:`~nnwidgets.RunComparison` and
        :meth:`LiveTrainingPlot.follow <nnwidgets.LiveTrainingPlot.follow>` read them.

        >>> import tempfile
        >>> s = MetricStore()
        >>> s.add("batch/loss", 1, 0.9); s.add("loss", 1, 0.9); s.add("val_loss", 1, 1.1)
        >>> [p.split("/")[-2] for p in s.to_tensorboard(tempfile.mkdtemp())]
        ['train', 'train', 'validation']
        """
        from ..logs import write_scalars

        written = []
        for name in self.names():
            for run in self.runs():
                steps, values = self.series(name, run)
                if not len(steps):
                    continue
                walls = self.wall_times(name, run)
                folder, tag = _tensorboard_place(name)
                if tag.startswith("epoch_"):  # Keras counts epochs, not steps
                    steps = np.arange(len(steps))
                path = os.path.join(os.fspath(logdir), f"run_{run}", folder)
                written.append(write_scalars(path, tag, steps, values, walls))
        return written

    def to_dataframe(self):
        """Every value as a pandas DataFrame (columns run, series, step, value)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("to_dataframe needs pandas: pip install pandas") from err
        return pd.DataFrame(list(self.rows()), columns=["run", "series", "step", "value"])


def _tensorboard_place(name: str) -> tuple[str, str]:
    """The (folder, tag) Keras' TensorBoard callback gives a series of the store."""
    if name.startswith("batch/"):
        return "train", "batch_" + name.removeprefix("batch/")
    if name == "lr":
        return "train", "learning_rate"
    if name.startswith("val_"):
        return "validation", "epoch_" + name.removeprefix("val_")
    return "train", "epoch_" + name


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average, as TensorBoard smooths scalars.

    Non-finite values stay as they are and do not enter the average, as in TensorBoard,
    so that one NaN does not hide the rest of the curve.

    >>> ema(np.array([1.0, 1.0, 1.0]), 0.9).tolist()
    [1.0, 1.0, 1.0]
    >>> ema(np.array([0.0, np.nan, 10.0]), 0.5).tolist()
    [0.0, nan, 6.666666666666667]
    """
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy()
    from scipy.signal import lfilter

    weight = min(float(weight), 0.999)
    out = values.copy()
    finite = np.isfinite(values)
    x = values[finite]
    num = lfilter([1.0 - weight], [1.0, -weight], x)
    debias = 1.0 - weight ** np.arange(1, len(x) + 1)
    out[finite] = num / debias
    return out


def to_epochs(
    steps: np.ndarray, boundaries: list[tuple[float, float]], steps_per_epoch: int | None = None
) -> np.ndarray:
    """Map global steps to (fractional) epochs, given ``(step, epoch)`` pairs at epoch
    ends (the first at the run's start), extrapolating with the last epoch's length or,
    within the first epoch, ``steps_per_epoch``.

    >>> to_epochs(np.array([5.0, 10.0, 15.0]), [(0, 0), (10, 1)]).tolist()
    [0.5, 1.0, 1.5]
    >>> to_epochs(np.array([105.0]), [(100, 2)], steps_per_epoch=10).tolist()
    [2.5]
    """
    steps = np.asarray(steps, dtype=np.float64)
    if not boundaries:
        return steps * 0.0
    if len(boundaries) < 2:
        s0, e0 = boundaries[0]
        return e0 + (steps - s0) / steps_per_epoch if steps_per_epoch else steps * 0.0 + e0
    s, e = np.array(boundaries, dtype=np.float64).T
    out = np.interp(steps, s, e)
    slope = (e[-1] - e[-2]) / max(s[-1] - s[-2], 1e-12)
    beyond = steps > s[-1]
    out[beyond] = e[-1] + (steps[beyond] - s[-1]) * slope
    return out


def eta_seconds(done: int, total: int | None, elapsed: float) -> float | None:
    """Seconds left at the rate so far, or None when it cannot be told.

    >>> eta_seconds(25, 100, 10.0)
    30.0
    """
    if not total or done <= 0 or elapsed <= 0 or done >= total:
        return None
    return (total - done) * elapsed / done


def duration(seconds: float | None) -> str:
    """``12 s``, ``3 min 20 s``, ``1 h 05 min`` (empty for None).

    >>> duration(200)
    '3 min 20 s'
    """
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
