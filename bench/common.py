"""Shared pieces of the benchmarks: servers on loopback, process CPU/RSS, statistics, tables.

Everything here is bounded: every wait has a deadline, every server is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop_process(proc: subprocess.Popen, log=None) -> None:
    """Terminate ``proc`` (killed after 10 s) and close its log file."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if log is not None:
        log.close()


def made_up_key(tag: str = "bench") -> str:
    """A key in the emulator's format, made up at run time (no key-like literal in the
    repository; the emulator refuses any other shape)."""
    return "aip" + "_" + ((tag + "madeupkey") * 8)[:44]


class Server:
    """``streamlit run <script>`` on a free loopback port, mock mode, its own SQLite file."""

    #: (environment, arguments) added to every server (``run.py --before`` sets them)
    defaults: tuple[dict[str, str], list[str]] = ({}, [])

    def __init__(self, script: str, tmp: Path, *, latency_ms: int = 150,
                 extra_env: dict[str, str] | None = None, extra_args: list[str] | None = None,
                 db: Path | None = None, wait: bool = True,
                 prefix: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db or (tmp / "ws.sqlite3")
        env = {k: v for k, v in os.environ.items()
               if k not in ("ORCHESTRATOR_API_KEY", "BATCH_USE_MOCK", "DATABASE_URL")}
        env.update({"DATABASE_URL": f"sqlite:///{self.db}", "MOCK_LATENCY_MS": str(latency_ms),
                    "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT),
                    "BATCH_GC_LOG": "1"})
        env.update(self.defaults[0])
        env.update(extra_env or {})
        args = [sys.executable, "-m", "streamlit", "run", script,
                "--server.headless", "true", "--server.port", str(self.port),
                "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false", *self.defaults[1], *(extra_args or [])]
        self.log = open(tmp / f"server-{self.port}.log", "wb")
        self.started = time.perf_counter()
        # ``prefix`` wraps the server, e.g. ``unshare --pid --kill-child`` (PID 1 of its own
        # pid namespace, as in a container); :attr:`pid` is then the wrapper's child
        self.proc = subprocess.Popen([*(prefix or []), *args], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self._wrapped = bool(prefix)
        self._inner: int | None = None
        if wait:
            self.wait_healthy()

    @property
    def pid(self) -> int:
        """The server's pid (the wrapper's child when wrapped; the wrapper until it forked)."""
        if not self._wrapped:
            return self.proc.pid
        if self._inner is None:
            try:
                kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
                self._inner = int(kids.split()[0]) if kids.split() else None
            except OSError:
                pass
        return self._inner or self.proc.pid

    def wait_healthy(self, timeout: float = 90.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.url} did not come up in {timeout} s")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        return rss_mb(self.pid)

    def gc_line(self) -> str:
        """The last collector statistics line studio/perf.py printed (with BATCH_GC_LOG)."""
        self.log.flush()
        lines = [ln for ln in Path(self.log.name).read_text(errors="replace").splitlines()
                 if ln.startswith("batchstudio-gc")]
        return lines[-1] if lines else "no GC statistics (tune_gc not active)"

    def stop(self) -> None:
        stop_process(self.proc, self.log)


def launch_browser(playwright):
    if not Path(CHROMIUM).exists():
        raise SystemExit("chromium is missing: apt-get install -y chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(IDLE, timeout=timeout_ms)


# --- statistics and the table ---------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def spread(values: list[float]) -> str:
    """Interquartile range and the extremes, so noise is visible."""
    if not values:
        return "-"
    return (f"IQR {pct(values, .25):.4g}–{pct(values, .75):.4g}, "
            f"min–max {min(values):.4g}–{max(values):.4g}, n={len(values)}")


@dataclass
class Result:
    name: str
    unit: str
    a_label: str
    a: list[float]
    b_label: str = ""
    b: list[float] = field(default_factory=list)
    target: str = ""
    ok: bool | None = None
    ratio: float | None = None
    note: str = ""
    load: str = field(default_factory=loadavg)

    def lines(self) -> list[str]:
        out = [f"| {self.name} | {self.a_label} | {statistics.median(self.a):.4g} {self.unit} | "
               f"{spread(self.a)} | "
               + (f"{self.ratio:.3g}" if self.ratio is not None else "-")
               + f" | {self.target} | " + ("PASS" if self.ok else "FAIL" if self.ok is not None
                                             else "-") + f" | {self.load} |"]
        if self.b:
            out.append(f"| | {self.b_label} | {statistics.median(self.b):.4g} {self.unit} | "
                       f"{spread(self.b)} | | | | |")
        if self.note:
            out.append(f"| | _{self.note}_ | | | | | | |")
        return out


HEADER = ["| benchmark | what | median | spread | ratio | target | result | load avg (1/5/15 min) |",
          "|---|---|---|---|---|---|---|---|"]


def ratio(a: list[float], b: list[float]) -> float:
    den = statistics.median(b)
    return statistics.median(a) / den if den else float("inf")


def banner(note: str = "") -> None:
    """The command line and the machine, printed before a benchmark starts."""
    import platform

    print(f"# {' '.join(['bench/' + Path(sys.argv[0]).name, *sys.argv[1:]])}{note}")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average at start {loadavg()}")


def report(results: list[Result], started: float, json_path: Path | None = None) -> None:
    """Print the end-of-run load, the time taken and the table; write the raw numbers as
    JSON too when ``json_path`` is given."""
    import json

    print(f"load average at end {loadavg()}; took {time.perf_counter() - started:.0f} s\n")
    print("\n".join(HEADER))
    for r in results:
        print("\n".join(r.lines()))
    if json_path is not None:
        json_path.write_text(json.dumps([r.__dict__ for r in results], indent=1, default=str))
