"""What one live-status tick costs: the status-log fragment vs a full-page autorefresh.

While a paid call is in flight the page refreshes its status log every second. We do it
with ``@st.fragment(run_every=1)``, which reruns only the status-log section; the common
alternative (``streamlit-autorefresh`` and friends) reruns the whole script every tick.
This runs both through Streamlit's own script runner (AppTest) on the same workspace — the
brief's example batch generated, two images approved, its status log — and prints the
per-tick server time and the number of page elements each tick sends, and their ratios.

    python bench/poll_tick.py [--ticks 30]

Numbers vary with the machine; the ratios are what to compare. No assertion here: this is
a measurement, not a test.

Caveat (issue 13): AppTest's script runner never runs Streamlit's post-run ``gc.collect(2)``,
which was most of a real server's tick, and this runs on a small idle workspace. For the
real server, Chromium and the real ``streamlit-autorefresh``, use
``python3 bench/run.py --only a`` (all of issue 13's benchmarks: ``bench/run.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.app.conftest import (  # noqa: E402
    approve,
    confirm_generate,
    dry_run,
    enter_batch,
    make_app,
)


def _fragment_only() -> None:
    """The status-log section alone: what one fragment tick runs."""
    from studio import page
    from studio.runtime import runtime

    page.status_log(runtime())


def _elements(at: AppTest) -> int:
    def walk(node) -> int:
        children = getattr(node, "children", {}) or {}
        return 1 + sum(walk(c) for c in children.values())
    return walk(at._tree) - 1


def _time(at: AppTest, ticks: int) -> list[float]:
    out = []
    for _ in range(ticks):
        start = time.perf_counter()
        at.run()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        full = make_app(Path(tmp))
        full.run()
        enter_batch(full)
        dry_run(full)
        confirm_generate(full)
        approve(full, "SCENE-001", 2)
        approve(full, "SCENE-002", 3)
        state = full.session_state["wf"]

        frag = AppTest.from_function(_fragment_only, default_timeout=30)
        for name, value in full.secrets.items():
            frag.secrets[name] = value
        frag.session_state["wf"] = state
        frag.session_state["wid"] = "local"  # nothing to save: a tick that changes nothing
        frag.run()
        _time(full, 3), _time(frag, 3)  # warm caches on both sides

        full_t = _time(full, args.ticks)
        frag_t = _time(frag, args.ticks)
        full_n, frag_n = _elements(full), _elements(frag)
    st.cache_resource.clear()

    f_med, g_med = statistics.median(full_t), statistics.median(frag_t)
    print(f"workspace: {len(state.images)} scenes, "
          f"{sum(len(v) for v in state.images.values())} images, {len(state.log)} log lines")
    print(f"ticks measured:            {args.ticks} each")
    print(f"full-page rerun per tick:  {f_med * 1000:8.1f} ms median, {full_n} elements")
    print(f"fragment rerun per tick:   {g_med * 1000:8.1f} ms median, {frag_n} elements")
    print(f"ratio full / fragment:     time {f_med / g_med:5.1f}x, elements {full_n / frag_n:5.1f}x")
    print("idle (nothing in flight): the fragment is not scheduled at all (run_every=None): 0 ticks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
