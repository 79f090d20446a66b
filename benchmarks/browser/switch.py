"""One measured switch: the frames the page logged, summarised into where the time went."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Switch:
    """One measured switch; times in ms from t0 (None when unknown)."""

    kind: str  # "layer" or "input"
    layer: str
    index: int
    ms: float | None  # t0 -> t1; None: timed out
    met_ms: float | None = None  # every view had changed
    via_idle: bool = False  # a view sent nothing new; the kernel's idle status stood in
    first_visit: bool = False  # a layer switch to a layer not shown before
    to_kernel_ms: float | None = None  # kernel "busy" (kernel clock)
    python_ms: float | None = None  # kernel "busy" -> "idle"
    idle_recv_ms: float | None = None  # the page got the "idle" status
    last_msg_ms: float | None = None  # the last frame that arrived before met_ms
    bytes_to_t1: int = 0
    bytes_all: int = 0
    msgs_to_t1: int = 0
    msgs_all: int = 0
    opens: int = 0
    closes: int = 0
    buffer_bytes: int = 0  # binary buffers (PNGs, arrays)
    ws_bytes: int = 0  # Playwright's count of the received frames, as a cross-check
    epoch0: float = 0.0  # the page's Date.now() at t0 (ms), to compare with other clocks
    trace: dict = field(default_factory=dict)  # main-thread breakdown (--trace)
    records: list = field(default_factory=list, repr=False)

    @property
    def kernel_done_ms(self) -> float | None:
        if self.to_kernel_ms is None or self.python_ms is None:
            return None
        return self.to_kernel_ms + self.python_ms

    @property
    def page_lag_ms(self) -> float | None:
        done = self.kernel_done_ms
        return None if done is None or self.idle_recv_ms is None else self.idle_recv_ms - done

    @property
    def browser_ms(self) -> float | None:
        if self.ms is None or self.last_msg_ms is None:
            return None
        return self.ms - self.last_msg_ms


def summarise(kind: str, layer: str, index: int, res: dict, recs: list[dict]) -> Switch:
    t1 = res["t1"] - res["t0"]
    met = None if res["tMet"] is None else res["tMet"] - res["t0"]
    s = Switch(kind, layer, index, None if res["timedOut"] else t1, met, bool(res["viaIdle"]))
    sent = {r["id"] for r in recs if r["dir"] == "s" and r["channel"] == "shell"}
    received = [r for r in recs if r["dir"] == "r"]
    idle_date = None
    for r in received:
        if r["type"] == "status" and r["parent"] in sent:
            if r["state"] == "busy" and s.to_kernel_ms is None:
                s.to_kernel_ms = r["date"]
            elif r["state"] == "idle":
                idle_date, s.idle_recv_ms = r["date"], r["t"]
    if idle_date is not None and s.to_kernel_ms is not None:
        s.python_ms = idle_date - s.to_kernel_ms
    if met is not None:
        s.last_msg_ms = max((r["t"] for r in received if r["t"] <= met), default=None)
    s.bytes_to_t1 = sum(r["bytes"] for r in received if r["t"] <= t1)
    s.msgs_to_t1 = sum(1 for r in received if r["t"] <= t1)
    s.bytes_all = sum(r["bytes"] for r in received)
    s.msgs_all = len(received)
    s.opens = sum(1 for r in received if r["type"] == "comm_open")
    s.closes = sum(1 for r in received if r["type"] == "comm_close")
    s.buffer_bytes = sum(sum(r["buffers"]) for r in received)
    s.records, s.epoch0 = recs, res["epoch0"]
    return s
