"""Python-side cost of a click: layer switch, input switch, bytes sent, vs a forward pass.

Run with ``make bench``. Prints one table; figures go into the issue notes, never into
tests. Everything is measured side by side in one process (ratios, not absolutes).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench(name: str, model, x, n_inputs: int = 8) -> dict:
    import nnwidgets as nw
    from nnwidgets.testing import recording_comms

    one = x[:1]
    model(one)  # warm up
    forward = _median_ms(lambda: model(one), 9)
    import tensorflow as tf

    compiled = tf.function(lambda t: model(t, training=False))
    compiled(one)  # trace outside timing
    forward_compiled = _median_ms(lambda: compiled(one), 9)
    with recording_comms() as log:
        app = nw.explore(model, x)
        state = app.state
        layer_ms, layer_bytes = [], []
        for layer in state.layer_names:
            mark = len(log)
            t = time.perf_counter()
            state.layer = layer
            layer_ms.append((time.perf_counter() - t) * 1000)
            layer_bytes.append(log.bytes(mark))
        state.layer = state.layer_names[len(state.layer_names) // 2]
        input_ms, input_bytes, record_ms = [], [], []
        for i in range(1, n_inputs):
            t = time.perf_counter()
            state.activations.get(state.inputs, i, state.weights_key())  # the recording pass
            record_ms.append((time.perf_counter() - t) * 1000)
        state.refresh()  # drop the cache again so each input switch is a fresh one
        for i in range(1, n_inputs):
            mark = len(log)
            t = time.perf_counter()
            state.input_index = i
            input_ms.append((time.perf_counter() - t) * 1000)
            input_bytes.append(log.bytes(mark))
    return {
        "model": name,
        "layers": len(layer_ms),
        "forward ms: model(x) / tf.function": f"{forward:.1f} / {forward_compiled:.1f}",
        "layer switch ms (median / max)": f"{statistics.median(layer_ms):.1f} / {max(layer_ms):.1f}",
        "layer switch kB (max)": max(layer_bytes) / 1000,
        "recording pass / forward": statistics.median(record_ms) / forward,
        "recording pass / compiled forward": statistics.median(record_ms) / forward_compiled,
        "input switch ms (median)": statistics.median(input_ms),
        "input switch / forward": statistics.median(input_ms) / forward,
        "input switch / compiled forward": statistics.median(input_ms) / forward_compiled,
        "input switch kB (max)": max(input_bytes) / 1000,
    }


def main(argv: list[str]) -> None:
    import keras

    import nnwidgets as nw

    rng = np.random.default_rng(0)
    x, _ = nw.datasets.load_digits(16)
    rows = [bench("digits CNN", nw.datasets.demo_model(), x)]
    for side in (96, 224) if "--full" in argv else (96,):
        model = keras.applications.MobileNetV2(weights=None, input_shape=(side, side, 3))
        xm = rng.random((8, side, side, 3)).astype("float32")
        rows.append(bench(f"MobileNetV2 {side}x{side}", model, xm))
    for row in rows:
        print()
        for key, value in row.items():
            text = f"{value:.2f}" if isinstance(value, float) else str(value)
            print(f"  {key:34s} {text}")


if __name__ == "__main__":
    main(sys.argv[1:])
