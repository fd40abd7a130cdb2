"""Two app replicas on one PostgreSQL: tick latency under load, and no spend lost or doubled.

    python3 bench/replicas.py [--quick] [--sessions 50] [--profile head|brief] [--json out.json]

Starts, on loopback: a throwaway PostgreSQL (``scripts/start_postgres.sh`` in a directory of
its own, stopped and removed at the end), one served orchestrator emulator
(``python3 -m batchcore.emulator``, which bills every image it makes and reports it at
``/_emulator/ledger``) and two ``streamlit run streamlit_app.py`` replicas, A and B, both live
against that emulator with a made-up key (built at run time) on the same ``DATABASE_URL`` with
one ``DAILY_SPEND_CAP``. Then:

1. Chromium generates the max batch (10 rows × 3 variants) on A; ``bench/seed.py`` stores
   2 × N copies of it with ~1,000 log lines and a paid call in flight on a third replica.
2. N websocket-protocol sessions per replica (``bench/wsclient.py``) each watch one copy and
   send the status-log fragment's 1-second ticks, while paid work goes through both
   replicas in Chromium: one workspace generated on A, one on B, and one workspace opened on
   both and confirmed on both at the same moment (only one may be billed).
   Reported: p50/p95 tick → ``script_finished`` per replica and overall, server CPU, and
   the load average every 5 s.
3. A paid call of 30 images is confirmed on A and A is killed (SIGKILL) while it is in
   flight, then restarted: its ``resume_all`` (run when its runtime is built, at the first
   page run) must settle it.
4. Two workspaces, one per replica, each costing more than half of what is left under the
   cap, are confirmed at the same moment: the cap is one cap for both replicas, so exactly
   one may pass.
5. Checks, printed as PASS/FAIL with the numbers: the emulator's own billing against the
   app's ``charges`` table and the workspaces (every billed batch in the ledger exactly once,
   nothing billed twice, the amounts equal, every accepted batch's images in its workspace,
   nothing left open, the cap counted across both replicas).

``--pid1`` runs each replica as PID 1 of a pid namespace of its own (``unshare``), as in a
container: the restarted replica has the same host name and pid as the one that died, and
cannot prove it dead, so the killed call is left alone for its grace (``LIVE_READ_TIMEOUT``,
30 s here, + 120 s) and then settled by a sweep.

``--profile head`` (default) plays today's synchronous server: the killed call is cut off
mid-request, so it can only end ``outcome_unknown`` (counted in full, never resent).
``--profile brief`` plays the queued server: the call is killed while it is being polled,
and the restarted replica polls it to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchcore.adapters.store import WorkspaceStore, charges  # noqa: E402
from batchcore.domain.pricing import PRICE_PER_IMAGE  # noqa: E402
from batchcore.domain.workflow import WorkflowState, all_submissions  # noqa: E402
from bench import seed  # noqa: E402
from bench.common import (  # noqa: E402
    banner,
    made_up_key,
    stop_process,
    HEADER,
    ROOT,
    Result,
    Server,
    free_port,
    idle,
    launch_browser,
    loadavg,
    pct,
)
from bench.wsclient import Session  # noqa: E402

APP = "streamlit_app.py"
#: a replica as PID 1 of a pid namespace of its own, killed with it (``--pid1``)
PID1 = ["unshare", "--pid", "--mount-proc", "--kill-child"]
#: with ``--pid1``: LIVE_READ_TIMEOUT, and the grace another process gives a call in flight
PID1_READ_TIMEOUT = 30
GRACE = PID1_READ_TIMEOUT + 120
COUNTED = {"accepted", "completed", "partial", "failed", "outcome_unknown"}



def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {loadavg()}] {text}", flush=True)


# --- PostgreSQL and the emulator ------------------------------------------------------------


class Postgres:
    """``scripts/start_postgres.sh`` in a directory of its own; :meth:`stop` removes it."""

    def __init__(self) -> None:
        # directly under /tmp: the server runs as ``postgres`` and must reach its directory
        self.dir = Path(tempfile.mkdtemp(prefix="bench-replicas-pg-", dir="/tmp"))
        env = {**os.environ, "BATCHSTUDIO_PG_DIR": str(self.dir),
               "BATCHSTUDIO_PG_DB": "replicas"}
        out = subprocess.run(["bash", str(ROOT / "scripts/start_postgres.sh")], env=env,
                             capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise SystemExit(f"PostgreSQL did not start: {out.stderr.strip()[-500:]}")
        self.url = out.stdout.strip()

    def stop(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
        if bins:
            cmd = [f"{bins[-1]}/pg_ctl", "-D", str(self.dir / "data"), "stop", "-m", "fast"]
            if os.geteuid() == 0:
                cmd = ["runuser", "-u", "postgres", "--", *cmd]
            subprocess.run(cmd, capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
        Path(f"{self.dir}.lock").unlink(missing_ok=True)


class ServedEmulator:
    """``python3 -m batchcore.emulator`` on a free loopback port."""

    def __init__(self, tmp: Path, latency_ms: int, profile: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "emulator.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "batchcore.emulator", "--port", str(self.port),
             "--latency-ms", str(latency_ms), "--profile", profile],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the emulator exited; see emulator.log")
            try:
                if httpx.get(self.url + "/_emulator/ledger", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the emulator did not come up")

    def ledger(self) -> dict:
        return httpx.get(self.url + "/_emulator/ledger", timeout=30).json()

    def stop(self) -> None:
        stop_process(self.proc, self.log)


def kill(server: Server) -> None:
    """SIGKILL: no shutdown of any kind (what a crashed or evicted container gets)."""
    os.kill(server.proc.pid, signal.SIGKILL)  # a wrapper (``--pid1``) takes its child along
    server.proc.wait(timeout=30)
    server.log.close()


# --- the page in Chromium -------------------------------------------------------------------


def batch_text(tag: str, images: int) -> str:
    """``images`` images in rows of up to 3 variants, prompts unique to ``tag`` (so every
    workspace's batch hash differs)."""
    lines, i = [], 0
    while images > 0:
        i += 1
        v = min(3, images)
        images -= v
        lines.append(f"{tag}-{i:02d} | {tag} scene {i}: a lighthouse at dusk, wide shot | {v}")
    return "\n".join(lines)


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(int(os.environ.get("PW_TIMEOUT", "90000")))
    page.goto(url)
    idle(page)
    return context, page


def workspace_of(page) -> str:
    found = re.search(r"[?&]w=([^&]+)", page.url)
    if not found:
        raise RuntimeError(f"no workspace id in {page.url}")
    return found.group(1)


def dry_run(page, text: str) -> str:
    """Parse and dry-run ``text``; return the workspace id. Each step waits for what it
    shows (a live page's reruns start later than ``idle`` can see)."""
    box = page.locator("textarea[aria-label='Batch']")
    box.wait_for()
    box.fill(text)
    box.press("Control+Enter")
    page.wait_for_url(re.compile(r"[?&]w="))
    idle(page)
    page.get_by_role("button", name="Parse").click()
    page.get_by_text("Parsed rows").first.wait_for()
    idle(page)
    page.get_by_role("button", name="Dry-Run Images").click()
    page.get_by_text(re.compile(r"^Dry-run receipt")).first.wait_for()
    idle(page)
    return workspace_of(page)


def open_dialog(page) -> None:
    page.get_by_role("button", name="Generate Images", disabled=False).click()
    idle(page)
    page.get_by_role("button", name=re.compile("^Confirm — spend")).wait_for()


CLICK_AT = """t => { setTimeout(() => {
  const b = [...document.querySelectorAll('button')]
    .find(b => b.innerText.trim().startsWith('Confirm — spend'));
  if (b) b.click();
}, Math.max(0, t - Date.now())); return true; }"""


def confirm_together(pages) -> None:
    """Click every page's Confirm at the same moment (one clock: one browser)."""
    at = pages[0].evaluate("Date.now()") + 600
    for page in pages:
        page.evaluate(CLICK_AT, at)
    pages[0].wait_for_timeout(1200)
    for page in pages:
        idle(page)


def errors_on(page) -> list[str]:
    return [t.strip() for t in page.get_by_test_id("stAlertContentError").all_inner_texts()]


# --- the store ------------------------------------------------------------------------------


def state_of(store: WorkspaceStore, wid: str) -> WorkflowState:
    loaded = store.load(wid)
    if not loaded.ok:
        raise RuntimeError(loaded.problem)
    return loaded.state


def wait_settled(store: WorkspaceStore, wid: str, timeout: float = 120.0) -> float:
    """Seconds until the workspace has no open paid work (nan on timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        subs = all_submissions(state_of(store, wid))
        if subs and not any(s.open for s in subs):
            return time.monotonic() - start
        time.sleep(0.2)
    return float("nan")


# --- watchers --------------------------------------------------------------------------------


@dataclass
class Watch:
    ticks: list[float] = field(default_factory=list)
    late: int = 0
    skipped: int = 0
    ticking: int = 0
    opened_s: float = 0.0
    cpu_per_s: float = 0.0
    window_s: float = 0.0


async def _watch(servers: dict[str, Server], wids: dict[str, list[str]], done: threading.Event,
                 min_window: float, max_window: float, warmup: float, loads: list,
                 ready: threading.Event) -> dict[str, Watch]:
    out = {name: Watch() for name in servers}
    sessions = {name: [Session(servers[name].url, f"w={w}") for w in wids[name]]
                for name in servers}
    sems = {name: asyncio.Semaphore(4) for name in servers}

    async def open_one(name: str, s: Session) -> None:
        async with sems[name]:
            await s.open(timeout=60)

    async def open_all(name: str) -> None:
        t0 = time.perf_counter()
        await asyncio.gather(*(open_one(name, s) for s in sessions[name]))
        out[name].opened_s = time.perf_counter() - t0

    await asyncio.wait_for(asyncio.gather(*(open_all(n) for n in servers)), 180)
    start = time.perf_counter()
    measure_from = start + warmup
    hard_stop = measure_from + max_window
    ready.set()

    def over(now: float) -> bool:
        return now >= hard_stop or (done.is_set() and now >= measure_from + min_window)

    async def tick_loop(name: str, s: Session, phase: float) -> None:
        w = out[name]
        fid, interval = next(iter(s.auto_rerun.items()))
        await asyncio.sleep(phase * interval)
        next_at = time.perf_counter()
        while not over(time.perf_counter()):
            now = time.perf_counter()
            if now < next_at:
                await asyncio.sleep(next_at - now)
            sent = time.perf_counter()
            if over(sent):
                return
            run = await s.rerun(fragment_id=fid, timeout=30)
            if sent >= measure_from:
                if run.elapsed is None:
                    w.late += 1
                else:
                    w.ticks.append(run.elapsed * 1000)
            next_at += interval
            while next_at < time.perf_counter():
                next_at += interval
                if sent >= measure_from:
                    w.skipped += 1

    async def sample_load() -> None:
        while not over(time.perf_counter()):
            loads.append((round(time.perf_counter() - start), loadavg()))
            await asyncio.sleep(5)

    cpu0 = {n: servers[n].cpu() for n in servers}
    loops = []
    for name in servers:
        ticking = [s for s in sessions[name] if s.auto_rerun]
        out[name].ticking = len(ticking)
        loops += [tick_loop(name, s, i / max(1, len(ticking))) for i, s in enumerate(ticking)]
    await asyncio.gather(sample_load(), *loops)
    elapsed = time.perf_counter() - start
    for name in servers:
        out[name].cpu_per_s = (servers[name].cpu() - cpu0[name]) / elapsed
        out[name].window_s = time.perf_counter() - measure_from
    await asyncio.gather(*(s.close() for ss in sessions.values() for s in ss),
                         return_exceptions=True)
    return out


# --- the checks ---------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def money(x: Decimal) -> str:
    return f"${x:.3f}"


def ledger_checks(store: WorkspaceStore, emu: ServedEmulator, paid: dict[str, str],
                  cap: Decimal) -> tuple[list[Check], dict]:
    """Compare what the emulator billed with the app's charges table and workspaces.

    ``paid``: workspace id → label, every workspace the benchmark paid for."""
    billed = emu.ledger()
    by_hash: dict[str, dict] = defaultdict(lambda: {"units": 0, "amount": Decimal(0),
                                                    "ids": set(), "scenes": []})
    for c in billed["charges"]:
        b = by_hash[c["batchHash"] or ""]
        b["units"] += c["count"]
        b["amount"] += Decimal(c["amount"])
        b["ids"].add(c["batchId"])
        b["scenes"].append(c["sceneId"])
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(charges)).mappings()]
    states = {wid: state_of(store, wid) for wid in paid}
    subs = {f"{wid}|{s.key}": (wid, s) for wid, st in states.items()
            for s in all_submissions(st)}
    checks: list[Check] = []

    # every billed batch: exactly one counted ledger row
    per_hash = {h: [r for r in rows if r["id"] in subs and subs[r["id"]][1].batch_hash == h
                    and r["state"] in COUNTED] for h in by_hash}
    missing = [h[:12] for h, rs in per_hash.items() if len(rs) == 0]
    doubled = [h[:12] for h, rs in per_hash.items() if len(rs) > 1]
    checks.append(Check(
        "every batch the emulator billed is in the ledger exactly once",
        not missing and not doubled,
        f"{len(by_hash)} batches billed ({billed['units']} images, {money(Decimal(billed['total']))}); "
        f"missing from the ledger: {missing or 'none'}; in it more than once: {doubled or 'none'}"))

    twice = {h[:12]: (len(b["ids"]), len(b["scenes"]) - len(set(b["scenes"])))
             for h, b in by_hash.items() if len(b["ids"]) > 1 or len(set(b["scenes"])) < len(b["scenes"])}
    checks.append(Check("nothing billed twice (one server batch per hash, each scene once)",
                        not twice, f"hashes billed more than once: {twice or 'none'}"))

    # amounts: what the ledger counts for each billed batch = what the server billed
    unequal = []
    for h, b in by_hash.items():
        for r in per_hash[h]:
            counted = Decimal(r["micros"]) / Decimal(1_000_000)
            if counted != b["amount"]:
                unequal.append(f"{h[:12]}: ledger {money(counted)} ({r['state']}) vs billed "
                               f"{money(b['amount'])}")
    app_total = sum((Decimal(r["micros"]) for r in rows), Decimal(0)) / Decimal(1_000_000)
    emu_total = Decimal(billed["total"])
    checks.append(Check("the ledger counts exactly what the server billed",
                        not unequal and app_total == emu_total,
                        f"ledger total {money(app_total)} over {len(rows)} rows, emulator total "
                        f"{money(emu_total)}; batches that differ: {unequal or 'none'}"))

    # ledger rows nobody billed (a counted amount the server never charged)
    ghost = [f"{paid.get(r['workspace_id'], '?')}: {r['state']} {money(Decimal(r['micros']) / 1_000_000)}"
             for r in rows if r["micros"] and r["id"] in subs
             and subs[r["id"]][1].batch_hash not in by_hash]
    checks.append(Check("no spend counted that the server never billed", not ghost,
                        f"{ghost or 'none'}"))

    # every accepted batch's images are in its workspace
    short = []
    accepted = 0
    for wid, s in subs.values():
        if s.state not in ("completed", "partial", "accepted"):
            continue
        accepted += 1
        have = sum(1 for imgs in states[wid].images.values() for i in imgs
                   if i.batch_id == s.batch_id)
        want = by_hash.get(s.batch_hash, {"units": -1})["units"]
        if have != want or s.state == "accepted":
            short.append(f"{paid[wid]}: {have} in the workspace, {want} billed ({s.state})")
    checks.append(Check("every accepted batch's images are in its workspace", not short,
                        f"{accepted} accepted batches; short: {short or 'none'}"))

    still_open = [f"{paid.get(r['workspace_id'], r['workspace_id'][:8])}: {r['state']}"
                  for r in rows if r["open"]]
    checks.append(Check("nothing left open (every paid call settled)", not still_open,
                        f"{still_open or 'none'}"))

    deployments = {r["deployment"] for r in rows}
    day = max((r["day"] for r in rows), default="")
    totals = [store.ledger_totals(d, day) for d in deployments]
    committed = sum((t.committed for t in totals), Decimal(0))
    checks.append(Check("one deployment-wide cap: everything in one ledger, never over the cap",
                        len(deployments) == 1 and committed <= cap,
                        f"deployments in the ledger: {len(deployments)}; committed "
                        f"{money(committed)} of the {money(cap)} cap"))
    info = {"rows": rows, "subs": subs, "by_hash": by_hash, "states": states}
    return checks, info


# --- the run --------------------------------------------------------------------------------


@dataclass
class Run:
    """One benchmark run: the servers, the store, what was paid for, what was found."""

    browser: object
    tmp: Path
    pg: Postgres
    emu: ServedEmulator
    env: dict[str, str]
    cap: Decimal
    profile: str
    prefix: list[str] = field(default_factory=list)
    servers: dict[str, Server] = field(default_factory=dict)
    paid: dict[str, str] = field(default_factory=dict)  # workspace id → label
    facts: dict[str, object] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = WorkspaceStore(self.pg.url)

    def replica(self, name: str) -> Server:
        self.servers[name] = Server(APP, self.tmp, extra_env=self.env, prefix=self.prefix)
        return self.servers[name]

    def generate(self, server: Server, tag: str, images: int, label: str) -> str:
        """One workspace generated through one replica in Chromium; waits until settled."""
        ctx, page = open_page(self.browser, server.url)
        try:
            wid = dry_run(page, batch_text(tag, images))
            self.paid[wid] = label
            open_dialog(page)
            confirm_together([page])
        finally:
            ctx.close()
        self.facts[f"settle {label}"] = wait_settled(self.store, wid)
        return wid

    def subs(self, wid: str) -> list:
        return all_submissions(state_of(self.store, wid))

    # 2. watchers and paid work at the same time

    def under_load(self, copies: list[str], n: int, min_window: float,
                   max_window: float) -> None:
        a, b = self.servers["A"], self.servers["B"]
        done, ready = threading.Event(), threading.Event()
        loads: list = []
        pool = concurrent.futures.ThreadPoolExecutor(1)
        watching = pool.submit(asyncio.run, _watch(
            {"A": a, "B": b}, {"A": copies[:n], "B": copies[n:]}, done, min_window,
            max_window, 3.0, loads, ready))
        while not ready.wait(1):
            if watching.done():
                watching.result()
        say(f"{2 * n} sessions open and ticking; paid work starts")
        t_work = time.perf_counter()
        try:
            self.generate(a, "ONEA", 6, "one replica (A, Chromium)")
            self.generate(b, "ONEB", 6, "one replica (B, Chromium)")
            self.same_workspace_on_both(a, b)
        finally:
            self.facts["paid_work_s"] = time.perf_counter() - t_work
            done.set()
            watch = watching.result()
            pool.shutdown()
        say(f"window over; paid work took {self.facts['paid_work_s']:.1f} s")
        overall: list[float] = []
        for name, w in watch.items():
            overall += w.ticks
            ticks = w.ticks or [float("nan")]
            self.results.append(Result(
                f"{n} sessions on replica {name}: tick latency", "ms",
                "tick → script_finished", ticks, target="(info)",
                note=(f"p95 {pct(ticks, .95):.1f} ms, p50 {pct(ticks, .5):.1f} ms; "
                      f"{len(w.ticks)} ticks in {w.window_s:.0f} s ({w.skipped} skipped, "
                      f"{w.late} timed out); {w.ticking}/{n} ticking; server CPU "
                      f"{w.cpu_per_s:.2f} s/s; opening all took {w.opened_s:.1f} s")))
        ticks = overall or [float("nan")]
        self.results.append(Result(
            f"{2 * n} sessions on two replicas: tick latency", "ms",
            "tick → script_finished", ticks, target="p95 < 100 ms",
            ok=pct(ticks, .95) < 100,
            note=(f"p95 {pct(ticks, .95):.1f} ms, p50 {pct(ticks, .5):.1f} ms, while 3 "
                  f"workspaces were paid for through both replicas "
                  f"({self.facts['paid_work_s']:.0f} s); load every 5 s: "
                  + ", ".join(f"{t} s: {la}" for t, la in loads))))

    def same_workspace_on_both(self, a: Server, b: Server) -> None:
        """One workspace open on A and on B, confirmed on both at the same moment."""
        ca, pa = open_page(self.browser, a.url)
        cb = None
        try:
            wid = dry_run(pa, batch_text("BOTH", 6))
            self.paid[wid] = "same workspace on A and B"
            cb, pb = open_page(self.browser, f"{b.url}/?w={wid}")
            pb.get_by_text(re.compile(r"^Dry-run receipt")).first.wait_for()
            open_dialog(pb)
            open_dialog(pa)
            confirm_together([pa, pb])
            errors = {"A": errors_on(pa), "B": errors_on(pb)}
        finally:
            ca.close()
            if cb is not None:
                cb.close()
        wait_settled(self.store, wid)
        both = [s.state for s in self.subs(wid)]
        self.checks.append(Check(
            "the same workspace confirmed on A and B at once: one submission, billed once",
            len(both) == 1, f"submissions: {both}; errors shown: {errors}"))

    # 3. a replica killed mid-call, then restarted

    def kill_and_restart(self) -> None:
        a = self.servers["A"]
        ctx, page = open_page(self.browser, a.url)
        wid = dry_run(page, batch_text("KILL", 30))
        self.paid[wid] = "killed mid-call (A)"
        open_dialog(page)
        confirm_together([page])
        want = "sent" if self.profile == "head" else "accepted"
        deadline = time.monotonic() + 60
        seen = "nothing stored"
        while time.monotonic() < deadline:
            subs = self.subs(wid)
            if subs:
                seen = subs[0].state
                if seen == want and (want == "sent" or subs[0].poll_ids):
                    break
            time.sleep(0.05)
        kill(a)
        t_kill = time.perf_counter()
        ctx.close()
        say(f"A killed (SIGKILL) with the call {seen}")
        time.sleep(2)
        a = self.replica("A")
        restart_s = time.perf_counter() - t_kill
        time.sleep(3)
        before = [s.state for s in self.subs(wid)]
        t_page = time.perf_counter()
        run_async(_open_close(Session(a.url, "")))
        # as PID 1 of a new pid namespace it cannot prove its predecessor dead: the call is
        # left alone for its grace (LIVE_READ_TIMEOUT + 120 s), then a sweep settles it
        settle = wait_settled(self.store, wid, 90 + (GRACE + 90 if self.prefix else 0))
        after_page = time.perf_counter() - t_page if settle == settle else float("nan")
        final = [(s.state, s.message[:90]) for s in self.subs(wid)]
        say(f"restarted A (healthy {restart_s:.1f} s after the kill); 3 s later, before its "
            f"first page: {before}; after: {final}")
        settled = bool(final) and all(st not in ("reserved", "sent", "accepted")
                                      for st, _ in final)
        self.checks.append(Check(
            "the killed replica's in-flight call is settled (by the restarted replica, or by "
            "the other one's sweep), never resent", settled,
            f"killed while {seen}; 3 s after the restart, before its first page: {before}; "
            f"settled {after_page:.1f} s after its first page: {final}"))

    # 4. the cap across replicas

    def cap_race(self, images: int) -> None:
        rows = self.store_rows()
        committed = sum((Decimal(r["micros"]) for r in rows), Decimal(0)) / Decimal(1_000_000)
        left = self.cap - committed
        pages, contexts, race = [], [], {}
        try:
            for name in ("A", "B"):
                c, page = open_page(self.browser, self.servers[name].url)
                contexts.append(c)
                race[name] = dry_run(page, batch_text(f"CAP{name}", images))
                self.paid[race[name]] = f"cap race ({name})"
                pages.append(page)
            for page in pages:
                open_dialog(page)
            confirm_together(pages)
            errors = {name: [e[:80] for e in errors_on(page)]
                      for name, page in zip("AB", pages)}
        finally:
            for c in contexts:
                c.close()
        for wid in race.values():
            wait_settled(self.store, wid, 60)
        reserved = {name: [s.state for s in self.subs(w)] for name, w in race.items()}
        passed = sum(1 for v in reserved.values() if v)
        self.checks.append(Check(
            "the cap is one cap across both replicas: of two confirmed at once, one passes",
            passed == 1, f"{money(left)} left before the race, each costs "
            f"{money(PRICE_PER_IMAGE * images)}; reserved: {reserved}; refused with: {errors}"))

    def store_rows(self) -> list[dict]:
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(charges)).mappings()]

    def stop(self) -> None:
        for server in self.servers.values():
            if server.proc.poll() is None:
                server.stop()
        self.store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter window (≤ 5 minutes)")
    parser.add_argument("--sessions", type=int, default=50, help="watching sessions per replica")
    parser.add_argument("--profile", choices=["head", "brief"], default="head")
    parser.add_argument("--latency-ms", type=int, default=150,
                        help="the emulator's time per image")
    parser.add_argument("--pid1", action="store_true",
                        help="run each replica as PID 1 of its own pid namespace (unshare), "
                             "as in a container: a restarted replica has the same host name "
                             "and pid as the one that died")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    min_window, max_window = (20.0, 90.0) if args.quick else (60.0, 180.0)
    n = args.sessions
    race_images = 30
    # the paid work before the race: the seed (30 images), three 6-image workspaces and the
    # killed 30-image call (counted in full whatever became of it); the cap leaves room for
    # one race workspace of 30 images, not two
    before_race = PRICE_PER_IMAGE * (30 + 3 * 6 + 30)
    cap = before_race + PRICE_PER_IMAGE * race_images * Decimal("1.5")

    from playwright.sync_api import sync_playwright

    banner()
    t_start = time.perf_counter()
    run: Run | None = None
    pg = emu = None
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp_s, \
            sync_playwright() as p:
        tmp = Path(tmp_s)
        browser = launch_browser(p)
        try:
            pg = Postgres()
            say(f"PostgreSQL up ({pg.url.rsplit('@', 1)[-1]})")
            emu = ServedEmulator(tmp, args.latency_ms, args.profile)
            env = {"DATABASE_URL": pg.url, "ORCHESTRATOR_API_KEY": made_up_key(),
                   "ORCHESTRATOR_URL": emu.url, "DAILY_SPEND_CAP": str(cap),
                   "POLL_SECONDS": "1"}
            if args.pid1:
                env["LIVE_READ_TIMEOUT"] = str(PID1_READ_TIMEOUT)
            run = Run(browser, tmp, pg, emu, env, cap, args.profile,
                      prefix=PID1 if args.pid1 else [])
            a, b = run.replica("A"), run.replica("B")
            say(f"emulator {emu.url} ({args.profile}); replicas A {a.url}, B {b.url}; "
                f"cap {money(cap)}")
            # 1. the seed: the max batch generated on A, copied for the watchers
            wid0 = run.generate(a, "SEED", seed.ROWS * seed.VARIANTS, "seed (A, Chromium)")
            copies = seed.derive(pg.url, wid0, 2 * n, in_flight=True)
            say(f"seeded {len(copies)} watching workspaces")
            run.under_load(copies, n, min_window, max_window)
            run.kill_and_restart()
            run.cap_race(race_images)
            ledger, info = ledger_checks(run.store, emu, run.paid, cap)
            run.checks[:0] = ledger
            run.facts["workspaces"] = {
                label: [(s.state, str(s.cost), s.batch_id)
                        for s in all_submissions(info["states"][wid])]
                for wid, label in run.paid.items()}
        finally:
            if run is not None:
                run.stop()
            if emu is not None:
                emu.stop()
            if pg is not None:
                pg.stop()
            browser.close()
    print(f"\nload average at end {loadavg()}; took {time.perf_counter() - t_start:.0f} s\n")
    report(run, args.json)
    return 0 if run and run.checks and all(c.ok for c in run.checks) else 1


def report(run: Run | None, out: Path | None) -> None:
    if run is None:
        return
    print("\n".join(HEADER))
    for r in run.results:
        print("\n".join(r.lines()))
    print()
    for c in run.checks:
        print(c.line())
    print("\nworkspaces paid for (state, estimate, server batch id):")
    for label, subs in dict(run.facts.get("workspaces") or {}).items():
        print(f"  {label}: {subs}")
    if out:
        out.write_text(json.dumps({"results": [r.__dict__ for r in run.results],
                                   "checks": [c.__dict__ for c in run.checks],
                                   "facts": run.facts}, indent=1, default=str))


def run_async(coro):
    """``asyncio.run`` on a thread of its own (Playwright's sync API owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _open_close(s: Session) -> None:
    await s.open(timeout=90)
    await s.close()


if __name__ == "__main__":
    sys.exit(main())
