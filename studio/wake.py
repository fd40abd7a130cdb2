"""Let the background worker wake this page's status fragment when its job finishes.

Streamlit has no public way for another thread to rerun a session. This uses its runtime
(``Runtime.instance()``, the session's ``AppSession``) to start a run of the calling
fragment, exactly as the browser's own ``run_every`` tick would (same fragment, same
address and page; the widgets as the session has them). Every internal name is looked up
under a guard: when one is missing (another Streamlit version) :func:`watch` does nothing
and the page keeps finding out at its next tick, as before.

No lost clicks: the run is started only while the session runs nothing. If a run is under
way (a click, a tick) the wake is tried again every 50 ms for up to 2 s (the run under way
or the page's next tick sees the finished job anyway); a click that arrives while the woken
fragment runs interrupts it as it would interrupt a tick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchcore.service_layer import services
from batchcore.service_layer.services import Workspace

from .runtime import Runtime

__all__ = ["watch", "waker"]

RETRY_S = 0.05
RETRIES = 40


def waker() -> tuple[str, Callable[[], bool]] | None:
    """(this session's id, a callable that reruns the calling fragment now), or None when
    not inside a fragment or Streamlit's internals are not the ones this knows."""
    try:
        from streamlit.runtime import Runtime as StreamlitRuntime
        from streamlit.runtime.app_session import AppSessionState
        from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
        from streamlit.runtime.scriptrunner_utils.script_run_context import (
            ThreadState,
            get_script_run_ctx,
        )

        ctx = get_script_run_ctx()
        fragment_id = ThreadState.get().fragment_id
        if ctx is None or not fragment_id or not StreamlitRuntime.exists():
            return None
        manager = StreamlitRuntime.instance()._session_mgr
        session_id = ctx.session_id
        info = manager.get_active_session_info(session_id)
        if info is None:
            return None
        session: Any = info.session
        loop = session._event_loop
        rerun = RerunData(query_string=ctx.query_string, page_script_hash=ctx.page_script_hash,
                          fragment_id=fragment_id, is_auto_rerun=True,
                          context_info=ctx.context_info)
        for name in ("_scriptrunner", "_state", "_create_scriptrunner", "has_fragment"):
            getattr(session, name)
        shutting_down = AppSessionState.SHUTDOWN_REQUESTED
    except Exception:  # noqa: BLE001 - any mismatch: no waker, the tick remains
        return None

    def on_loop(tries: int) -> None:  # on Streamlit's event loop, like a browser message
        try:
            if session._state == shutting_down or not session.has_fragment(fragment_id):
                return
            if session._scriptrunner is not None:  # a run is under way: never preempt it
                if tries > 0:
                    loop.call_later(RETRY_S, on_loop, tries - 1)
                return
            session._create_scriptrunner(rerun)
        except Exception:  # noqa: BLE001 - the page's own tick remains
            return

    def wake() -> bool:
        if manager.get_active_session_info(session_id) is None:
            return False
        loop.call_soon_threadsafe(on_loop, RETRIES)
        return True

    return session_id, wake


def watch(rt: Runtime, ws: Workspace) -> None:
    """Called from the status fragment while paid work is in flight: wake it when done."""
    found = waker()
    if found is not None:
        services.watch(rt, ws, *found)
