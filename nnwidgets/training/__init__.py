"""Training: one session owns the Keras callback, the runs, the metric store, steering
and probes; no widget in this package.

- :mod:`~nnwidgets.training.session`: :class:`TrainingSession`
- :mod:`~nnwidgets.training.probes`: :class:`Probe`, and :class:`ViewRefresh`
- :mod:`~nnwidgets.training.background`: :class:`BackgroundFit`, ``fit`` in a thread
- :mod:`~nnwidgets.training.metrics`: the metric store, smoothing, the epoch axis
"""

from .background import BackgroundFit
from .metrics import MetricStore
from .probes import Probe, ViewRefresh
from .session import TrainingSession

__all__ = ["BackgroundFit", "MetricStore", "Probe", "TrainingSession", "ViewRefresh"]
