"""Widgets. Each view follows one contract (:mod:`~nnwidgets.views.base`): built from a
state plus options that are traits, it follows the traits it names, draws what pure
functions computed, shows its own errors, and stops following when closed.

- :mod:`~nnwidgets.views.pickers`: ``LayerPicker``, ``InputPicker``
- :mod:`~nnwidgets.views.weights`: ``WeightHeatmap``
- :mod:`~nnwidgets.views.activations`: ``ActivationExplorer`` (a click switches a channel off)
- :mod:`~nnwidgets.views.ablation`: ``AblationView``, what switching units off changes
- :mod:`~nnwidgets.views.attribution`: ``AttributionView``, why the model said that
- :mod:`~nnwidgets.views.dynamics`: ``TrainingDynamics`` and its views
- :mod:`~nnwidgets.views.training`: ``LiveTrainingPlot`` (draws a training session)
- :mod:`~nnwidgets.views.explorer`: ``Explorer`` and ``explore()``, all of them together
- :mod:`~nnwidgets.views.panels`, :mod:`~nnwidgets.views.scheduler`: shared drawing blocks
"""
