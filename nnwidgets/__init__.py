"""nnwidgets: composable Jupyter widgets for seeing inside Keras models.

>>> import nnwidgets as nw
>>> x, y = nw.datasets.load_digits(50)
>>> app = nw.explore(nw.datasets.demo_model(), x, y)

Heavy modules (TensorFlow, bqplot) load on first use, so ``import nnwidgets`` is quick.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_LAZY = {
    "ModelState": "nnwidgets.state",
    "LayerPicker": "nnwidgets.views.pickers",
    "InputPicker": "nnwidgets.views.pickers",
    "PredictionView": "nnwidgets.views.predictions",
    "WeightHeatmap": "nnwidgets.views.weights",
    "ActivationExplorer": "nnwidgets.views.activations",
    "AblationView": "nnwidgets.views.ablation",
    "LiveTrainingPlot": "nnwidgets.views.training.plot",
    "View": "nnwidgets.views.base",
    "ModelView": "nnwidgets.views.base",
    "TrainingSession": "nnwidgets.training.session",
    "Probe": "nnwidgets.training.probes",
    "BackgroundFit": "nnwidgets.training.background",
    "Explorer": "nnwidgets.views.explorer",
    "explore": "nnwidgets.views.explorer",
    "datasets": "nnwidgets.datasets",
    "dynamics": "nnwidgets.dynamics",
    "TrainingDynamics": "nnwidgets.views.dynamics",
    "AttributionView": "nnwidgets.views.attribution",
    "EmbeddingProjector": "nnwidgets.views.projector",
    "ConfusionMatrix": "nnwidgets.views.confusion",
    "NeuronView": "nnwidgets.views.neurons",
    "DataExplorer": "nnwidgets.views.data_explorer",
    "Gallery": "nnwidgets.views.gallery",
    "projection": "nnwidgets.projection",
    "ModelGraph": "nnwidgets.views.model_graph",
    "LayerTable": "nnwidgets.views.layer_table",
    "AttentionView": "nnwidgets.views.attention",
    "structure": "nnwidgets.structure",
    "attention": "nnwidgets.attention",
    "RunComparison": "nnwidgets.views.runs",
    "ParallelCoordinates": "nnwidgets.views.parallel",
    "logs": "nnwidgets.logs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'nnwidgets' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__.endswith(name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
