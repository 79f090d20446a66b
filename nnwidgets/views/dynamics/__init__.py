"""Training dynamics: :class:`TrainingDynamics` and its views (gradient flow, update
ratios, weight distributions, dead units, a watched input)."""

from .flow import DeadUnits, GradientFlow, UpdateRatios
from .replay import InputReplay
from .weights import WeightDistribution
from .widget import TrainingDynamics

__all__ = [
    "DeadUnits",
    "GradientFlow",
    "InputReplay",
    "TrainingDynamics",
    "UpdateRatios",
    "WeightDistribution",
]
