"""Pure computation: numpy and Keras in, numpy out; no widget anywhere in this package.

- :mod:`~nnwidgets.compute.graph`: the layer table and recording every layer's output
- :mod:`~nnwidgets.compute.activations`: the recordings, cached per weights and input
- :mod:`~nnwidgets.compute.data`: checking and slicing user data
- :mod:`~nnwidgets.compute.display`: weights and activations to pictures and statistics
- :mod:`~nnwidgets.compute.imaging`: downsampling, decimation, colour maps, PNG
- :mod:`~nnwidgets.compute.ablation`: units switched off, and what that changes

Attribution maps (Grad-CAM, saliency, ...) are in :mod:`nnwidgets.attribution`.
"""
