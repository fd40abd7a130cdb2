"""Bring a served page to the "max" state the benchmarks need.

1. :func:`generate_in_browser` drives the real page in Chromium once per server: Batch mode,
   ten ``SCENE-0NN | prompt | 3`` lines, Parse, Dry-Run Images, Generate Images, Confirm.
   That makes the server's own emulator render (and keep) the 30 images; their URLs are
   deterministic (scene, prompt, variant), so the same batch on another server yields the
   same URLs.
2. :func:`derive` copies that workspace in the SQLite store, with its log padded to
   ``log_lines`` entries and, for "watching a job", a paid image submission in flight that
   belongs to another replica (``runner`` on another host, started just now). The page then
   keeps that job in flight — its status-log fragment ticks every second — without any
   background work in this process, so what is measured is the page's own cost per tick.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from batchcore.adapters.store import WorkspaceStore
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import Submission, WorkflowState, append_log

from .common import idle

ROWS = 10
VARIANTS = 3
BATCH = "\n".join(
    f"SCENE-{i:03d} | Benchmark scene {i}: a modern kitchen with morning light, wide shot | "
    f"{VARIANTS}" for i in range(1, ROWS + 1))


def open_confirmation(page, url: str, text: str = BATCH) -> None:
    """A new workspace with ``text`` as its batch, parsed and dry-run, up to the open
    confirmation dialog. Each step waits for what it makes (the grid, the receipt), not
    only for the page to be idle: right after a click the page can still look idle, and a
    click sent while the previous one's run is starting can interrupt that run."""
    page.goto(url)
    page.get_by_role("heading", name="2. Prompts").wait_for()
    idle(page)
    box = page.locator("textarea[aria-label='Batch']")
    if not box.is_visible():  # Batch is the default mode; choose it if it is not
        page.get_by_test_id("stRadioGroup").get_by_text("Batch", exact=True).first.click()
        box.wait_for()
        idle(page)
    box.fill(text)
    box.press("Control+Enter")
    idle(page)
    _click_until(page, "Parse", page.get_by_test_id("stDataFrame").first)  # the grid
    _click_until(page, "Dry-Run Images", page.get_by_text("Dry-run receipt").first)
    _click_until(page, "Generate Images",
                 page.get_by_role("button", name=re.compile("^Confirm — spend")))


def _click_until(page, button: str, outcome, tries: int = 4, timeout_ms: int = 15_000) -> None:
    """Click ``button`` until ``outcome`` shows. Once is enough on the app; the
    autorefresh comparison page reruns the whole script every second, and a rerun that
    lands while a click's run is starting replaces it (Streamlit's fast reruns), so there
    a click can need another try."""
    for attempt in range(tries):
        page.get_by_role("button", name=button).click()
        try:
            outcome.wait_for(timeout=timeout_ms)
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: try once more
            if attempt == tries - 1:
                raise
            continue
        idle(page)
        return


def generate_steps(page, url: str) -> None:
    """Open ``url`` (a new workspace), generate the max batch and wait for its images."""
    open_confirmation(page, url)
    page.get_by_role("button", name=re.compile("^Confirm — spend")).click()
    last = page.get_by_role("button", name=f"Approve SCENE-{ROWS:03d} #{VARIANTS}")
    try:
        last.wait_for(timeout=30_000)
    except Exception:  # noqa: BLE001 - a page that does not tick (autorefresh off): reload
        page.reload()
        last.wait_for()
    idle(page)


def generate_in_browser(browser, url: str, timeout_ms: int = 120_000) -> str:
    """Generate the max batch through the page; return the workspace id."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        generate_steps(page, url)
        page.wait_for_timeout(500)
        wid = re.search(r"[?&]w=([^&]+)", page.url)
        if not wid:
            raise RuntimeError(f"no workspace id in {page.url}")
        return wid.group(1)
    finally:
        context.close()


def max_state(base: WorkflowState, log_lines: int = 1000) -> WorkflowState:
    images = sum(len(v) for v in base.images.values())
    if images != ROWS * VARIANTS:
        raise RuntimeError(f"the generated workspace has {images} images, not {ROWS * VARIANTS}")
    now = datetime.now(timezone.utc)
    pad = max(0, log_lines - len(base.log))
    entries = [log_entry("running", f"benchmark padding line {i}: polling the batch",
                         job_id=f"job-{i % 30:04d}", scene_id=f"SCENE-{i % ROWS + 1:03d}",
                         now=now - timedelta(seconds=pad - i))
               for i in range(pad)]
    return append_log(base, *entries)


def watching(state: WorkflowState) -> WorkflowState:
    """``state`` with a paid image call in flight on another replica (fragment ticks)."""
    sub = Submission(batch_hash="bench" + secrets.token_hex(30), kind="images",
                     cost=Decimal("0.06"), started_at=datetime.now(timezone.utc),
                     runner="bench-replica.invalid:1:bench")
    return state.model_copy(update={"submissions": {**state.submissions, sub.batch_hash: sub}})


def derive(db_url: str, wid: str, n: int, *, in_flight: bool,
           log_lines: int = 1000) -> list[str]:
    """``n`` new workspaces in the store: copies of ``wid`` at the max state."""
    store = WorkspaceStore(db_url)
    try:
        loaded = store.load(wid)
        if loaded.problem:
            raise RuntimeError(loaded.problem)
        state = max_state(loaded.state, log_lines)
        return [store.new_workspace(watching(state) if in_flight else state) for _ in range(n)]
    finally:
        store.close()
