"""Watchers: the pages watching a workspace are woken once when a job there finishes."""

from __future__ import annotations

from batchcore.adapters.wakeup import Watchers


class Clock:
    """A manual clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_finished_job_wakes_each_watching_page_once():
    """Every page watching the workspace is woken; a second wake finds nobody (one-shot)."""
    woken: list[str] = []
    w = Watchers()
    w.watch("ws1", "tab-a", lambda: woken.append("a") or True)
    w.watch("ws1", "tab-b", lambda: woken.append("b") or True)
    w.watch("ws2", "tab-c", lambda: woken.append("c") or True)
    assert w.wake("ws1") == 2
    assert sorted(woken) == ["a", "b"]
    assert w.wake("ws1") == 0
    assert w.watching("ws2") == 1


def test_a_page_registering_again_is_woken_once_by_its_newest_waker():
    """Re-registering on every tick replaces the page's waker instead of adding one."""
    woken: list[int] = []
    w = Watchers()
    for tick in range(5):
        w.watch("ws1", "tab-a", lambda tick=tick: woken.append(tick) or True)
    assert w.watching("ws1") == 1
    assert w.wake("ws1") == 1
    assert woken == [4]


def test_gone_or_broken_pages_do_not_stop_the_others():
    """A waker saying its page is gone, or raising, is dropped; the others are still woken."""
    woken: list[str] = []

    def broken() -> bool:
        raise RuntimeError("the session went away")

    w = Watchers()
    w.watch("ws1", "gone", lambda: False)
    w.watch("ws1", "broken", broken)
    w.watch("ws1", "alive", lambda: woken.append("alive") or True)
    assert w.wake("ws1") == 1
    assert woken == ["alive"]
    assert w.watching("ws1") == 0


def test_old_registrations_expire_and_each_workspace_keeps_a_bounded_number():
    """Pages that stopped ticking are forgotten after the ttl; at most per_workspace are kept."""
    clock = Clock()
    w = Watchers(ttl=60.0, per_workspace=3, clock=clock)
    w.watch("ws1", "old", lambda: True)
    clock.now = 61.0
    w.watch("ws2", "new", lambda: True)
    assert w.watching("ws1") == 0
    for i in range(5):
        w.watch("ws3", f"tab-{i}", lambda: True)
    assert w.watching("ws3") == 3


def test_an_unsaved_workspace_or_an_unknown_page_is_not_watched():
    """Without a workspace id or a page key nothing is registered."""
    w = Watchers()
    w.watch("", "tab", lambda: True)
    w.watch("ws1", "", lambda: True)
    assert w.watching("") == 0 and w.watching("ws1") == 0
