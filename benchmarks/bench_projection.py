"""Projection time and trustworthiness: nnwidgets.projection beside scikit-learn's t-SNE.

Two data sets, one after another in one process:

- ``digits``: scikit-learn's 1,797 bundled 8×8 digits (64 features);
- ``10k``: the digits tiled to 10,000 samples with N(0, 0.5²) jitter (seeded).

For each: ``nnwidgets.projection.project`` with ``pca``, ``tsne`` (openTSNE, its default
threads; again with 2 threads when that differs) and ``umap`` (when umap-learn is
installed), and scikit-learn's ``TSNE(init="pca", random_state=0)`` (its OpenMP threads):
wall and CPU seconds, trustworthiness (``n_neighbors=5``), and t-SNE's speed-up over
scikit-learn's (the goal: ≥ 3× at equal trustworthiness). Then PCA of wide features,
10,000 × 2,000 (low rank plus noise): ours beside ``svd_solver="full"``, and how far apart.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_projection           # about 15 minutes
    .venv/bin/python -m benchmarks.bench_projection --quick   # no scikit-learn t-SNE on 10k

Shared machines make single timings noisy: ``--repeats`` takes the median, and the load
average is printed beside each row. Results are printed and appended as JSON lines to
tests/artifacts/bench_projection/results.jsonl.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "artifacts" / "bench_projection"


def _timed(fn, repeats: int) -> tuple[np.ndarray, float, float]:
    """The last result, median wall and median CPU seconds of ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def datasets() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits().data
    rng = np.random.default_rng(0)
    tiled = np.tile(digits, (6, 1))[:10_000]
    return {"digits": digits, "10k": tiled + rng.normal(scale=0.5, size=tiled.shape)}


def variants(name: str, quick: bool) -> dict:
    from sklearn.manifold import TSNE

    from nnwidgets.projection import _n_jobs, project

    out = {method: (lambda x, m=method: project(x, m, seed=0)) for method in ("pca", "tsne")}
    if _n_jobs() != 2 and _cores() >= 2:
        out["tsne n_jobs=2"] = lambda x: _with_n_jobs(2, lambda: project(x, "tsne", seed=0))
    if importlib.util.find_spec("umap") is not None:
        out["umap"] = lambda x: project(x, "umap", seed=0)
    if not (quick and name == "10k"):
        out["sklearn TSNE"] = lambda x: TSNE(init="pca", random_state=0).fit_transform(x)
    return out


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _with_n_jobs(n_jobs: int, fn):
    from nnwidgets import projection

    before, projection.N_JOBS = projection.N_JOBS, n_jobs
    try:
        return fn()
    finally:
        projection.N_JOBS = before


def bench_dataset(name: str, x: np.ndarray, quick: bool, repeats: int) -> dict:
    from nnwidgets.projection import trustworthiness

    rows = {}
    for method, fn in variants(name, quick).items():
        embedding, wall, cpu = _timed(lambda fn=fn: fn(x), repeats)
        rows[method] = {
            "wall": wall,
            "cpu": cpu,
            "trust": trustworthiness(x, embedding, n_neighbors=5),
            "load": os.getloadavg()[0],
        }
        print(f"  {name} {method}: {wall:.1f} s", flush=True)
    return {"data": name, "shape": list(x.shape), "rows": rows}


def bench_wide_pca(repeats: int) -> dict:
    """10,000 × 2,000 features of rank ~10 plus noise: ours beside the exact SVD."""
    from sklearn.decomposition import PCA

    from nnwidgets.projection import project

    rng = np.random.default_rng(0)
    basis = np.geomspace(10, 1, 10)[:, None] * rng.normal(size=(10, 2000))
    x = (rng.normal(size=(10_000, 10)) @ basis + rng.normal(size=(10_000, 2000))).astype("float32")
    ours, wall, _ = _timed(lambda: project(x, "pca"), repeats)
    exact, wall_full, _ = _timed(
        lambda: PCA(n_components=2, svd_solver="full").fit_transform(x), repeats
    )
    signs = np.sign(np.sum(ours * exact, axis=0))
    error = float(np.abs(ours - signs * exact).max() / np.abs(exact).max())
    return {"wall": wall, "wall_full": wall_full, "relative_error": error}


def report(result: dict) -> None:
    rows = result["rows"]
    print(f"\n{result['data']} {tuple(result['shape'])}")
    print(f"{'':16s}{'wall s':>9s}{'cpu s':>9s}{'trust':>9s}{'load':>7s}{'× faster':>10s}")
    sk = rows.get("sklearn TSNE")
    for method, r in rows.items():
        faster = f"{sk['wall'] / r['wall']:10.1f}" if sk and method.startswith("tsne") else ""
        print(
            f"{method:16s}{r['wall']:9.2f}{r['cpu']:9.2f}{r['trust']:9.4f}{r['load']:7.2f}{faster}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip sklearn's t-SNE on 10k")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-wide-pca", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    results = [bench_dataset(n, x, args.quick, args.repeats) for n, x in datasets().items()]
    for result in results:
        report(result)
    if not args.skip_wide_pca:
        wide = bench_wide_pca(args.repeats)
        results.append({"data": "pca 10000x2000", **wide})
        print(
            f"\nPCA 10,000 × 2,000: {wide['wall']:.2f} s (svd_solver='full' "
            f"{wide['wall_full']:.2f} s), max difference up to sign "
            f"{wide['relative_error']:.1e} of the largest coordinate"
        )
    with open(OUT / "results.jsonl", "a") as f:
        for result in results:
            f.write(json.dumps({"when": stamp, **result}) + "\n")


if __name__ == "__main__":
    main()
