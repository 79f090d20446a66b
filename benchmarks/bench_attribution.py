"""Cost of the attribution maps, as ratios to the model's own passes, beside tf-keras-vis.

For each model (the digits CNN, MobileNetV2 96×96 with ``weights=None``), side by side in
one process, median of ``--repeats`` interleaved rounds, one input:

- ``forward``: one compiled forward pass (``tf.function(model(x, training=False))``), the
  unit of the issue's Grad-CAM goal (≤ 3×);
- ``forward+backward``: the same pass and the gradient of one class score with respect to
  the input (compiled), the unit for SmoothGrad and integrated gradients;
- ``grad_cam``: ``nnwidgets.attribution.grad_cam`` (its first call, which traces, apart);
- ``tf-keras-vis Gradcam``: ``Gradcam(model, model_modifier=ReplaceToLinear(),
  clone=True)`` made once, then called (it builds a model per call);
- ``saliency``, ``smoothgrad (20)``, ``integrated gradients (50)``, ``occlusion``.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_attribution            # about 2 minutes
    .venv/bin/python -m benchmarks.bench_attribution --repeats 3 --skip-mobilenet

Results are printed and appended as JSON lines to
tests/artifacts/bench_attribution/results.jsonl; figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "artifacts" / "bench_attribution"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _models(skip_mobilenet: bool):
    import keras

    import nnwidgets as nw

    keras.utils.set_random_seed(0)
    x, _ = nw.datasets.load_digits(8)
    cnn = nw.datasets.demo_model()  # (functional: tf-keras-vis needs output_names)
    yield "digits CNN", keras.Model(cnn.inputs, cnn.outputs), x[:1]
    if not skip_mobilenet:
        model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
        image = np.random.default_rng(0).random((1, 96, 96, 3)).astype("float32")
        yield "MobileNetV2 96x96", model, image


def _passes(model, x):
    """Compiled forward, and forward+backward to the input, of the predicted class."""
    import tensorflow as tf

    forward = tf.function(lambda t: model(t, training=False))

    @tf.function
    def backward(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = model(t, training=False)
            score = tf.reduce_max(out, axis=-1)
        return tape.gradient(score, t)

    t = tf.constant(x)
    return (lambda: forward(t).numpy()), (lambda: backward(t).numpy())


def _tfkv(model, layer: str, cls: int):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    maker = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)

    def run(x):
        return np.asarray(
            maker(
                CategoricalScore([cls]),
                x,
                penultimate_layer=layer,
                seek_penultimate_conv_layer=False,
                expand_cam=False,
                normalize_cam=False,
            )
        )

    return run


def bench_model(name: str, model, x, repeats: int) -> dict:
    from nnwidgets import attribution as A

    layer = A.spatial_layers(model)[-1]
    cls = int(A.scores(model, x)[1][0])
    forward, backward = _passes(model, x)
    tfkv = _tfkv(model, layer, cls)
    variants = {
        "forward": forward,
        "forward+backward": backward,
        "grad_cam": lambda: A.grad_cam(model, x, layer),
        "tf-keras-vis Gradcam": lambda: tfkv(x),
        "saliency": lambda: A.saliency(model, x),
        "smoothgrad (20)": lambda: A.saliency(model, x, smooth_samples=20, seed=0),
        "integrated gradients (50)": lambda: A.integrated_gradients(model, x, steps=50),
        "occlusion": lambda: A.occlusion(model, x),
    }
    first = {k: _timed(fn) for k, fn in variants.items()}  # traces and warms up
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items():
            times[k].append(_timed(fn))
    median = {k: statistics.median(v) for k, v in times.items()}
    same = np.allclose(A.grad_cam(model, x, layer), tfkv(x), rtol=1e-3, atol=1e-6)
    return {
        "model": name,
        "layer": layer,
        "first": first,
        "median": median,
        "equal_to_tfkv": bool(same),
    }


def report(result: dict) -> None:
    med = result["median"]
    fwd, fb = med["forward"], med["forward+backward"]
    print(
        f"\n{result['model']} (Grad-CAM layer {result['layer']}; equal to tf-keras-vis: {result['equal_to_tfkv']})"
    )
    print(f"{'':28s}{'median ms':>10s}{'× forward':>11s}{'× fwd+bwd':>11s}{'first ms':>10s}")
    for k, v in med.items():
        print(
            f"{k:28s}{v * 1e3:10.1f}{v / fwd:11.2f}{v / fb:11.2f}{result['first'][k] * 1e3:10.0f}"
        )
    print(f"grad_cam vs tf-keras-vis: {med['tf-keras-vis Gradcam'] / med['grad_cam']:.1f}× faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-mobilenet", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    for name, model, x in _models(args.skip_mobilenet):
        result = bench_model(name, model, x, args.repeats)
        report(result)
        with open(OUT / "results.jsonl", "a") as f:
            f.write(json.dumps({"when": stamp, **result}) + "\n")


if __name__ == "__main__":
    main()
