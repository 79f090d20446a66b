"""Cost of recording training dynamics: share of ``fit`` time, and TensorBoard's histogram.

1. ``fit`` of the digits CNN (``nw.datasets.demo_model``, the 1797 digits, validation
   split 0.2, batch 32, verbose 0), side by side in one process: no callback,
   ``nw.TrainingDynamics`` at its default budget (probe batch from ``x[:200]``), and
   keras' ``TensorBoard(histogram_freq=1)``, with its default ``update_freq="epoch"`` and
   with ``update_freq="batch"`` (``--no-tb-batch``: not). Each fit trains a fresh model (same seed) after a one-epoch
   fit on 64 samples that traces its train and test functions outside the timing, and
   one unmeasured fit warms the process up first. Variants are interleaved (ABC ABC ...)
   and the median of ``--repeats`` is reported, with the median of the paired ratios
   (each fit over the plain fit of the same round). Inside a fit: the time spent in the
   callbacks' hooks, and for nnwidgets the time in each probe's ``record`` (its first
   call, which traces the probe's computation, apart) — the issue's goal is the
   recording's share of fit time <= 5 %. Widgets send to a recording comm (messages are
   serialized as for a kernel, and their bytes counted).
2. TensorBoard's histogram of ``--values`` float32 normal values:
   ``nnwidgets.dynamics.histogram(values, 30)`` vs
   ``tensorboard.plugins.histogram.summary_v2.histogram_pb("w", values, buckets=30)``,
   each in a fresh subprocess: median time of ``--repeats`` calls and the peak resident
   memory above the resident memory right after the array is made (the peak is reset
   there through /proc/self/clear_refs; ru_maxrss is reported too), and whether both give
   the same edges and counts.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_dynamics                 # about 3-5 minutes
    .venv/bin/python -m benchmarks.bench_dynamics --epochs 1 --repeats 1 --values 1000000

Tables are printed; results are appended as JSON lines to
tests/artifacts/bench_dynamics/results.jsonl. Figures go into the issue notes, never
into tests; on a shared machine compare the ratios of one run, not absolutes.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "artifacts" / "bench_dynamics"
HOOKS = tuple(
    f"on_{what}_{when}"
    for what in ("train", "test", "epoch", "train_batch", "test_batch")
    for when in ("begin", "end")
)
# Parts of a probe's record timed apart (those a probe has): where a first call goes.
PARTS = {
    "DynamicsProbe": ("_gradients", "_dead", "_histograms", "_finish"),
    "InputSnapshots": ("take",),
}
GOAL = 5.0  # % of fit time the recording may take (the goal)


# -- 1. share of fit time -------------------------------------------------------------


def _timed_hooks(callback, spent: list) -> object:
    """Time every hook of ``callback`` (train, test, epoch and batch ones) into ``spent``."""
    from benchmarks.bench_training import _timed

    return _timed(callback, spent, HOOKS)


def _timed(obj, name: str, clock: dict) -> None:
    """Wrap ``obj.name`` (on the instance): its calls, seconds, first call's seconds."""
    original = getattr(obj, name)

    def method(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent = time.perf_counter() - t
            if clock["calls"] == 0:
                clock["first_s"] = spent
            clock["calls"] += 1
            clock["s"] += spent

    setattr(obj, name, method)


def _timed_probes(session) -> tuple[dict, dict]:
    """Wrap each probe's ``record`` (per probe class) and the parts in :data:`PARTS`."""
    clocks: dict[str, dict] = {}
    parts: dict[str, dict] = {}
    for probe in session.probes:
        kind = type(probe).__name__
        _timed(probe, "record", clocks.setdefault(kind, {"calls": 0, "s": 0.0, "first_s": 0.0}))
        for name in PARTS.get(kind, ()):
            if callable(getattr(probe, name, None)):
                clock = parts.setdefault(f"{kind}.{name}", {"calls": 0, "s": 0.0, "first_s": 0.0})
                _timed(probe, name, clock)
    return clocks, parts


def _variants(tb_batch: bool) -> dict:
    out = {
        "no callback": None,
        "nnwidgets TrainingDynamics": "nnwidgets",
        "TensorBoard(histogram_freq=1)": "epoch",
    }
    if tb_batch:
        out["TensorBoard(histogram_freq=1, update_freq='batch')"] = "batch"
    return out


def _fit_once(kind, x, y, args) -> dict:
    """One fit of a fresh model with ``kind``'s callback; its seconds and what was inside."""
    import keras

    import nnwidgets as nw
    from nnwidgets.testing import recording_comms

    fit = dict(batch_size=args.batch_size, validation_split=0.2, verbose=0)
    model = nw.datasets.demo_model(args.seed)
    # Trace the train and test functions outside the timing, with a full and a partial
    # batch in both: the second shape makes TF trace a signature that fits any batch
    # size, so the timed fit traces nothing new.
    b = args.batch_size
    n = b + b // 2 + 1
    model.fit(
        x[:n],
        y[:n],
        epochs=1,
        batch_size=b,
        validation_data=(x[n : 2 * n], y[n : 2 * n]),
        verbose=0,
    )
    spent, row, logdir, dyn = [0.0], {}, None, None
    with recording_comms() as log:
        if kind is None:
            callbacks = []
        elif kind == "nnwidgets":
            state = nw.ModelState(model, x[:200], y[:200])
            dyn = nw.TrainingDynamics(state)
            row["probes"], row["parts"] = _timed_probes(dyn.session)
            callbacks = [dyn.callback]
        else:
            logdir = tempfile.mkdtemp(prefix="nnw-bench-tb-")
            callbacks = [keras.callbacks.TensorBoard(logdir, histogram_freq=1, update_freq=kind)]
        callbacks = [_timed_hooks(cb, spent) for cb in callbacks]
        mark = len(log)
        gc.collect()
        t = time.perf_counter()
        model.fit(x, y, epochs=args.epochs, callbacks=callbacks, **fit)
        row["fit_s"] = time.perf_counter() - t
        row["hooks_s"] = spent[0]
        row["sent_bytes"] = log.bytes(mark)
    if dyn is not None:
        probe, shots = dyn.recorder.dynamics, dyn.recorder.snapshots
        row.update(
            steps=dyn.session.step,
            records=len(probe.log),
            every=probe.every,
            record_cost_s=probe.cost,
            gap=probe.log.gap,
            snapshots=len(shots.log),
            snapshots_every=shots.every,
            snapshot_cost_s=shots.cost,
            notice=dyn.session.notice if dyn.session.notice_is_error else "",
        )
        dyn.close()
    if logdir is not None:
        row["logdir_bytes"] = sum(p.stat().st_size for p in Path(logdir).rglob("*") if p.is_file())
        shutil.rmtree(logdir, ignore_errors=True)
    return row


def overhead(args) -> dict:
    import nnwidgets as nw

    x, y = nw.datasets.load_digits()
    variants = _variants(args.tb_batch)
    t = time.perf_counter()
    _fit_once(None, x, y, args)  # the process's first fit: not measured
    print(f"warm-up fit {time.perf_counter() - t:.1f} s", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name, kind in variants.items():
            row = _fit_once(kind, x, y, args)
            runs[name].append(row)
            print(f"  round {r + 1}/{args.repeats} {name}: fit {row['fit_s']:.2f} s", flush=True)
    plain = [row["fit_s"] for row in runs["no callback"]]
    summary = {}
    for name, rows in runs.items():
        fits = [row["fit_s"] for row in rows]
        s = {
            "fit_s": statistics.median(fits),
            "fit_s_all": fits,
            "vs_plain_pct": 100 * (statistics.median(fits) / statistics.median(plain) - 1),
            "paired_ratio": statistics.median(f / p for f, p in zip(fits, plain, strict=True)),
            "hooks_pct": statistics.median(100 * row["hooks_s"] / row["fit_s"] for row in rows),
            "sent_kB": statistics.median(row["sent_bytes"] for row in rows) / 1000,
        }
        if "logdir_bytes" in rows[0]:
            s["logdir_kB"] = statistics.median(row["logdir_bytes"] for row in rows) / 1000
        if "probes" in rows[0]:
            s["probes"] = _probe_summary(rows)
            s["parts"] = {
                name: {
                    key: statistics.median(row["parts"][name][key] for row in rows)
                    for key in ("calls", "s", "first_s")
                }
                for name in rows[0]["parts"]
            }
            for key in ("steps", "records", "every", "gap", "snapshots", "snapshots_every"):
                s[key] = statistics.median(row[key] for row in rows)
            for key in ("record_cost_s", "snapshot_cost_s"):
                s[key] = statistics.median(row[key] for row in rows)
            s["notices"] = sorted({row["notice"] for row in rows if row["notice"]})
        summary[name] = s
    return {"samples": len(x), "variants": summary, "runs": runs}


def _probe_summary(rows: list[dict]) -> dict:
    """Per probe class and in all: median share of fit time, with and without the first
    call; median calls and seconds."""
    names = list(rows[0]["probes"])
    out = {}
    for name in [*names, "all probes"]:
        shares, steady, calls, secs, first = [], [], [], [], []
        for row in rows:
            clocks = row["probes"]
            pick = names if name == "all probes" else [name]
            s = sum(clocks[n]["s"] for n in pick)
            f = sum(clocks[n]["first_s"] for n in pick)
            firsts = sum(c["first_s"] for c in clocks.values())
            shares.append(100 * s / row["fit_s"])
            steady.append(100 * (s - f) / (row["fit_s"] - firsts))
            calls.append(sum(clocks[n]["calls"] for n in pick))
            secs.append(s)
            first.append(f)
        out[name] = {
            "share_pct": statistics.median(shares),
            "share_after_first_pct": statistics.median(steady),
            "calls": statistics.median(calls),
            "s": statistics.median(secs),
            "first_s": statistics.median(first),
        }
    return out


def print_overhead(result: dict, args) -> None:
    v = result["variants"]
    print(
        f"\n### fit: digits CNN, {result['samples']} samples (validation 0.2), "
        f"{args.epochs} epochs, batch {args.batch_size}, median of {args.repeats}\n"
    )
    print("| callback | fit (s) | vs plain | paired ratio | in hooks | in probes | sent (kB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s in v.items():
        probes = s.get("probes", {}).get("all probes")
        inside = f"{probes['share_pct']:.2f} %" if probes else "–"
        print(
            f"| {name} | {s['fit_s']:.2f} | {s['vs_plain_pct']:+.1f} % | {s['paired_ratio']:.3f} "
            f"| {s['hooks_pct']:.2f} % | {inside} | {s['sent_kB']:.1f} |"
        )
    for name, s in v.items():
        if "logdir_kB" in s:
            print(f"\n{name}: {s['logdir_kB']:.0f} kB of event files per fit")
    for name, s in v.items():
        if "probes" not in s:
            continue
        print(f"\n### {name}: inside the probes (median of {args.repeats} fits)\n")
        print(
            "| probe | calls | total (ms) | first call (ms) | share of fit "
            "| share after the first call |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for probe, p in s["probes"].items():
            print(
                f"| {probe} | {p['calls']:.0f} | {1000 * p['s']:.1f} | {1000 * p['first_s']:.1f} "
                f"| {p['share_pct']:.2f} % | {p['share_after_first_pct']:.2f} % |"
            )
        for part, p in s["parts"].items():
            print(
                f"| · {part} | {p['calls']:.0f} | {1000 * p['s']:.1f} | {1000 * p['first_s']:.1f} "
                f"| {100 * p['s'] / s['fit_s']:.2f} % | |"
            )
        print(
            f"\nDynamicsProbe: {s['records']:.0f} records in {s['steps']:.0f} steps, "
            f"K = {s['every']:.0f} at the end (log gap {s['gap']:.0f}), "
            f"{1000 * s['record_cost_s']:.1f} ms per record; InputSnapshots: "
            f"{s['snapshots']:.0f} snapshots, K = {s['snapshots_every']:.0f}, "
            f"{1000 * s['snapshot_cost_s']:.1f} ms each"
        )
        share = s["probes"]["all probes"]["share_pct"]
        verdict = "within" if share <= GOAL else "ABOVE"
        print(f"recording's share of fit time {share:.2f} % ({verdict} the {GOAL:.0f} % goal)")
        for notice in s["notices"]:
            print(f"session notice: {notice}")


# -- 2. histogram of many values ------------------------------------------------------


def _status() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _child(method: str, n: int, repeats: int, bins: int, seed: int) -> dict:
    """In a fresh process: make the array, reset the peak, time ``repeats`` calls."""
    if method == "nnwidgets":
        from nnwidgets.dynamics import histogram

        def run(values):
            edges, counts = histogram(values, bins)
            return np.asarray(edges, float), np.asarray(counts, np.int64)
    else:
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb
        from tensorboard.util import tensor_util

        def run(values):
            summary = histogram_pb("w", values, buckets=bins)
            table = tensor_util.make_ndarray(summary.value[0].tensor)
            edges = np.append(table[:, 0], table[-1, 1])
            return edges, table[:, 2].astype(np.int64)

    run(np.arange(10, dtype=np.float32))  # imports and first-call costs outside
    values = np.random.default_rng(seed).standard_normal(n, dtype=np.float32)
    gc.collect()
    base = _status()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    base_hwm = _status()["VmHWM"]
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        edges, counts = run(values)
        times.append(time.perf_counter() - t)
    after = _status()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "method": method,
        "values": n,
        "array_bytes": values.nbytes,
        "s": statistics.median(times),
        "s_all": times,
        "rss_after_array": base["VmRSS"],
        "peak_extra_bytes": (after["VmHWM"] - base["VmRSS"]) if reset else None,
        "hwm_reset": reset,
        "hwm_before_call": base_hwm,
        "maxrss_extra_bytes": maxrss - base["VmRSS"],
        "maxrss_grew": maxrss > maxrss_before,
        "edges": edges.tolist(),
        "counts": counts.tolist(),
    }


def histograms(args) -> dict:
    out = {}
    for method in ("nnwidgets", "tensorboard"):
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.bench_dynamics",
            "--child",
            method,
            "--values",
            str(args.values),
            "--repeats",
            str(args.repeats),
            "--bins",
            str(args.bins),
            "--seed",
            str(args.seed),
        ]
        t = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-5:]
            out[method] = {"error": f"exit {done.returncode}: " + " / ".join(tail)}
        else:
            out[method] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {method} histogram process: {time.perf_counter() - t:.1f} s", flush=True)
    a, b = out["nnwidgets"], out["tensorboard"]
    if "counts" in a and "counts" in b:
        out["same_counts"] = a["counts"] == b["counts"]
        out["max_edge_diff"] = float(np.max(np.abs(np.subtract(a["edges"], b["edges"]))))
        out["total"] = sum(a["counts"])
    return out


def _mb(x) -> str:
    return "–" if x is None else f"{x / 2**20:.0f}"


def print_histograms(result: dict, args) -> None:
    print(
        f"\n### histogram of {args.values:,} float32 values, {args.bins} buckets, "
        f"median of {args.repeats}, each in a fresh process\n"
    )
    print("| function | time (s) | peak extra RSS (MB) | ru_maxrss extra (MB) | array (MB) |")
    print("|---|---:|---:|---:|---:|")
    names = {
        "nnwidgets": "nnwidgets.dynamics.histogram",
        "tensorboard": "tensorboard summary_v2.histogram_pb",
    }
    for method, name in names.items():
        r = result[method]
        if "error" in r:
            print(f"| {name} | {r['error']} | | | |")
            continue
        print(
            f"| {name} | {r['s']:.2f} | {_mb(r['peak_extra_bytes'])} "
            f"| {_mb(r['maxrss_extra_bytes']) if r['maxrss_grew'] else '– *'} "
            f"| {_mb(r['array_bytes'])} |"
        )
    if any(not result[m].get("maxrss_grew", True) for m in names):
        print("\n* ru_maxrss did not grow in the calls: its peak was reached before (imports)")
    a, b = result["nnwidgets"], result["tensorboard"]
    if "s" in a and "s" in b:
        mem = ""
        if a["peak_extra_bytes"] and b["peak_extra_bytes"]:
            mem = f", {b['peak_extra_bytes'] / a['peak_extra_bytes']:.0f}x the extra memory"
        print(f"\nTensorBoard / nnwidgets: {b['s'] / a['s']:.2f}x the time{mem}")
    if "same_counts" in result:
        same = "identical" if result["same_counts"] else "DIFFERENT"
        print(
            f"counts {same} ({result['total']:,} values counted), "
            f"edges differ by at most {result['max_edge_diff']:.3g}"
        )


# -- main --------------------------------------------------------------------------


def _save(section: str, result: dict, args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    line = {
        "section": section,
        "time": datetime.datetime.now().isoformat(timespec="seconds"),
        "label": args.label,
        "args": {k: v for k, v in vars(args).items() if k != "child"},
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "result": result,
    }
    with open(OUT / "results.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per fit (5)")
    parser.add_argument("--batch-size", type=int, default=32, help="(32)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of fits, calls (3)")
    parser.add_argument(
        "--values", type=int, default=20_000_000, help="values of the histogram (20M)"
    )
    parser.add_argument("--bins", type=int, default=30, help="histogram buckets (30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-tb-batch",
        dest="tb_batch",
        action="store_false",
        help="leave out TensorBoard with update_freq='batch'",
    )
    parser.add_argument("--skip-fit", action="store_true", help="only the histogram")
    parser.add_argument("--skip-histogram", action="store_true", help="only the fits")
    parser.add_argument("--label", default="", help="names the run in results.jsonl")
    parser.add_argument("--child", choices=["nnwidgets", "tensorboard"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.epochs < 1 or args.values < 1:
        parser.error("--repeats, --epochs and --values must be >= 1")
    if args.child:
        result = _child(args.child, args.values, args.repeats, args.bins, args.seed)
        print(json.dumps(result))
        return 0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    if not args.skip_fit:
        result = overhead(args)
        _save("fit", result, args)
        print_overhead(result, args)
    if not args.skip_histogram:
        result = histograms(args)
        _save("histogram", result, args)
        print_histograms(result, args)
    print(f"\nresults appended to {OUT.relative_to(ROOT) / 'results.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
