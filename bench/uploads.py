"""Six 9 MB references through the page vs a raw upload of the same bytes (issue 13's upload rows).

    python3 bench/uploads.py [--quick] [--only backend,gcs] [--reps N] [--json out.json]

Six distinct 24 MP (6000 × 4000) JPEGs of about 9 MB each are generated here first
(``bench/upload_check.photo_jpeg`` with six seeds; nothing is downloaded). Then, per mode, a
real ``streamlit run streamlit_app.py`` on loopback (``bench.common.Server``) and a real
upload destination on loopback:

* **backend**: the app in *live* mode against the served orchestrator emulator
  (``python3 -m batchcore.emulator --port P --latency-ms 0 --rate-limit 0``), with
  ``ORCHESTRATOR_URL=http://127.0.0.1:P`` and a made-up key (built at run time in the
  emulator's format ``aip`` + ``_`` + 44 characters, because the emulator refuses any other
  shape; it is accepted only by this emulator, which is told so through
  ``BATCH_STUDIO_EMULATOR_KEYS``).
* **gcs**: ``REFERENCE_UPLOAD=gcs`` against ``gcp-storage-emulator`` (``--in-memory``), with a
  service account whose RSA key is generated at run time (mock mode: a loopback
  ``GCS_ENDPOINT`` is allowed without a key).

The two sides, interleaved ABBA (``--reps`` pairs, after one warm-up of each that is not
counted):

* **A, through the page**: a fresh Chromium tab opens the app and waits until it is idle
  (``[data-testid=stApp][data-test-script-state=notRunning]``; in backend mode also until the
  sidebar says the key was accepted). The clock starts at Playwright's ``set_input_files`` of
  the six files on the page's reference uploader and stops when the page says "6 reference
  image(s), attached to every row", shows all six chips' names and is idle again. That is:
  the browser sends the files to Streamlit, the script reruns, checks them
  (``batchcore.adapters.uploads.check_references``), uploads them to the destination and
  draws the chips.
* **B, raw**: the same bytes (already in this process's memory) sent straight to the same
  destination with httpx, in the same shape the app's client uses: backend, one ``POST
  /upload-reference`` with the six files as multipart field ``images`` and the key header;
  gcs, six ``PUT /<bucket>/<object>`` one after another with the image's content type
  (the storage emulator ignores signatures, so no signing is needed for the raw side).

Target: median A ÷ median B ≤ 1.5.

Server memory (``bench.common.rss_mb`` of the ``streamlit run`` process, read every 50 ms
from before ``set_input_files`` until the page is idle): *peak − before* per upload, compared
with 2 × the largest file (the target); *3 s after* (the tab still open) − before; and,
once every tab is closed and its session has expired, the server's RSS against its RSS
before the first counted upload (is it given back?). Sessions expire after
``server.disconnectedSessionTTL``, set to 5 s here (default 120 s) so a run stays short.

Every line prints the load average at that moment (2 shared cores: read it before believing
a number). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    banner,
    report,
    made_up_key,
    stop_process,
    ROOT,
    Result,
    Server,
    free_port,
    idle,
    launch_browser,
    loadavg,
    ratio,
    rss_mb,
)

APP, FLOOR = "streamlit_app.py", "bench/apps/upload_floor.py"
N_FILES = 6
BUCKET = "bench-refs"
SESSION_TTL = 5  # seconds a closed tab's session lingers (Streamlit's default is 120)
_MB = 1024 * 1024


def order(i: int) -> tuple[int, int]:
    """ABBA: alternate which side goes first, so a slow drift hits both equally."""
    return (0, 1) if i % 2 == 0 else (1, 0)


# --- the files ------------------------------------------------------------------------------


def make_files(folder: Path) -> list[Path]:
    """Six distinct ~9 MB 24 MP JPEGs, made in a child process (its memory is not ours)."""
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
            "from bench.upload_check import photo_jpeg;"
            "[Path(sys.argv[2], f'reference-{i + 1}.jpg').write_bytes(photo_jpeg(seed=100 + i))"
            f" for i in range({N_FILES})]")
    subprocess.run([sys.executable, "-c", code, str(ROOT), str(folder)], check=True)
    return sorted(folder.glob("reference-*.jpg"))


# --- destinations ---------------------------------------------------------------------------


class Process:
    """A helper server on loopback (the orchestrator or storage emulator), stopped at the end."""

    def __init__(self, args: list[str], health: str, tmp: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / f"helper-{self.port}.log", "wb")
        full_env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **env}
        self.proc = subprocess.Popen([a.replace("{port}", str(self.port)) for a in args],
                                     cwd=tmp, env=full_env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + health, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{args[:3]} did not start; see {self.log.name}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc, self.log)



def service_account() -> str:
    """A service account whose RSA key is generated now (it signs URLs for the storage emulator)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "bench-uploads",
                       "private_key_id": "made-at-run-time", "private_key": pem,
                       "client_email": "bench@bench-uploads.iam.gserviceaccount.com",
                       "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"})


def raw_backend(url: str, key: str, files: list[tuple[str, bytes]]) -> float:
    """One multipart POST of every file to /upload-reference, as the app's client sends it."""
    parts = [("images", (name, data, "image/jpeg")) for name, data in files]
    with httpx.Client(timeout=120) as http:
        start = time.perf_counter()
        response = http.post(f"{url}/upload-reference", files=parts, headers={"X-API-Key": key})
        elapsed = time.perf_counter() - start
    response.raise_for_status()
    if len(response.json()["images"]) != len(files):
        raise RuntimeError("the emulator did not store every file")
    return elapsed


def raw_gcs(url: str, files: list[tuple[str, bytes]], rep: int) -> float:
    """A PUT per file, one after another, with its content type (as the uploader sends them)."""
    with httpx.Client(timeout=120) as http:
        start = time.perf_counter()
        for name, data in files:
            r = http.put(f"{url}/{BUCKET}/raw/{rep}-{name}", content=data,
                         headers={"Content-Type": "image/jpeg"})
            r.raise_for_status()
        return time.perf_counter() - start


# --- through the page -----------------------------------------------------------------------


class RssSampler:
    """The server's RSS every ``every`` seconds on a thread of its own; ``peak`` when stopped."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except FileNotFoundError:  # the server has stopped
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))
        return self.peak


_WATCH_RUN = """() => {
  window.__runAt = null;
  const app = document.querySelector('[data-testid=stApp]');
  new MutationObserver(() => {
    if (window.__runAt === null && app.dataset.testScriptState === 'running')
      window.__runAt = performance.now();
  }).observe(app, {attributes: true});
  window.__t0 = performance.now();
}"""
"""Notes (browser clock) when the script starts running: the files are all in Streamlit then."""


def page_upload(browser, server: Server, paths: list[Path], *, live: bool,
                done_text: str = "") -> dict[str, float]:
    """Seconds from set_input_files to six chips shown and the page idle; server RSS around it."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(server.url)
        idle(page)
        if live:
            page.get_by_text("Key accepted by").first.wait_for()
        page.wait_for_timeout(1000)  # the first run's after-work settles
        before, cpu0 = server.rss(), server.cpu()
        sampler = RssSampler(server.pid)
        start = time.perf_counter()
        page.evaluate(_WATCH_RUN)
        page.locator("input[type=file]").first.set_input_files([str(p) for p in paths])
        done = done_text or f"{len(paths)} reference image(s), attached to every row"
        # a run too short to be drawn as "running" (the floor page, an idle machine) is
        # seen by its result instead: then the time is an upper bound
        page.wait_for_function(
            "t => window.__runAt !== null || document.body.innerText.includes(t)", arg=done)
        received = page.evaluate("() => ((window.__runAt ?? performance.now()) - window.__t0)"
                                 " / 1000")
        peak_received = sampler.peak  # (read a little late: an upper bound)
        page.get_by_text(done).first.wait_for()
        for p in paths if not done_text else []:
            page.get_by_text(p.name, exact=True).first.wait_for()
        idle(page)
        elapsed = time.perf_counter() - start
        peak = sampler.stop()
        cpu = server.cpu() - cpu0
        page.wait_for_timeout(3000)
        after = server.rss()
    finally:
        context.close()
    return {"s": elapsed, "received": received, "before": before, "peak": peak, "after": after,
            "cpu": cpu, "peak_received": peak_received}


# --- one mode -------------------------------------------------------------------------------


def run_mode(mode: str, browser, tmp: Path, paths: list[Path], reps: int,
             server_env: dict[str, str], profile: Path | None = None,
             floor_reps: int = 0) -> list[Result]:
    files = [(p.name, p.read_bytes()) for p in paths]
    largest = max(len(d) for _, d in files) / _MB
    helpers: list[Process] = []
    server: Server | None = None
    try:
        if mode == "backend":
            key = made_up_key()
            emu = Process([sys.executable, "-m", "batchcore.emulator", "--port", "{port}",
                           "--latency-ms", "0", "--rate-limit", "0"], "/healthz", tmp,
                          {"BATCH_STUDIO_EMULATOR_KEYS": key, "PYTHONPATH": str(ROOT)})
            helpers.append(emu)
            env = {"ORCHESTRATOR_API_KEY": key, "ORCHESTRATOR_URL": emu.url}

            def raw(rep: int) -> float:
                return raw_backend(emu.url, key, files)
        else:
            gcs = Process([sys.executable, "-m", "gcp_storage_emulator", "start", "--host",
                           "127.0.0.1", "--port", "{port}", "--in-memory", "--default-bucket",
                           BUCKET], "/", tmp, {})
            helpers.append(gcs)
            env = {"REFERENCE_UPLOAD": "gcs", "GCS_BUCKET": BUCKET, "GCS_ENDPOINT": gcs.url,
                   "GCS_SERVICE_ACCOUNT": service_account(), "GCS_PREFIX": "page/"}

            def raw(rep: int) -> float:
                return raw_gcs(gcs.url, files, rep)
        server = Server(APP, tmp, extra_env={**env, **server_env},
                        extra_args=["--server.disconnectedSessionTTL", str(SESSION_TTL)])
        live = mode == "backend"
        sides: list[Callable[[int], dict[str, float]]] = [
            lambda rep: page_upload(browser, server, paths, live=live),
            lambda rep: {"s": raw(rep)},
        ]
        for k in (0, 1):  # warm-up (imports, first connections), not counted
            sides[k](-1)
        time.sleep(SESSION_TTL + 3)
        baseline = server.rss()
        spy = None
        if profile:  # py-spy on the server for the counted part (experiments; slows it a little)
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--rate", "200",
                                    "--threads", "--idle", "--format", "raw",
                                    "--output", str(profile.with_suffix(f".{mode}.txt"))],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        values: list[list[dict[str, float]]] = [[], []]
        for i in range(reps):
            for k in order(i):
                values[k].append(sides[k](i))
                time.sleep(0.5)
        held = server.rss()
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=30)
        time.sleep(SESSION_TTL + 4)  # every tab is closed: their sessions expire
        gone = server.rss()
        server.stop()
        server = None
        floor = []
        if mode == "backend" and floor_reps:  # Streamlit's own cost for the same six files
            server = Server(FLOOR, tmp, extra_env=server_env)
            text = f"{len(paths)} file(s) received"
            for i in range(floor_reps + 1):
                got = page_upload(browser, server, paths, live=False, done_text=text)
                if i:  # the first one warms up
                    floor.append(got)
    finally:
        if server is not None:
            server.stop()
        for h in helpers:
            h.stop()
    extra = []
    if floor:
        extra.append(Result(
            "Streamlit's floor: the same six files on a bare st.file_uploader page "
            "(bench/apps/upload_floor.py)", "s", "set_input_files → '6 file(s) received', idle",
            [v["s"] for v in floor], "server RSS peak − before (MB)",
            [v["peak"] - v["before"] for v in floor], "(info)", None,
            ratio([v["s"] for v in floor], [v["s"] for v in values[1]]),
            note="ratio column: this page's time ÷ the raw upload's; its second line is MB, "
                 "not s"))
    a = [v["s"] for v in values[0]]
    b = [v["s"] for v in values[1]]
    r = ratio(a, b)
    grow = [v["peak"] - v["before"] for v in values[0]]
    kept = [v["after"] - v["before"] for v in values[0]]
    cpu = statistics.median(v["cpu"] for v in values[0])
    received = statistics.median(v["received"] for v in values[0])
    grow_received = statistics.median(v["peak_received"] - v["before"] for v in values[0])
    name = {"backend": "backend: 6 × 9 MB through the page vs raw POST /upload-reference",
            "gcs": "gcs: 6 × 9 MB through the page vs raw PUTs to the storage emulator"}[mode]
    dest = {"backend": "raw POST (one multipart request)", "gcs": "raw PUTs (six, in turn)"}[mode]
    return extra + [
        Result(f"{name}: seconds", "s", "through the page (set_input_files → 6 chips, idle)", a,
               dest, b, "≤ 1.5×", r <= 1.5, r,
               note=f"of the page's time, {received:.2f} s (median) until the six files were in "
                    f"Streamlit and the script ran; server CPU per page upload {cpu:.2f} s; files {largest:.1f} MB at most, "
                    f"{sum(len(d) for _, d in files) / _MB:.1f} MB in all"),
        Result(f"{mode}: server RSS peak − before, per page upload", "MB", "peak − before",
               grow, "3 s after, tab open: after − before", kept,
               f"≤ 2 × largest ({2 * largest:.1f} MB)", max(grow) <= 2 * largest,
               statistics.median(grow) / largest,
               note=f"ratio column: median ÷ the largest file; peak − before while Streamlit "
                    f"received the files (until the script ran) {grow_received:.0f} MB; RSS before the first counted "
                    f"upload {baseline:.0f} MB, after the last upload (tabs open or just closed) "
                    f"{held:.0f} MB, {SESSION_TTL + 4} s after every tab closed {gone:.0f} MB: "
                    f"{gone - baseline:+.0f} MB kept"),
    ]


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 ABBA pairs per mode (~3 minutes)")
    parser.add_argument("--only", default="backend,gcs")
    parser.add_argument("--reps", type=int, help="pairs per mode (default 3 with --quick, else 6)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the app server (experiments)")
    parser.add_argument("--profile", type=Path, help="py-spy the server's counted part into "
                        "<this>.<mode>.txt (collapsed stacks)")
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    reps = args.reps or (3 if args.quick else 6)
    from playwright.sync_api import sync_playwright

    banner()
    results: list[Result] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as tmp_s, sync_playwright() as p:
        tmp = Path(tmp_s)
        folder = tmp / "files"
        folder.mkdir()
        paths = make_files(folder)
        print(f"files: {', '.join(f'{q.stat().st_size / _MB:.2f}' for q in paths)} MB "
              f"(made in {time.perf_counter() - t_start:.0f} s); load {loadavg()}")
        browser = launch_browser(p)
        try:
            for mode in args.only.split(","):
                results.extend(run_mode(mode, browser, tmp, paths, reps, server_env, args.profile,
                                       floor_reps=reps))
                print(f"{mode} done at {time.perf_counter() - t_start:.0f} s; load {loadavg()}")
        finally:
            browser.close()
    report(results, t_start, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
