"""Runs slow calls (the synchronous live call can take minutes) off the page's script thread.

A :class:`JobRunner` is process-wide (the page keeps one in ``st.cache_resource``). Each job
has a key — the batch hash of the paid call — and the runner refuses a second job with a
key that is still running, so a double click or a second tab can never submit twice.
The page polls :meth:`JobRunner.get` from a fragment and turns finished jobs into workflow
state with pure functions; the worker thread never touches Streamlit.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Job", "JobRunner", "process_token", "token_may_be_alive"]


def _scope() -> str:
    """What a pid means here: this boot of the machine and this pid namespace, hashed.

    A restarted container usually keeps its host name and often its pid (PID 1), but gets
    a new pid namespace; two containers may share a host name (host networking) and both be
    PID 1. Only within one scope does "pid N is alive" say anything about a token.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux: tokens carry no scope, as before
        return ""
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:8]


_SCOPE = _scope()
_TOKEN = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}" + \
    (f":{_SCOPE}" if _SCOPE else "")


def process_token() -> str:
    """Who runs jobs here: ``host:pid:boot[:scope]``, stamped on each paid submission."""
    return _TOKEN


def token_may_be_alive(token: str, age_seconds: float, grace_seconds: float) -> bool:
    """Could the process named by ``token`` still be running the call it sent?

    This process: yes. Another process of this host, pid namespace and boot (the same
    scope): only if its pid is alive (a restart leaves a dead pid), and never when its pid
    is ours (we are a later process with that pid). Anything else — another host, another
    container, an older token without a scope that names our own pid — we cannot look at,
    so we assume yes until the call is older than ``grace_seconds`` (its own timeout and
    then some).
    """
    if not token or token == _TOKEN:
        return token == _TOKEN
    host, _, rest = token.partition(":")
    pid_text, _, rest = rest.partition(":")
    scope = rest.partition(":")[2]
    if host == socket.gethostname() and pid_text.isdigit() and (not scope or scope == _SCOPE):
        pid = int(pid_text)
        if pid == os.getpid():
            # a previous process with our pid: dead if it was in our scope; without a scope
            # it may be a container beside us with the same host name and pid
            return not scope and age_seconds < grace_seconds
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return age_seconds < grace_seconds

JobState = Literal["running", "done", "error"]
_EVENTS_LOCK = threading.Lock()


@dataclass
class Job:
    """One background call: its result or exception once it has finished."""

    key: str
    kind: str
    started: float = field(default_factory=time.monotonic)
    state: JobState = "running"
    result: Any = None
    error: BaseException | None = None
    finished: float | None = None
    #: status lines the worker produced; the page appends ``events[cursor:]`` to the log.
    events: list[Any] = field(default_factory=list)
    cursor: int = 0
    progress: float | None = None
    #: ids the server gave to poll (job id → scene id), copied into the state as they come
    poll_ids: dict[str, str] = field(default_factory=dict)
    #: the server's batch id, once it has answered (kept with the poll ids)
    batch_id: str = ""
    #: set once the server answered the paid request with an accepted batch (billed)
    accepted: bool = False
    #: why the last status check failed ("" once one works again)
    fetch_problem: str = ""
    #: the server refused the id to poll by (it can never be asked about): stop polling
    unpollable: bool = False
    #: the batch hash of the paid call this job runs (the key, unless the runner was given
    #: another key: the services key jobs by workspace and hash)
    batch_hash: str = ""
    #: when a worker thread took the job (None while it waits for a free one)
    begun: float | None = None
    #: the order jobs were started in (the queue is first come, first served)
    seq: int = 0
    #: called by the worker at each point worth saving (the answer came, a poll changed
    #: something); the service layer saves the workspace there
    on_checkpoint: Callable[[Job], object] | None = None

    def __post_init__(self) -> None:
        self.batch_hash = self.batch_hash or self.key

    def checkpoint(self) -> None:
        """Tell the listener there is something worth saving now."""
        if self.on_checkpoint is not None:
            self.on_checkpoint(self)

    def take_events(self) -> list[Any]:
        """The status lines produced since the last call (each is handed out once)."""
        with _EVENTS_LOCK:
            fresh = self.events[self.cursor:]
            self.cursor += len(fresh)
        return fresh

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished)."""
        return (self.finished or time.monotonic()) - self.started


class JobRunner:
    """A thread pool whose jobs are addressed by key; one running job per key.

    The work is I/O-bound (a paid call that waits minutes for the server, then polling), so
    the pool is sized for waiting threads, not cores. When every worker is busy a new job
    waits its turn: :meth:`queued_ahead` says so, and nothing is sent until it starts.
    """

    def __init__(self, max_workers: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="batch-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._seq = 0

    def start(self, key: str, kind: str, fn: Callable[[Job], Any], *,
              batch_hash: str = "") -> bool:
        """Start ``fn(job)`` in the background; False (and nothing started) if ``key`` is
        running. ``batch_hash`` names the paid call (default: the key)."""
        with self._lock:
            current = self._jobs.get(key)
            if current is not None and current.state == "running":
                return False
            self._seq += 1
            job = Job(key=key, kind=kind, seq=self._seq, batch_hash=batch_hash)
            self._jobs[key] = job
        self._pool.submit(self._run, job, fn)
        return True

    def _run(self, job: Job, fn: Callable[[Job], Any]) -> None:
        with self._lock:
            job.begun = time.monotonic()
        try:
            result = fn(job)
        except BaseException as exc:  # reported to the page, never swallowed
            with self._lock:
                job.error, job.state, job.finished = exc, "error", time.monotonic()
        else:
            with self._lock:
                job.result, job.state, job.finished = result, "done", time.monotonic()

    def get(self, key: str) -> Job | None:
        """The job with ``key``, running or finished, or None if this process never ran it."""
        with self._lock:
            return self._jobs.get(key)

    def running(self) -> list[Job]:
        """Jobs still running."""
        with self._lock:
            return [j for j in self._jobs.values() if j.state == "running"]

    def queued_ahead(self, key: str) -> int | None:
        """None when the job with ``key`` has a worker (or is not here); else how many
        waiting jobs are ahead of it (0: it is next)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.begun is not None or job.state != "running":
                return None
            return sum(1 for j in self._jobs.values()
                       if j.state == "running" and j.begun is None and j.seq < job.seq)

    def forget(self, key: str) -> None:
        """Drop a finished job once its outcome has been recorded."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != "running":
                del self._jobs[key]

    def wait(self, key: str, timeout: float = 30.0) -> Job | None:
        """Block until the job has finished (for tests and scripts; the page never waits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(key)
            if job is None or job.state != "running":
                return job
            time.sleep(0.01)
        return self.get(key)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
