"""Every zoo model (tests/zoo.py): a click's Python-side cost and peak memory.

For each model, in a process of its own (so that peak memory is its own): one plain
forward pass ``model(x)`` of one sample, layer switches (every layer, or 60 spread
over a big model), input switches (new inputs: a recording pass each), and the peak
resident memory after imports and after the dashboard is built and clicked.

Run with ``make bench`` (or ``python -m benchmarks.bench_zoo [case ...]``). Figures go
into the issue notes, never into tests.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MAX_LAYERS = 60
N_INPUTS = 8


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def measure(name: str) -> dict:
    """One case, in this process."""
    import numpy as np

    import nnwidgets as nw
    from nnwidgets.compute import data as D
    from nnwidgets.compute import graph as G
    from tests import zoo

    base = _rss_mb()
    case = zoo.build(name)
    t = time.perf_counter()
    app = nw.explore(case.model, case.x, case.y, **case.kwargs)
    open_s = time.perf_counter() - t
    state = app.state
    one = G.cast_inputs(case.model, D.take(state.inputs, 0))
    case.model(one)  # warm up
    forward = statistics.median(_ms(lambda: case.model(one)) for _ in range(7))
    import tensorflow as tf

    compiled = tf.function(lambda t: case.model(t, training=False))
    compiled(one)  # traced outside the timing
    fast = statistics.median(_ms(lambda: compiled(one)) for _ in range(7))
    names = state.layer_names
    if len(names) > MAX_LAYERS:
        names = [names[i] for i in np.linspace(0, len(names) - 1, MAX_LAYERS).astype(int)]
    layer_ms = []
    for layer in names:

        def pick(layer=layer):
            state.layer = layer

        layer_ms.append(_ms(pick))
    input_ms = []
    for i in range(1, min(N_INPUTS, state.n_inputs)):

        def choose(i=i):
            state.input_index = i

        input_ms.append(_ms(choose))
    errors = {v: getattr(app, v).error for v in ("weights", "activations", "prediction", "input")}
    return {
        "model": name,
        "kinds": f"{'/'.join(state.input_kinds)} -> {'/'.join(state.output_kinds)}",
        "layers": len(state.layer_names),
        "open s": round(open_s, 2),
        "forward ms: eager / tf.function": f"{forward:.1f} / {fast:.1f}",
        "layer ms median": round(statistics.median(layer_ms), 1),
        "layer ms max": round(max(layer_ms), 1),
        "input ms median": round(statistics.median(input_ms), 1) if input_ms else None,
        "input ms max": round(max(input_ms), 1) if input_ms else None,
        "input / compiled forward": round(statistics.median(input_ms) / fast, 2)
        if input_ms
        else None,
        "peak MB": round(_rss_mb()),
        "peak MB over imports": round(_rss_mb() - base),
        "errors": {k: v for k, v in errors.items() if v},
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--case"]:
        print(json.dumps(measure(argv[1])))
        return
    from tests import zoo

    names = argv or list(zoo.SMALL + zoo.APPLICATIONS + zoo.LARGE)
    rows = []
    for name in names:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_zoo", "--case", name],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        line = proc.stdout.strip().splitlines()[-1:] if proc.returncode == 0 else []
        rows.append(json.loads(line[0]) if line else {"model": name, "failed": proc.stderr[-500:]})
        print(json.dumps(rows[-1]), flush=True)
    keys = [k for k in rows[0] if k not in ("errors",)]
    print()
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row.get(k, "")) for k in keys))


if __name__ == "__main__":
    main(sys.argv[1:])
