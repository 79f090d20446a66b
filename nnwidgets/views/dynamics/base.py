"""What every training-dynamics view shares: it follows the state's layer and a
:class:`~nnwidgets.training.dynamics.DynamicsRecorder` (new records, the step shown)."""

from __future__ import annotations

import numpy as np

from ..base import ModelView


class DynamicsView(ModelView):
    """A view of recorded dynamics: redraws when the state's layer changes
    (:meth:`on_state`), when records arrive or the step shown changes.

    Parameters
    ----------
    state : ModelState
    recorder : DynamicsRecorder
        What is recorded (``TrainingDynamics.recorder``).
    """

    follows = ("layer",)
    _recorder_traits = ["updates", "step"]

    def __init__(self, state, recorder, **options):
        self.recorder = recorder
        super().__init__(state, **options)

    def _follow(self) -> None:
        super()._follow()
        self.recorder.observe(self._on_followed, names=self._recorder_traits)

    def _unfollow(self) -> None:
        super()._unfollow()
        self.recorder.unobserve(self._on_followed, names=self._recorder_traits)

    def pick(self, name: str) -> None:
        """A person clicked a layer in this view: select it everywhere."""
        if name in self.state.layer_names and name != self.state.layer:
            self.state.layer = name

    @property
    def log(self):
        return self.recorder.dynamics.log

    def series(self, field: str) -> tuple[np.ndarray, list[str], np.ndarray]:
        """``(steps, names, matrix)`` of one per-layer field of the records: a row per
        layer (in the state's layer order), NaN where a record lacks it."""
        items = self.log.items()
        names = [n for n in self.state.layer_names if any(n in getattr(r, field) for _, r in items)]
        matrix = np.full((len(names), len(items)), np.nan)
        for j, (_, rec) in enumerate(items):
            values = getattr(rec, field)
            for i, name in enumerate(names):
                if name in values:
                    matrix[i, j] = values[name]
        return np.array([s for s, _ in items], dtype=np.float64), names, matrix

    def at_step(self, field: str) -> tuple[int | None, list[str], np.ndarray]:
        """The step shown (the newest record with ``field`` at or before
        ``recorder.step``, else the first), and its per-layer values in layer order."""
        items = [(s, r) for s, r in self.log.items() if getattr(r, field)]
        if not items:
            return None, [], np.empty(0)
        want = self.recorder.step
        before = [item for item in items if want is None or item[0] <= want]
        step, rec = before[-1] if before else items[0]
        values = getattr(rec, field)
        names = [n for n in self.state.layer_names if n in values]
        return step, names, np.array([values[n] for n in names], dtype=np.float64)

    def waiting(self) -> str:
        return "nothing recorded yet: train the model with this widget's callback"
