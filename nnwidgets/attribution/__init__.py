"""Why did the model say that? Attribution maps as pure functions: numpy in and out.

Every method explains a *score*: a model output before its final softmax or sigmoid
(tf-keras-vis' ``ReplaceToLinear``), for a class (``class_index``; None means each
input's predicted class, a list gives one class per input), summed over the positions
of a map output. Models are never changed; ``ablation={layer: units}`` explains the
model with those units switched off.

- :func:`grad_cam` (and Grad-CAM++ with ``plus_plus=True``): where in a layer's
  feature maps the evidence for a class lies.
- :func:`saliency` (SmoothGrad with ``smooth_samples``) and
  :func:`integrated_gradients`: per input value.
- :func:`token_attributions`: per token, over the embedding.
- :func:`occlusion`: the score's drop when a patch is hidden.
- :func:`scores`, :func:`spatial_layers`, :func:`embedding_layer`: the helpers views use.

>>> import keras, numpy as np
>>> from nnwidgets import attribution
>>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c"),
...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
>>> x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
>>> attribution.grad_cam(m, x, "c", class_index=1).shape
(2, 6, 6)
>>> attribution.saliency(m, x).shape
(2, 8, 8)
"""

from .layers import embedding_layer, spatial_layers
from .methods import (
    grad_cam,
    integrated_gradients,
    occlusion,
    saliency,
    scores,
    token_attributions,
)

__all__ = [
    "embedding_layer",
    "grad_cam",
    "integrated_gradients",
    "occlusion",
    "saliency",
    "scores",
    "spatial_layers",
    "token_attributions",
]
