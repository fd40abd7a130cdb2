"""Server memory over simulated use: does RSS plateau with the GC fix?

    python3 bench/soak.py [--minutes 10 | --quick] [--before] [--csv rss.csv]

One real ``streamlit run streamlit_app.py`` (mock mode, SQLite in a temporary dir) while,
until the time is up:

* a Chromium tab opens a new workspace, pastes the max batch (10 rows × 3 variants), parses,
  dry-runs, generates, confirms, approves one image and closes — again and again;
* ``--watchers`` websocket-protocol sessions (``bench/wsclient.py``) open workspaces watching a
  job (~1,000 log lines each), tick every second for ``--churn`` seconds, close, and are
  replaced by new sessions — so sessions keep arriving and leaving;

and the server's RSS and CPU are sampled every 2 s. Closed sessions are kept by Streamlit for
``server.disconnectedSessionTTL`` (120 s) before they are dropped, so RSS should rise for the
first few minutes and then plateau. The report gives start/end/peak RSS and the slope over the
second half of the run.

``--before`` runs the server as it was before the fix (``--runner.postScriptGC true`` and
``BATCH_GC_TUNING=off``), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import seed  # noqa: E402
from bench.common import Server, idle, launch_browser, loadavg  # noqa: E402
from bench.wsclient import Session  # noqa: E402


def _browser_cycle(browser, url: str) -> float:
    start = time.perf_counter()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        seed.generate_steps(page, url)
        page.get_by_role("button", name="Approve SCENE-001 #2").click()
        idle(page)
    finally:
        context.close()
    return time.perf_counter() - start


async def _watchers(url: str, fresh, n: int, churn: float, deadline: float,
                    stats: dict) -> None:
    """``n`` sessions, each watching a job on a workspace ``fresh()`` seeds just then (a
    seeded job is settled by the app once its grace has passed, so reusing old ones would
    leave nothing to watch), replaced every ``churn`` seconds."""

    async def one(slot: int) -> None:
        await asyncio.sleep(slot * churn / max(n, 1))  # staggered arrivals
        while time.monotonic() < deadline:
            s = Session(url, f"w={await asyncio.to_thread(fresh)}")
            try:
                await s.open(timeout=60)
                stats["opened"] += 1
                fid = next(iter(s.auto_rerun), "")
                until = min(deadline, time.monotonic() + churn)
                if not fid:  # nothing to watch: say so, and do not reconnect in a loop
                    stats["errors"].append("a watching session found no job to watch")
                    await asyncio.sleep(churn)
                while fid and time.monotonic() < until:
                    run = await s.rerun(fragment_id=fid, timeout=30)
                    if run.elapsed is not None:
                        stats["ticks"].append(run.elapsed * 1000)
                    await asyncio.sleep(max(0.0, 1.0 - (run.elapsed or 0)))
            except Exception as exc:  # noqa: BLE001 - counted and reported, the soak goes on
                stats["errors"].append(repr(exc)[:120])
                await asyncio.sleep(1)
            finally:
                await s.close()

    await asyncio.gather(*(one(i) for i in range(n)))


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares MB per minute."""
    if len(points) < 3:
        return float("nan")
    xs, ys = [p[0] / 60 for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="3 minutes")
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--churn", type=float, default=20.0,
                        help="seconds each watching session stays before it is replaced")
    parser.add_argument("--before", action="store_true",
                        help="run the server as before the fix, for comparison")
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()
    minutes = 3.0 if args.quick else args.minutes

    from playwright.sync_api import sync_playwright

    extra_env, extra_args = {}, []
    if args.before:
        extra_env["BATCH_GC_TUNING"] = "off"
        extra_args = ["--runner.postScriptGC", "true"]
    label = "before the fix (postScriptGC on, no freeze)" if args.before else "with the GC fix"
    print(f"# bench/soak.py {' '.join(sys.argv[1:])} — {label}")
    print(f"load average at start {loadavg()}")
    samples: list[tuple[float, float, float]] = []  # (t, rss MB, cpu s)
    stats: dict = {"opened": 0, "ticks": [], "errors": [], "cycles": []}
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp_s, sync_playwright() as p:
        tmp = Path(tmp_s)
        browser = launch_browser(p)
        server = Server("streamlit_app.py", tmp, extra_env=extra_env, extra_args=extra_args)
        stop = threading.Event()
        try:
            t0 = time.monotonic()

            def sample() -> None:
                while not stop.is_set():
                    samples.append((time.monotonic() - t0, server.rss(), server.cpu()))
                    stop.wait(2.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            wid = seed.generate_in_browser(browser, server.url)
            db = f"sqlite:///{server.db}"
            deadline = t0 + minutes * 60
            watcher = threading.Thread(target=lambda: asyncio.run(_watchers(
                server.url, lambda: seed.derive(db, wid, 1, in_flight=True)[0],
                args.watchers, args.churn, deadline, stats)), daemon=True)
            watcher.start()
            while time.monotonic() < deadline - 30:
                try:
                    stats["cycles"].append(_browser_cycle(browser, server.url))
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    stats["errors"].append(repr(exc)[:120])
            watcher.join(timeout=max(5.0, deadline - time.monotonic() + 70))
            stop.set()
            sampler.join(timeout=5)
        finally:
            stop.set()
            gc_line = server.gc_line()
            server.stop()
            browser.close()

    if args.csv:
        args.csv.write_text("t_s,rss_mb,cpu_s\n" + "".join(
            f"{t:.1f},{r:.1f},{c:.2f}\n" for t, r, c in samples))
    rss = [s[1] for s in samples]
    half = [(t, r) for t, r, _ in samples if t >= samples[-1][0] / 2]
    q = len(rss) // 4
    q2 = statistics.fmean(rss[q:2 * q]) if q else float("nan")
    q4 = statistics.fmean(rss[3 * q:]) if q else float("nan")
    ticks = stats["ticks"]
    print(f"load average at end {loadavg()}")
    print(f"duration {samples[-1][0] / 60:.1f} min; {len(stats['cycles'])} browser "
          f"generate cycles (median {statistics.median(stats['cycles'] or [0]):.1f} s); "
          f"{stats['opened']} watching sessions opened; {len(ticks)} ticks, p50 "
          f"{statistics.median(ticks or [0]):.0f} ms, p95 "
          f"{sorted(ticks)[int(len(ticks) * .95)] if ticks else 0:.0f} ms; "
          f"{len(stats['errors'])} errors {stats['errors'][:3]}")
    print(f"RSS MB: start {rss[0]:.0f}, after setup {rss[min(len(rss) - 1, 15)]:.0f}, "
          f"peak {max(rss):.0f}, end {rss[-1]:.0f}; mean of 2nd quarter {q2:.0f}, of last "
          f"quarter {q4:.0f} ({(q4 - q2) / q2 * 100:+.1f} %); slope over the 2nd half "
          f"{_slope(half):+.2f} MB/min")
    cpu = samples[-1][2] - samples[0][2]
    print(f"server CPU {cpu:.0f} s over {samples[-1][0]:.0f} s "
          f"({cpu / samples[-1][0]:.2f} s/s)")
    print(f"collector: {gc_line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
