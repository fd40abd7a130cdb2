"""Garbage-collector tuning for the Streamlit server process (see bench/RESULTS.md).

Streamlit runs a full ``gc.collect(2)`` after every script run and every fragment tick
(``[runner] postScriptGC``). A full collection walks every tracked object in the process:
pandas, pyarrow, pydantic, Streamlit itself, and every session's state. On a 2-core server
that was 71 % of a page rerun and ~80 % of a status-log tick, and it grows with the number of
sessions, so the server collapsed past ~12 watching sessions.

The fix has two halves:

* ``.streamlit/config.toml`` turns ``runner.postScriptGC`` off. Python's own generational
  collector still runs (young generations often and cheaply; a full collection only once the
  objects that survived into the old generation have grown by 25 %), so cyclic garbage is
  still reclaimed and memory stays bounded.
* :func:`tune_gc`, called once the app's long-lived objects exist (right after the runtime
  is built), collects once and then ``gc.freeze()``s everything alive at that point — modules,
  the runtime, the emulator, caches — into the permanent generation, so no later collection
  walks them again. Those objects live as long as the process anyway. A daemon thread then
  runs a full collection every ``sweep_seconds`` as a backstop, so cyclic garbage never
  outlives that period whatever the allocation pattern (a frozen heap makes it cheap).

:func:`tune_heap` makes glibc give every freed buffer of 1 MiB or more back to the system at
once (``batchcore.adapters.heap``): an upload's copies of six 9 MB references no longer stay
in the server's RSS once they are freed. ``BATCH_HEAP_TUNING=off`` skips it.

``BATCH_GC_TUNING=off`` in the environment skips :func:`tune_gc` (for A/B measurements);
``BATCH_GC_LOG=1`` makes the sweeper print the collector's pause statistics to stderr.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from typing import Any

from batchcore.adapters import heap

__all__ = ["gc_report", "tune_gc", "tune_heap"]

_lock = threading.Lock()
_state: dict[str, Any] = {"tuned": False, "frozen": 0, "sweeps": 0, "sweep_ms_max": 0.0}
#: per generation: [collections, total ms, max ms] since tune_gc (all threads)
_pauses: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}
_started: list[float] = [0.0]


def _on_gc(phase: str, info: dict) -> None:
    # Runs inside the collector, holding the GIL: no allocation-heavy work here.
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    ms = (time.perf_counter() - _started[0]) * 1000
    p = _pauses.get(info.get("generation", 2))
    if p is not None:
        p[0] += 1
        p[1] += ms
        p[2] = max(p[2], ms)


def _sweeper(period: float) -> None:
    log = os.environ.get("BATCH_GC_LOG", "").strip().lower() in ("1", "true", "yes", "on")
    while True:
        time.sleep(period)
        start = time.perf_counter()
        gc.collect(2)
        ms = (time.perf_counter() - start) * 1000
        _state["sweeps"] = int(_state["sweeps"]) + 1
        _state["sweep_ms_max"] = max(float(_state["sweep_ms_max"]), ms)
        if log:
            print(f"batchstudio-gc sweep {ms:.1f} ms; collections since start, sweeps included "
                  "(n, total ms, max ms): "
                  + "; ".join(f"gen{g} {int(n)} {t:.0f} {m:.1f}"
                              for g, (n, t, m) in _pauses.items()),
                  file=sys.stderr, flush=True)


def tune_gc(sweep_seconds: float = 60.0) -> bool:
    """Freeze the long-lived heap once per process; True the first time it acts.

    Call it on every run (it is cheap and idempotent) after the runtime is built.
    """
    if _state["tuned"]:
        return False
    if os.environ.get("BATCH_GC_TUNING", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    with _lock:
        if _state["tuned"]:
            return False
        gc.collect()  # what is garbage now must not be frozen for ever
        gc.freeze()
        _state["frozen"] = gc.get_freeze_count()
        _state["tuned"] = True
        gc.callbacks.append(_on_gc)
        if sweep_seconds and sweep_seconds > 0:
            threading.Thread(target=_sweeper, args=(float(sweep_seconds),),
                             name="gc-sweeper", daemon=True).start()
    return True


def tune_heap() -> bool:
    """Large freed buffers go back to the system (glibc); True when that is in force.

    Cheap and idempotent: call it on every run."""
    if os.environ.get("BATCH_HEAP_TUNING", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    return heap.large_buffers_to_os()


def gc_report() -> dict[str, object]:
    """What :func:`tune_gc` did (for diagnostics and benchmarks)."""
    return {**_state, "pauses": {g: tuple(p) for g, p in _pauses.items()},
            "counts": gc.get_count(), "thresholds": gc.get_threshold()}
