"""The figures of the live training plot: colours, legend, marks, and closing them."""

from __future__ import annotations

import bqplot as bq

from ..panels import figure

# (train, validation) colours of runs 1, 2, 3 ...; readable on light and dark pages
RUN_COLORS = [
    ("#4c78a8", "#e6550d"),
    ("#2ca02c", "#9467bd"),
    ("#8c6d31", "#d62728"),
    ("#17a2b8", "#b8860b"),
    # more runs (a comparison of many): each pair a hue and a darker or warmer partner
    ("#7f7f7f", "#393b79"),
    ("#bcbd22", "#843c39"),
    ("#1f77b4", "#ff7f0e"),
    ("#8c564b", "#e377c2"),
    ("#5254a3", "#ad494a"),
    ("#637939", "#7b4173"),
]
BAD_COLOR = "#e0218a"


def run_colors(run: int) -> tuple[str, str]:
    return RUN_COLORS[(run - 1) % len(RUN_COLORS)]


def legend_html(runs: list[int]) -> str:
    def swatch(color, text, mark="\u25cf\u2500"):
        return f'<span><b style="color:{color}">{mark}</b> {text}</span>'

    parts = []
    for run in runs or [1]:
        train, val = run_colors(run)
        name = f"run {run}: " if len(runs) > 1 else ""
        parts.append(swatch(train, f"{name}train, per batch", "\u2500\u2500"))
        parts.append(swatch(train, f"{name}train, epoch"))
        parts.append(swatch(val, f"{name}validation, epoch"))
    parts.append(swatch(BAD_COLOR, "NaN / Inf", "\u2716"))
    return (
        '<div style="font-size:12px;display:flex;flex-wrap:wrap;gap:4px 16px">'
        + "".join(parts)
        + "</div>"
    )


def new_figure(metric: str, log: bool, epoch_axis: bool) -> dict:
    """A figure for one metric (``lr``: the learning rate), with a mark for NaN / Inf
    crosses; runs get their marks from :func:`add_run_marks`."""
    scales = {"x": bq.LinearScale(allow_padding=False)}
    scales["y"] = bq.LogScale() if log else bq.LinearScale()
    x_label = "epoch" if epoch_axis else "step (batches)"
    axes = [
        bq.Axis(scale=scales["x"], label=x_label, tick_format="~s"),
        bq.Axis(
            scale=scales["y"],
            label="learning rate" if metric == "lr" else metric,
            orientation="vertical",
            tick_format=".2~e" if metric == "lr" else ".3~g",
        ),
    ]
    bad = bq.Scatter(
        x=[],
        y=[],
        scales=scales,
        marker="cross",
        colors=[BAD_COLOR],
        default_size=60,
        tooltip=bq.Tooltip(fields=["x"], labels=["NaN / Inf at"]),
    )
    title = "learning rate" if metric == "lr" else metric
    fig = figure(title, [bad], axes, width="440px", height="300px")
    return {"figure": fig, "scales": scales, "runs": {}, "bad": bad}


def add_run_marks(fig: dict, run: int) -> dict:
    """The marks of one run in a figure, in the run's colours."""
    train, val = run_colors(run)
    line, points = mark_makers(fig)
    if fig["figure"].title == "learning rate":
        marks = {"train": line(train, stroke_width=2, interpolation="step-after")}
    else:  # the smoothed line is made when smoothing is first asked for
        marks = {
            "batch": line(train, opacities=[0.8]),
            "train": line(train, stroke_width=2.5),
            "val": line(val, stroke_width=2.5),
            "train_points": points(train),
            "val_points": points(val),
        }
    fig["runs"][run] = marks
    fig["figure"].marks = [*fig["figure"].marks, *marks.values()]
    return marks


def mark_makers(fig: dict):
    """Functions that make a line and hoverable points on the figure's scales."""
    sc = fig["scales"]
    if "tip" not in fig:  # one tooltip for all the points of a figure
        fig["tip"] = bq.Tooltip(fields=["x", "y"], formats=[".4~g", ".4~g"], labels=["x", "value"])

    def line(color, **kw):
        return bq.Lines(x=[], y=[], scales=sc, colors=[color], **kw)

    def points(color):
        return bq.Scatter(
            x=[], y=[], scales=sc, colors=[color], default_size=36, tooltip=fig["tip"]
        )

    return line, points
