"""What the embedding projector and the confusion matrix cost in the kernel, and what
they send, for 1,797 / 10,000 / 100,000 inputs (the digits, tiled with a little noise).

For each size, side by side in one process (median of ``--repeats``):

- ``features``: the selected layer's output over every input (batched, compiled);
- ``layer switch``: ``state.layer`` set to another layer until the projector has drawn
  (features, PCA, the PNG or the SVG points), its second visit apart (cached);
- ``recolour``: ``color_by`` switched between label and prediction;
- ``select``: ``state.selection`` set to 200 inputs (the PNG is redrawn);
- ``confusion``: the confusion matrix over every input after new weights;
- ``bytes``: what one layer switch sends to the browser (the PNG, or the SVG points'
  x, y and colours as bqplot's binary buffers).

The browser side (drawing SVG / WebGL / PNG points) is measured by
``benchmarks/bench_projector_browser.py``.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_projector              # about 2 minutes
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks import median_ms  # noqa: E402


def _data(n: int):
    import nnwidgets as nw

    x, y = nw.datasets.load_digits()
    reps = -(-n // len(x))
    rng = np.random.default_rng(0)
    xs = np.concatenate([x] * reps)[:n]
    xs = np.clip(xs + rng.normal(0, 0.03, xs.shape).astype(np.float32), 0, 1)
    return xs, np.concatenate([y] * reps)[:n]


def _sent(view) -> int:
    if view.drawn_as == "png":
        return len(bytes(view.picture.image.value))
    s = view.scatter
    return sum(np.asarray(a).nbytes for a in (s.x, s.y, s.color) if a is not None)


def _measure(model, n: int, repeats: int, cap: int) -> dict:
    import nnwidgets as nw
    from nnwidgets.compute.population import Population
    from nnwidgets.views.confusion import ConfusionMatrix
    from nnwidgets.views.projector import EmbeddingProjector

    x, y = _data(n)
    model.fit(x[:1000], y[:1000], epochs=1, verbose=0)
    state = nw.ModelState(model, x, y)
    view = EmbeddingProjector(state, max_points=cap)
    conf = ConfusionMatrix(state)
    population = Population.of(state)

    def features():
        population._cache.clear()
        population.features("pool")

    def switch():
        population._cache.clear()
        view._projections.clear()
        state.layer = "dense" if state.layer != "dense" else "conv2"

    def recolour():
        view.color_by = "prediction" if view.color_by != "prediction" else "label"

    picks = iter(range(10**6))

    def select():  # 200 other inputs each time: the PNG is drawn again
        start = next(picks) % 7
        state.selection = tuple(range(start, min(n, 200 * 7), 7))

    row = {
        "n": n,
        "features ms": median_ms(features, repeats),
        "layer switch ms": median_ms(switch, repeats),
        "recolour ms": median_ms(recolour, repeats),
        "select ms": median_ms(select, repeats),
        "confusion ms": median_ms(state.refresh, repeats),
        "drawn as": view.drawn_as,
        "bytes": _sent(view),
    }
    assert view.error == "" and conf.error == "", (view.error, conf.error)
    view.close()
    conf.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1797, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import nnwidgets as nw

    model = nw.datasets.demo_model()
    rows = []
    for n in args.sizes:
        row = _measure(model, n, args.repeats, max(args.sizes))
        rows.append(row)
        print(row, flush=True)
    print()
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [
            f"{v:,.0f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v
            for v in r.values()
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
