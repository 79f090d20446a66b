"""A class opens the dashboard at once: N Chromium pages on one Voila server.

For each N, a fresh Voila serves the notebook; once it is ready (its preheated kernel
pool, if voila.json asks for one, filled and idle), N pages open it concurrently. Per
page: seconds from the start of its navigation to its first drawn figure, or why it
failed. Then the memory of the server's kernels (PSS: shared pages divided among the
processes that share them) and of the server itself. Voila logs and results.jsonl go to
tests/artifacts/bench_viewers/.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_viewers                   # 1, 4, 8, 16 viewers
    .venv/bin/python -m benchmarks.bench_viewers --viewers 1,4
    # an older checkout (git worktree add /tmp/wt OLD), its kernels importing its nnwidgets:
    .venv/bin/python -m benchmarks.bench_viewers --serve-dir /tmp/wt/notebooks --pythonpath /tmp/wt --label before

Figures are noisy on a shared machine: compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    free_port,
    kernel_env,
    log_tail,
    port_open,
    stop,
    voila_command,
)

OUT = ARTIFACTS / "bench_viewers"
POOL_FILLED = ("Kernel pool of", "is filled")  # voila_kernel_manager.py's log line
GB = 1024**3
QUIET_WINDOW, QUIET_CPU = 2.0, 0.2  # idle: under 0.2 CPU seconds in 2 s, all kernels

# Polled in each page until it has drawn a figure or shows an error. The first figure:
# a bqplot figure with a picture (the weights or activations image, as in
# tests/test_browser.py's open_dashboard) or a mark with data in it. "views" is
# open_dashboard's condition: the explorer's figures with both pictures in them.
PAGE_STATE_JS = """(wantViews) => {
  const body = document.body;
  if (!body) return null;
  const at = Date.now();
  const text = body.innerText || '';
  const err = document.querySelector('.nnw-error');
  if (err) return {kind: 'error', why: 'an .nnw-error element', text: err.innerText, at};
  const h1 = Array.from(document.querySelectorAll('h1'))
    .find(h => /^\\s*\\d{3}\\b/.test(h.innerText || ''));
  if (h1) return {kind: 'error', why: 'Voila error page: ' + h1.innerText.trim(), text, at};
  for (const bad of ['There was an error when executing cell', 'Timeout', 'Error']) {
    const i = text.indexOf(bad);
    if (i >= 0)
      return {kind: 'error', why: 'the page shows ' + JSON.stringify(bad),
              text: text.slice(Math.max(0, i - 40)), at};
  }
  const pictured = sel => Array.from(document.querySelectorAll(sel))
    .some(im => im.getAttribute('href') || im.getAttribute('xlink:href'));
  if (wantViews) {
    const views = document.querySelector('.nnw-explorer svg.svg-figure')
      && pictured('.nnw-weights svg image') && pictured('.nnw-activations svg image');
    return views ? {kind: 'views', at} : null;
  }
  const drawn = pictured('svg.svg-figure image') || document.querySelector(
    'svg.svg-figure path.line[d*="L"], svg.svg-figure .bargroup rect, svg.svg-figure .dot');
  return drawn ? {kind: 'drawn', at} : null;
}"""


# -- processes and memory ------------------------------------------------------
def _read(path: str, mode: str = "r") -> str | bytes | None:
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _read(f"/proc/{name}/stat")
            if stat:
                fields = stat.rsplit(")", 1)[1].split()
                out[int(name)] = (int(fields[1]), fields[0])
    return out


def _alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_kernel(pid: int) -> bool:
    cmdline = _read(f"/proc/{pid}/cmdline", "rb")
    return bool(cmdline) and b"ipykernel_launcher" in cmdline


def kernels_of(server_pid: int) -> list[int]:
    """The kernels this server started: its descendants running ipykernel_launcher, and
    any with JPY_PARENT_PID set to it (orphans, once the server is gone)."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [server_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if _is_kernel(child):
                found.add(child)
    tag = f"JPY_PARENT_PID={server_pid}".encode()
    for pid in procs:
        if pid not in found and _is_kernel(pid):
            environ = _read(f"/proc/{pid}/environ", "rb")
            if environ and tag in environ.split(b"\0"):
                found.add(pid)
    return sorted(p for p in found if _alive(p))


def memory(pid: int) -> dict[str, int]:
    """Pss and Rss of a process in bytes (0 if it is gone)."""
    out = {"pss": 0, "rss": 0}
    for line in (_read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
        key, _, value = line.partition(":")
        if key in ("Pss", "Rss"):
            out[key.lower()] = int(value.split()[0]) * 1024
    return out


def other_kernels(server_pid: int) -> int:
    """Kernels on this machine not started by this server (another Voila, a test run)."""
    ours = set(kernels_of(server_pid))
    return sum(1 for pid in _processes() if pid not in ours and _alive(pid) and _is_kernel(pid))


class Noise(threading.Thread):
    """Samples, every 2 s, the 1-min load and the other servers' kernels."""

    def __init__(self, server_pid: int):
        super().__init__(daemon=True)
        self.server_pid, self.load_max, self.others_max = server_pid, 0.0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(2.0):
            load = (_read("/proc/loadavg") or "0").split()[0]
            self.load_max = max(self.load_max, float(load))
            self.others_max = max(self.others_max, other_kernels(self.server_pid))


def log_warnings(path: Path) -> dict[str, int]:
    """The server log's warnings and errors, counted (ids and numbers blanked)."""
    counts: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        if re.search(r"WARNING|ERROR|Error|Traceback", line) and not any(
            skip in line for skip in ("is not trusted", "running over TCP")
        ):
            key = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+", "#", line.strip())[:160]
            counts[key] = counts.get(key, 0) + 1
    return counts


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes."""
    ticks = 0
    for pid in pids:
        stat = _read(f"/proc/{pid}/stat")
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def mem_available() -> int:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


# -- the server ----------------------------------------------------------------
def preheat_configured(serve_dir: Path, voila_args: list[str]) -> bool:
    """Does voila.json in the served directory, or a CLI argument, turn preheating on?"""
    for arg in voila_args:
        if "preheat_kernel" in arg:
            return arg.rsplit("=", 1)[-1].lower() in ("true", "1")
    with contextlib.suppress(OSError, ValueError, AttributeError):
        config = json.loads((serve_dir / "voila.json").read_text())
        return bool(config.get("VoilaConfiguration", {}).get("preheat_kernel"))
    return False


def http_answers(port: int) -> bool:
    """A HEAD of / (a GET would run the notebook in a kernel, or take a preheated one)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except urllib.error.HTTPError:
        return True  # any status: the server answers
    except OSError:
        return False
    return True


def start_server(args, n: int):
    """Start Voila; return (process, port, log path, server env)."""
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = kernel_env()
    if args.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(args.pythonpath).resolve())]
            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    cmd = voila_command(args.notebook, port, *args.voila_arg)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.label)
    log_path = OUT / f"{safe}-{n}viewers-voila.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=args.serve_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, port, log_path, cmd


def wait_ready(proc, port: int, log_path: Path, preheat: bool, timeout: float) -> dict:
    """Wait for the HTTP answer, then for the filled pool if preheating; the times."""
    start = time.monotonic()
    out: dict = {"preheat": preheat}
    while not (port_open(port) and http_answers(port)):
        if proc.poll() is not None:
            raise RuntimeError(f"Voila exited with {proc.returncode}:\n{log_tail(log_path)}")
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"Voila did not answer on port {port}:\n{log_tail(log_path)}")
        time.sleep(0.25)
    out["http_s"] = time.monotonic() - start
    out["pool_filled_s"] = None
    while preheat:
        text = log_path.read_text(errors="replace")
        if any(all(part in line for part in POOL_FILLED) for line in text.splitlines()):
            out["pool_filled_s"] = time.monotonic() - start
            break
        if proc.poll() is not None:
            raise RuntimeError(f"Voila exited with {proc.returncode}:\n{log_tail(log_path)}")
        if time.monotonic() - start > timeout:
            print(f"  the kernel pool was not filled within {timeout:.0f} s", flush=True)
            break
        time.sleep(0.5)
    # The pool's line comes once its kernels have started; each then still runs the
    # notebook. Ready when the server's kernels (if any) have gone idle.
    out["kernels_quiet_s"] = None
    while kernels_of(proc.pid):
        kernels = kernels_of(proc.pid)
        used = cpu_seconds(kernels)
        time.sleep(QUIET_WINDOW)
        if kernels_of(proc.pid) == kernels and cpu_seconds(kernels) - used < QUIET_CPU:
            out["kernels_quiet_s"] = time.monotonic() - start
            break
        if time.monotonic() - start > timeout:
            print(f"  the server's kernels were still busy after {timeout:.0f} s", flush=True)
            break
    out["ready_s"] = time.monotonic() - start
    return out


def stop_server(proc, known_kernels: set[int], timeout: float = 60.0) -> list[int]:
    """Stop Voila and its process group, then any of its kernels still running (they
    run in sessions of their own); wait until they are gone. Returns the stragglers."""
    known_kernels |= set(kernels_of(proc.pid))
    stop(proc)  # SIGTERM to the server (it shuts its kernels down), then to its group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    known_kernels |= set(kernels_of(proc.pid))
    deadline = time.monotonic() + timeout
    termed: dict[int, float] = {}
    while True:
        left = [p for p in known_kernels if _alive(p) and _is_kernel(p)]
        now = time.monotonic()
        if not left:
            return []
        if now > deadline:
            return left
        for pid in left:  # SIGTERM; SIGKILL if it is still there 10 s later
            if pid not in termed or now - termed[pid] > 10:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM if pid not in termed else signal.SIGKILL)
                termed.setdefault(pid, now)
        time.sleep(0.5)


# -- the pages ------------------------------------------------------------------
async def new_record(context) -> dict:
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)[:200]))
    return {
        "first_figure_s": None,
        "views_s": None,
        "failure": None,
        "text": "",
        "page_errors": problems,
        "page": page,
    }


async def watch(record: dict, url: str, timeout: float) -> dict:
    """Navigate, then wait for the first figure (or an error), then for all the views."""
    page = record["page"]
    t0 = time.time()
    deadline = t0 + timeout

    def left_ms() -> float:
        return max(1.0, (deadline - time.time()) * 1000)

    try:
        await page.goto(url, timeout=timeout * 1000, wait_until="commit")
    except Exception as err:  # noqa: BLE001 - a failed navigation is a failed page
        record["failure"] = f"navigation failed: {str(err).splitlines()[0]}"
        return record
    for want_views in (False, True):
        try:
            handle = await page.wait_for_function(
                PAGE_STATE_JS, arg=want_views, polling=250, timeout=left_ms()
            )
            state = await handle.json_value()
        except Exception as err:  # noqa: BLE001
            if want_views:
                break  # it drew, but not every view: noted as views_s None, not a failure
            text = await _body_text(page)
            if "Timeout" in type(err).__name__ or "Timeout" in str(err).split("\n")[0]:
                record["failure"] = (
                    "blank page" if not text.strip() else f"no figure within {timeout:.0f} s"
                )
            else:
                record["failure"] = f"page check failed: {str(err).splitlines()[0]}"
            words = " ".join(text.split())
            record["text"], record["tail"] = words[:200], words[-200:]
            return record
        if state["kind"] == "error":
            record["failure"] = state["why"]
            record["text"] = " ".join(state["text"].split())[:200]
            return record
        key = "views_s" if want_views else "first_figure_s"
        record[key] = state["at"] / 1000 - t0
    return record


async def _body_text(page) -> str:
    try:
        return await page.evaluate("() => document.body ? document.body.innerText : ''")
    except Exception:  # noqa: BLE001
        return ""


async def final_check(record: dict) -> None:
    """A page that drew may show an error later (training failing, a lost kernel)."""
    if record["failure"]:
        return
    try:
        state = await record["page"].evaluate(f"({PAGE_STATE_JS})(false)")
    except Exception:  # noqa: BLE001
        return
    if state and state["kind"] == "error":
        record["failure"] = f"after drawing: {state['why']}"
        record["text"] = " ".join(state["text"].split())[:200]


async def run_pages(url: str, n: int, timeout: float, settle: float, measure) -> tuple:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            contexts = [
                await browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(n)
            ]
            records = [await new_record(c) for c in contexts]
            await asyncio.gather(*(watch(r, url, timeout) for r in records))
            await asyncio.sleep(settle)
            await asyncio.gather(*(final_check(r) for r in records))
            measured = measure()
            for c in contexts:
                with contextlib.suppress(Exception):
                    await c.close()
        finally:
            await browser.close()
    for r in records:
        del r["page"]
    return records, measured


# -- one N ------------------------------------------------------------------------
def git_commit(path: Path) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() or None


def run_one(args, n: int) -> dict:
    serve_dir = Path(args.serve_dir).resolve()
    preheat = preheat_configured(serve_dir, args.voila_arg)
    available_before = mem_available()
    proc, port, log_path, cmd = start_server(args, n)
    seen: set[int] = set()
    result: dict = {
        "label": args.label,
        "viewers": n,
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "serve_dir": str(serve_dir),
        "notebook": args.notebook,
        "commit": git_commit(serve_dir),
        "pythonpath": args.pythonpath,
        "pythonpath_commit": git_commit(Path(args.pythonpath)) if args.pythonpath else None,
        "env": args.env,
        "command": cmd,
        "log": str(log_path.relative_to(ROOT)) if log_path.is_relative_to(ROOT) else str(log_path),
    }
    try:
        result.update(wait_ready(proc, port, log_path, preheat, args.ready_timeout))
        print(
            f"  server ready in {result['ready_s']:.1f} s"
            + (f" (pool filled at {_s(result['pool_filled_s'])} s)" if preheat else "")
            + (
                f" (kernels idle at {_s(result['kernels_quiet_s'])} s)"
                if result["kernels_quiet_s"]
                else ""
            ),
            flush=True,
        )
        time.sleep(args.quiet)
        seen |= set(kernels_of(proc.pid))
        result["kernels_before_pages"] = len(seen)
        result["loadavg_before_pages"] = (_read("/proc/loadavg") or "").split()[:3]
        result["other_kernels"] = other_kernels(proc.pid)
        print(
            f"  load {' '.join(result['loadavg_before_pages'])}; "
            f"{result['other_kernels']} other kernel(s) on the machine",
            flush=True,
        )

        def measure() -> dict:
            kernels = kernels_of(proc.pid)
            seen.update(kernels)
            mems = [memory(k) for k in kernels]
            server = memory(proc.pid)
            return {
                "loadavg_after_pages": (_read("/proc/loadavg") or "").split()[:3],
                "kernels": len(kernels),
                "kernels_pss": sum(m["pss"] for m in mems),
                "kernels_rss": sum(m["rss"] for m in mems),
                "server_pss": server["pss"],
                "server_rss": server["rss"],
                "mem_available_drop": available_before - mem_available(),
            }

        noise = Noise(proc.pid)
        noise.start()
        try:
            records, measured = asyncio.run(
                run_pages(f"http://127.0.0.1:{port}/", n, args.timeout, args.settle, measure)
            )
        finally:
            noise.done.set()
        result["loadavg_max"] = noise.load_max
        result["other_kernels_max"] = noise.others_max
        result["pages"] = records
        result.update(measured)
    except RuntimeError as err:
        result["server_error"] = str(err)
        print(f"  {err}", flush=True)
    finally:
        left = stop_server(proc, seen)
        if left:
            print(f"  kernels still running after the server stopped: {left}", flush=True)
            result["kernels_left"] = left
        result["log_warnings"] = log_warnings(log_path)
    return result


# -- the report ---------------------------------------------------------------------
def _s(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _gb(x: float | None) -> str:
    return "–" if x is None else f"{x / GB:.2f}"


def summary(r: dict) -> dict:
    pages = r.get("pages", [])
    times = [p["first_figure_s"] for p in pages if p["failure"] is None]
    n = r["viewers"]
    return {
        "ready": r.get("ready_s"),
        "median": statistics.median(times) if times else None,
        "worst": max(times) if times else None,
        "failures": sum(p["failure"] is not None for p in pages) if pages else n,
        "kernels": r.get("kernels"),
        "pss": r.get("kernels_pss"),
        "per_viewer": r["kernels_pss"] / n if "kernels_pss" in r else None,
        "server_pss": r.get("server_pss"),
        "drop": r.get("mem_available_drop"),
    }


def table(results: list[dict]) -> str:
    lines = [
        "| viewers | server ready (s) | first figure median (s) | worst (s) | failures "
        "| kernels | PSS total (GB) | PSS per viewer (GB) | Voila PSS (GB) "
        "| MemAvailable drop (GB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = summary(r)
        kernels = "–" if s["kernels"] is None else str(s["kernels"])
        lines.append(
            f"| {r['viewers']} | {_s(s['ready'])} | {_s(s['median'])} | {_s(s['worst'])} "
            f"| {s['failures']}/{r['viewers']} | {kernels} | {_gb(s['pss'])} "
            f"| {_gb(s['per_viewer'])} | {_gb(s['server_pss'])} | {_gb(s['drop'])} |"
        )
    return "\n".join(lines)


def failures(results: list[dict]) -> list[str]:
    """The failed pages (alike ones together) and the server's warnings, per N."""
    out = []
    for r in results:
        if "server_error" in r:
            out.append(f"{r['viewers']} viewers: server: {r['server_error'].splitlines()[0]}")
        alike: dict[tuple, list[int]] = {}
        for i, p in enumerate(r.get("pages", [])):
            if p["failure"]:
                alike.setdefault((p["failure"], p["text"], p.get("tail")), []).append(i + 1)
        for (failure, text, tail), pages in alike.items():
            shown = f" — text: {text!r}" if text else ""
            if tail and tail != text:
                shown += f"; ends: {tail!r}"
            which = f"page {pages[0]}" if len(pages) == 1 else f"pages {pages}"
            out.append(f"{r['viewers']} viewers, {which}: {failure}{shown}")
        for line, count in r.get("log_warnings", {}).items():
            out.append(f"{r['viewers']} viewers, Voila's log: {count} × {line}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", default="1,4,8,16", help="comma-separated N (1,4,8,16)")
    parser.add_argument("--serve-dir", default="notebooks", help="Voila's cwd (notebooks)")
    parser.add_argument("--notebook", default="dashboard.ipynb", help="relative to serve-dir")
    parser.add_argument(
        "--pythonpath", help="prepended to the server's (and its kernels') PYTHONPATH"
    )
    parser.add_argument("--env", action="append", default=[], metavar="K=V")
    parser.add_argument("--voila-arg", action="append", default=[], metavar="ARG")
    parser.add_argument("--label", default="after", help="names the run in the report")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per page")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--quiet", type=float, default=3.0, help="pause before the pages")
    parser.add_argument("--settle", type=float, default=2.0, help="pause before measuring")
    args = parser.parse_args(argv)
    try:
        viewers = [int(v) for v in args.viewers.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--viewers: not a list of integers: {args.viewers!r}")
    for item in args.env:
        if "=" not in item:
            parser.error(f"--env {item!r}: expected K=V")
    if not (Path(args.serve_dir) / args.notebook).is_file():
        parser.error(f"no notebook {args.notebook} in {args.serve_dir}")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        print("playwright is not installed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    if not os.access(CHROMIUM, os.X_OK):
        print(f"no Chromium at {CHROMIUM} (set NNW_CHROMIUM)", file=sys.stderr)
        return 2

    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for n in viewers:
        print(f"{args.label}: {n} viewer(s) of {args.serve_dir}/{args.notebook}", flush=True)
        r = run_one(args, n)
        results.append(r)
        with open(OUT / "results.jsonl", "a") as f:
            f.write(json.dumps(r) + "\n")
        for i, p in enumerate(r.get("pages", [])):
            how = p["failure"] or f"first figure {_s(p['first_figure_s'])} s"
            print(f"    page {i + 1}: {how} (all views {_s(p['views_s'])} s)", flush=True)
        if "loadavg_max" in r:
            print(
                f"  while open: load up to {r['loadavg_max']:.1f}, "
                f"up to {r['other_kernels_max']} other kernel(s)",
                flush=True,
            )
    print()
    print(f"### {args.label}")
    print()
    print(table(results))
    lines = failures(results)
    if lines:
        print()
        print("Failures, and the server's warnings:")
        for line in lines:
            print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
