"""Chrome traces (``--trace``): what the page's main thread did between t0 and t1."""

from __future__ import annotations

import json

TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "blink.user_timing",
    "v8",
]
_BUCKETS = {
    "script": (
        "FunctionCall",
        "EventDispatch",
        "TimerFire",
        "FireAnimationFrame",
        "RunMicrotasks",
        "EvaluateScript",
        "WebSocketReceive",
    ),
    "style+layout": (
        "UpdateLayoutTree",
        "ScheduleStyleRecalculation",
        "RecalculateStyles",
        "Layout",
        "InvalidateLayout",
        "UpdateLayerTree",
        "IntersectionObserverController::computeIntersections",
    ),
    "paint": (
        "Paint",
        "PrePaint",
        "Layerize",
        "Commit",
        "UpdateLayer",
        "PaintImage",
        "CompositeLayers",
        "BeginCommitCompositorFrame",
        "Decode Image",
        "ImageDecodeTask",
    ),
}
_BUCKET_OF = {name: bucket for bucket, names in _BUCKETS.items() for name in names}


def _bucket(name: str) -> str:
    if name in _BUCKET_OF:
        return _BUCKET_OF[name]
    if "GC" in name or "marking" in name or "scavenge" in name.lower():
        return "gc"
    if name.startswith(("v8.", "V8.")):
        return "script"
    return "other"


def trace_windows(data: bytes) -> list[dict]:
    """Per switch (between the page's nnw-switch-start / -end marks): the renderer main
    thread's busy wall time, its CPU time, and self time by kind of work, in ms."""
    doc = json.loads(data)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    marks = [e for e in events if e.get("name") in ("nnw-switch-start", "nnw-switch-end")]
    if not marks:
        return []
    main = (marks[0]["pid"], marks[0]["tid"])
    starts = sorted(e["ts"] for e in marks if e["name"] == "nnw-switch-start")
    ends = sorted(e["ts"] for e in marks if e["name"] == "nnw-switch-end")
    spans = sorted(
        (e for e in events if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) == main),
        key=lambda e: (e["ts"], -e["dur"]),
    )
    out = []
    for a, b in zip(starts, ends, strict=False):
        busy = cpu = 0.0
        self_time: dict[str, float] = {}
        stack: list[tuple[float, str]] = []  # (end, bucket) of the open spans
        for e in spans:
            if e["ts"] >= b or e["ts"] + e["dur"] <= a:
                continue
            while stack and stack[-1][0] <= e["ts"]:
                stack.pop()
            dur = min(e["ts"] + e["dur"], b) - max(e["ts"], a)
            bucket = _bucket(e["name"])
            if stack:
                parent = stack[-1][1]
                self_time[parent] = self_time.get(parent, 0.0) - dur
            else:
                busy += dur
                cpu += e.get("tdur", e["dur"]) * dur / e["dur"] if e["dur"] else 0.0
            self_time[bucket] = self_time.get(bucket, 0.0) + dur
            stack.append((e["ts"] + e["dur"], bucket))
        row = {"busy": busy / 1000, "cpu": cpu / 1000}
        row.update({k: v / 1000 for k, v in self_time.items()})
        out.append(row)
    return out
