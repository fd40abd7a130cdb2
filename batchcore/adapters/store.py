"""Persistent workspaces: the whole ``WorkflowState`` saved after every change.

A workspace is one row: a random, unguessable id (it lives in the page URL as ``?w=…``), the
state as JSON text (``model_dump_json``), a version number and two timestamps. A refresh, a
second tab or a bookmark loads the same row; "New workspace" makes a new one.

Where it is stored (SQLAlchemy Core 2.x, no ORM):

* ``DATABASE_URL`` unset: an embedded SQLite file, ``.batchstudio/workspaces.sqlite3`` under
  the current directory (git-ignored), in WAL mode with a busy timeout. Zero configuration.
* ``DATABASE_URL`` set: that database, e.g. PostgreSQL shared by several app replicas.
  ``postgres://`` and ``postgresql://`` URLs are read as ``postgresql+psycopg://`` (psycopg 3).

The schema is created when the store opens (idempotent, safe with several replicas starting at
once). Every write is one transaction.

Concurrency (two tabs on one workspace): every save bumps ``version``. A save that passes
``expected_version`` (the version it loaded or last saved) only succeeds when the row is still
at that version; otherwise it raises :class:`StaleWorkspace` and writes nothing, so the page
reloads and tells the person, instead of one tab silently overwriting the other. A save without
``expected_version`` overwrites unconditionally (last writer wins).

Problems never crash the page: :meth:`WorkspaceStore.load` of a malformed, unknown or
unreadable (corrupt) workspace returns a fresh state plus a ``problem`` sentence. A corrupt row
is never destroyed: it is moved, as it was, to the ``workspace_quarantine`` table. Errors of
the database itself (unreachable, disk full) raise :class:`~batchcore.errors.StoreError` with a
message that never shows a password.

The state holds no secrets, and nothing here stores any.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import NoReturn, TypeVar

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from batchcore.domain import clock
from batchcore.domain.spend import cap_refusal, counted_amount
from batchcore.domain.workflow import WorkflowState, all_submissions
from batchcore.errors import SpendCapExceeded, StoreError, redact

__all__ = [
    "Charge",
    "DEFAULT_SQLITE_PATH",
    "LedgerTotals",
    "Reservation",
    "LoadResult",
    "StaleWorkspace",
    "WORKSPACE_ID_PATTERN",
    "WorkspaceStore",
    "WorkspaceSummary",
    "charges",
    "default_sqlite_url",
    "is_valid_workspace_id",
    "new_workspace_id",
    "normalise_database_url",
    "workspace_quarantine",
    "workspaces",
]

#: 16 random bytes, URL-safe base64 without padding: always exactly 22 characters.
WORKSPACE_ID_PATTERN = r"^[A-Za-z0-9_-]{22}$"
_ID_RE = re.compile(WORKSPACE_ID_PATTERN)
_ID_BYTES = 16

#: Where the embedded SQLite file goes, relative to the current directory.
DEFAULT_SQLITE_PATH = Path(".batchstudio") / "workspaces.sqlite3"
SQLITE_BUSY_TIMEOUT_S = 10.0

_WRITE_ATTEMPTS = 5
_T = TypeVar("_T")


class StaleWorkspace(StoreError):
    """A save carried an ``expected_version`` the workspace is no longer at.

    Another tab (or replica) saved in between; nothing was written. ``current_version`` is
    the version now stored (``None`` when the workspace no longer exists).
    """

    def __init__(self, message: str, *, workspace_id: str, expected_version: int,
                 current_version: int | None) -> None:
        super().__init__(message)
        self.workspace_id = workspace_id
        self.expected_version = expected_version
        self.current_version = current_version


@dataclass(frozen=True)
class LoadResult:
    """What :meth:`WorkspaceStore.load` found.

    ``problem`` is ``None`` when the stored state was loaded; otherwise it is a sentence for
    the person, ``state`` is a fresh ``WorkflowState()`` and ``version`` is 0: the page shows
    the sentence and starts a new workspace.
    """

    workspace_id: str
    state: WorkflowState
    version: int = 0
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class WorkspaceSummary:
    """One line of the History page, derived from a stored state.

    ``spent`` counts each submission's ``actual_cost`` when known, else its estimated
    ``cost`` unless it failed (in-flight and outcome-unknown calls may have been billed).
    ``problem`` is set (and the numbers are 0) when the stored state cannot be read.
    """

    workspace_id: str
    created_at: datetime
    updated_at: datetime
    version: int
    rows: int
    images: int
    submissions: int
    spent: Decimal
    problem: str | None = None


# --- ids and URLs ------------------------------------------------------------------------


def new_workspace_id() -> str:
    """A fresh random id: 128 bits from ``secrets``, 22 URL-safe characters."""
    return secrets.token_urlsafe(_ID_BYTES)


def is_valid_workspace_id(value: object) -> bool:
    """True when ``value`` has exactly the shape :func:`new_workspace_id` makes."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def default_sqlite_url(base: str | os.PathLike[str] | None = None) -> str:
    """The SQLite URL of ``.batchstudio/workspaces.sqlite3`` under ``base`` (default: cwd)."""
    path = (Path(base) if base is not None else Path.cwd()) / DEFAULT_SQLITE_PATH
    return URL.create("sqlite+pysqlite", database=str(path.resolve())).render_as_string()


def normalise_database_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``; others pass."""
    text = url.strip()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix):]
    return text


# --- the store -------------------------------------------------------------------------

_metadata = sa.MetaData()

workspaces = sa.Table(
    "workspaces",
    _metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_workspaces_updated_at", "updated_at"),
)

workspace_quarantine = sa.Table(
    "workspace_quarantine",
    _metadata,
    sa.Column("qid", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
    sa.Column("state", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
)


#: The spend ledger: one row per paid submission of any workspace, kept in step with the
#: workspace's own state in the same transaction. The deployment-wide daily cap is checked
#: against it atomically when a submission is reserved (see :meth:`WorkspaceStore.save`).
charges = sa.Table(
    "charges",
    _metadata,
    sa.Column("id", sa.String(400), primary_key=True),  # workspace id | submission key
    sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
    sa.Column("deployment", sa.String(300), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # UTC day it started, YYYY-MM-DD
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("micros", sa.BigInteger, nullable=False),  # counted amount, in millionths of $
    sa.Column("open", sa.Boolean, nullable=False),
    sa.Column("owner", sa.String(320), nullable=False, default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_charges_deployment_day", "deployment", "day"),
)

_MICROS = Decimal(1_000_000)


def to_micros(amount: Decimal) -> int:
    """Dollars to whole millionths, rounded up (a cap is never under-counted)."""
    return int((amount * _MICROS).to_integral_value(rounding="ROUND_CEILING"))


@dataclass(frozen=True)
class Charge:
    """One paid submission as the spend ledger counts it (see ``spend.counted_amount``)."""

    workspace_id: str
    key: str
    deployment: str
    day: str
    kind: str
    state: str
    amount: Decimal
    open: bool
    owner: str = ""

    @property
    def id(self) -> str:
        return f"{self.workspace_id}|{self.key}"


@dataclass(frozen=True)
class Reservation:
    """Reserve ``charge`` only if the deployment's day stays within ``cap`` (and the
    workspace's within ``workspace_cap``, when set); checked and written atomically."""

    charge: Charge
    cap: Decimal
    workspace_cap: Decimal | None = None


@dataclass(frozen=True)
class LedgerTotals:
    """A deployment's UTC day in the spend ledger: ``spent`` and ``reserved`` (in flight)."""

    spent: Decimal
    reserved: Decimal

    @property
    def committed(self) -> Decimal:
        return self.spent + self.reserved


_utcnow = clock.utcnow


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _first_error_line(exc: Exception) -> str:
    """A short, one-line reason why stored JSON is not a valid state."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors:
            where = ".".join(str(p) for p in errors[0].get("loc", ())) or "the state"
            return f"{where}: {errors[0].get('msg', 'invalid')}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _spent(state: WorkflowState) -> Decimal:
    """All the workspace ever spent or reserved, counted as the spend cap counts it."""
    return sum((counted_amount(sub) for sub in all_submissions(state)), Decimal(0))


class WorkspaceStore:
    """Workspaces in SQLite (default) or any SQLAlchemy database (``DATABASE_URL``).

    Thread-safe: one store can serve every session of the app (e.g. ``st.cache_resource``).
    """

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        text = normalise_database_url(url) if url and url.strip() else default_sqlite_url()
        try:
            parsed = sa.make_url(text)
        except ArgumentError:
            raise StoreError(
                "DATABASE_URL is not a database URL (expected e.g. "
                "postgresql://user:password@host:5432/dbname)."
            ) from None
        self._secret = parsed.password if isinstance(parsed.password, str) else None
        self.url = parsed.render_as_string(hide_password=True)
        self._file: Path | None = None
        self._reserve_lock = threading.Lock()
        #: listed workspaces parsed once per stored version: id → (version, summary, state)
        self._parsed: OrderedDict[str, tuple[int, WorkspaceSummary, WorkflowState | None]] = (
            OrderedDict())
        self._parsed_lock = threading.Lock()
        if parsed.get_backend_name() == "sqlite" and (parsed.database or "") not in ("", ":memory:") \
                and not (parsed.database or "").startswith("file:"):
            self._file = Path(parsed.database or "").expanduser().resolve()
        try:
            self._engine = self._make_engine(parsed, echo)
        except (SQLAlchemyError, ImportError, OSError) as exc:
            raise StoreError(f"The workspace store at {self.url} cannot be used: "
                             f"{self._clean(exc)}") from None
        self.create_schema()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkspaceStore:
        """The store named by ``DATABASE_URL`` in ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        return cls((env.get("DATABASE_URL") or "").strip() or None)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for maintenance scripts and tests; pages use the methods)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql`` (or another SQLAlchemy dialect name)."""
        return self._engine.dialect.name

    # -- engine and schema --

    @staticmethod
    def _make_engine(url: URL, echo: bool) -> Engine:
        if url.get_backend_name() != "sqlite":
            return sa.create_engine(url, echo=echo, pool_pre_ping=True)
        database = url.database or ""
        memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if not memory:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **({"poolclass": StaticPool} if memory else {}),
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            if not memory:
                # We emit BEGIN ourselves (below), so a reservation can take the write lock
                # up front with BEGIN IMMEDIATE (SQLAlchemy's documented pysqlite recipe).
                # In memory there is one shared connection; the store's own lock serialises.
                dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            finally:
                cursor.close()

        if not memory:
            @sa.event.listens_for(engine, "begin")
            def _begin(conn) -> None:
                immediate = conn.get_execution_options().get("immediate")
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def create_schema(self) -> None:
        """Create the tables if they are missing (idempotent; run when the store opens)."""
        for attempt in range(3):
            try:
                _metadata.create_all(self._engine, checkfirst=True)
                return
            except (IntegrityError, ProgrammingError):  # another replica created them meanwhile
                if attempt == 2:
                    self._fail_setup()
            except SQLAlchemyError:  # unreachable, refused, wrong password...
                self._fail_setup()

    def _fail_setup(self) -> NoReturn:
        exc = sys.exc_info()[1]
        self._engine.dispose()
        raise StoreError(f"The workspace store at {self.url} could not be set up: "
                         f"{self._clean(exc)}") from None

    def _clean(self, exc: BaseException | None) -> str:
        text = str(getattr(exc, "orig", None) or exc or "unknown error")
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return redact(first, self._secret)

    def _run(self, what: str, fn: Callable[[], _T]) -> _T:
        if self._file is not None and not self._file.exists():
            # SQLite would go on writing into the deleted file's inode: lost at the next
            # restart. Say so at once instead.
            raise StoreError(
                f"Could not {what}: the workspace database file {self._file} is gone "
                "(deleted or moved). Nothing can be saved until the app is restarted; "
                "paid actions are off.")
        try:
            return fn()
        except (StoreError, SpendCapExceeded):
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"Could not {what} (workspace store {self.url}): "
                             f"{self._clean(exc)}") from None

    # -- the API --

    def new_workspace(self, state: WorkflowState | None = None) -> str:
        """Store ``state`` (default: empty) under a new random id, at version 1; return the id."""
        text = (state if state is not None else WorkflowState()).model_dump_json()

        def insert() -> str:
            for _ in range(_WRITE_ATTEMPTS):
                workspace_id = new_workspace_id()
                now = _utcnow()
                try:
                    with self._engine.begin() as conn:
                        conn.execute(workspaces.insert().values(
                            id=workspace_id, state=text, version=1,
                            created_at=now, updated_at=now))
                    return workspace_id
                except IntegrityError:  # pragma: no cover - a 128-bit collision
                    continue
            raise StoreError("Could not create a new workspace id.")  # pragma: no cover

        return self._run("create a workspace", insert)

    def load(self, workspace_id: str | None) -> LoadResult:
        """The stored state of ``workspace_id``, or a fresh state and a ``problem`` sentence.

        A row whose JSON no longer validates is moved to ``workspace_quarantine`` (kept, as
        it was) and reported as a problem. Loading an older state whose model has since
        gained fields works: the new fields take their defaults.
        """
        raw = "" if workspace_id is None else str(workspace_id)
        if not is_valid_workspace_id(raw):
            # The raw value is not echoed: it comes from the URL and the page renders Markdown.
            problem = ("The workspace link is not valid (it may be cut short or mistyped); "
                       "a new workspace was started." if raw else
                       "No workspace was given; a new workspace was started.")
            return LoadResult(workspace_id=raw, state=WorkflowState(), problem=problem)
        return self._run("load the workspace", lambda: self._load(raw))

    def _load(self, workspace_id: str) -> LoadResult:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(workspaces).where(workspaces.c.id == workspace_id)
            ).mappings().first()
            if row is None:
                set_aside = conn.execute(
                    sa.select(sa.func.count()).select_from(workspace_quarantine)
                    .where(workspace_quarantine.c.workspace_id == workspace_id)
                ).scalar_one()
        if row is None:
            problem = (
                "This workspace could not be read and was set aside (kept for inspection); "
                "a new workspace was started." if set_aside else
                "This workspace does not exist (the link may be mistyped, or it was deleted); "
                "a new workspace was started."
            )
            return LoadResult(workspace_id=workspace_id, state=WorkflowState(), problem=problem)
        try:
            state = WorkflowState.model_validate_json(row["state"])
        except (ValidationError, ValueError, TypeError, OverflowError) as exc:
            reason = _first_error_line(exc)
            self._quarantine(dict(row), reason)
            return LoadResult(
                workspace_id=workspace_id, state=WorkflowState(),
                problem=("This workspace could not be read (its saved data is damaged: "
                         f"{reason}). It was set aside, not deleted; a new workspace was "
                         "started."),
            )
        return LoadResult(workspace_id=workspace_id, state=state, version=row["version"])

    def _quarantine(self, row: dict, reason: str) -> None:
        """Move a corrupt row to ``workspace_quarantine`` unless someone saved over it."""
        with self._engine.begin() as conn:
            moved = conn.execute(
                workspaces.delete().where(workspaces.c.id == row["id"],
                                          workspaces.c.version == row["version"])
            ).rowcount
            if moved == 1:
                conn.execute(workspace_quarantine.insert().values(
                    workspace_id=row["id"], state=row["state"], version=row["version"],
                    created_at=row["created_at"], updated_at=row["updated_at"],
                    reason=reason[:2000], quarantined_at=_utcnow()))

    def save(self, workspace_id: str, state: WorkflowState,
             expected_version: int | None = None, *, charges: Sequence[Charge] = (),
             reserve: Reservation | None = None) -> int:
        """Store ``state`` as the workspace's whole state; return its new version.

        Without ``expected_version`` the state overwrites whatever is stored (the row is
        created if missing). With it, the save only happens if the stored version is exactly
        ``expected_version`` (0 means "must not exist yet"); otherwise :class:`StaleWorkspace`
        is raised and nothing is written.

        ``charges`` are written to the spend ledger in the same transaction. ``reserve``
        adds one more, but only if the deployment's day (and the workspace's) stays within
        its cap; that check and the write hold the ledger's lock (SQLite ``BEGIN IMMEDIATE``,
        a PostgreSQL advisory lock), so two tabs, workspaces or replicas can never together
        pass the cap: otherwise :class:`~batchcore.errors.SpendCapExceeded` and nothing is
        written.
        """
        if not is_valid_workspace_id(workspace_id):
            raise StoreError("Cannot save: the workspace id is not valid.")
        if not isinstance(state, WorkflowState):
            raise TypeError("save() needs a WorkflowState")
        text = state.model_dump_json()
        if expected_version is not None and (
                isinstance(expected_version, bool) or not isinstance(expected_version, int)
                or expected_version < 0):
            raise ValueError("expected_version must be a whole number ≥ 0 or None")
        if reserve is not None:
            return self._run("reserve the spend and save the workspace", lambda: self._locked(
                reserve.charge.deployment,
                lambda conn: self._reserve_and_save(conn, workspace_id, text, expected_version,
                                                    (*charges, reserve.charge), reserve)))
        if expected_version is None:
            return self._run("save the workspace",
                             lambda: self._overwrite(workspace_id, text, charges))
        return self._run("save the workspace",
                         lambda: self._save_if(workspace_id, text, expected_version, charges))

    def _locked(self, deployment: str, fn: Callable[[Connection], _T]) -> _T:
        """Run ``fn`` in one transaction holding the spend ledger's lock for ``deployment``."""
        with self._reserve_lock, self._engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    key = int.from_bytes(hashlib.sha256(deployment.encode()).digest()[:8],
                                         "big", signed=True)
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                return fn(conn)

    def _reserve_and_save(self, conn: Connection, workspace_id: str, text: str,
                          expected: int | None, rows: Sequence[Charge],
                          reserve: Reservation) -> int:
        charge = reserve.charge
        day = self._committed(conn, charges.c.deployment == charge.deployment, charge.day,
                              exclude=charge.id)
        why = cap_refusal(charge.amount, cap=reserve.cap, committed=day)
        if not why and reserve.workspace_cap is not None:
            mine = self._committed(conn, sa.and_(charges.c.deployment == charge.deployment,
                                                 charges.c.workspace_id == workspace_id),
                                   charge.day, exclude=charge.id)
            why = cap_refusal(charge.amount, cap=reserve.workspace_cap, committed=mine,
                              whose="workspace's")
        if why:
            raise SpendCapExceeded(f"{why} Nothing was sent.")
        now = _utcnow()
        if expected is None:
            version = self._update(conn, workspace_id, text, now, None)
            if version is None:
                conn.execute(workspaces.insert().values(
                    id=workspace_id, state=text, version=1, created_at=now, updated_at=now))
                version = 1
        else:
            version = self._update(conn, workspace_id, text, now, expected)
            if version is None:
                self._stale(workspace_id, expected, self._version(conn, workspace_id))
        self._write_charges(conn, rows, now)
        return version

    @staticmethod
    def _committed(conn: Connection, where: sa.ColumnElement[bool], day: str,
                   exclude: str) -> Decimal:
        micros = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(charges.c.micros), 0))
            .where(where, sa.or_(charges.c.day == day, charges.c.open.is_(True)),
                   charges.c.id != exclude)
        ).scalar_one()
        return Decimal(int(micros)) / _MICROS

    @staticmethod
    def _update(conn: Connection, workspace_id: str, text: str, now: datetime,
                expected: int | None) -> int | None:
        where = [workspaces.c.id == workspace_id]
        if expected is not None:
            where.append(workspaces.c.version == expected)
        version = conn.execute(
            workspaces.update().where(*where)
            .values(state=text, version=workspaces.c.version + 1, updated_at=now)
            .returning(workspaces.c.version)
        ).scalar()
        return None if version is None else int(version)

    @staticmethod
    def _write_charges(conn: Connection, rows: Sequence[Charge], now: datetime) -> None:
        for c in rows:
            values = dict(workspace_id=c.workspace_id, deployment=c.deployment, day=c.day,
                          kind=c.kind, state=c.state, micros=to_micros(c.amount), open=c.open,
                          owner=c.owner, updated_at=now)
            done = conn.execute(charges.update().where(charges.c.id == c.id).values(**values))
            if done.rowcount == 0:
                conn.execute(charges.insert().values(id=c.id, **values))

    def ledger_totals(self, deployment: str, day: str, workspace_id: str | None = None
                      ) -> LedgerTotals:
        """What the spend ledger counts for ``deployment`` on UTC ``day`` (optionally one
        workspace's share): spent, and reserved (sent, not answered yet)."""
        def fetch() -> LedgerTotals:
            where = [charges.c.deployment == deployment,
                     sa.or_(charges.c.day == day, charges.c.open.is_(True))]
            if workspace_id is not None:
                where.append(charges.c.workspace_id == workspace_id)
            reserved_states = ("reserved", "sent")
            with self._engine.connect() as conn:
                rows = conn.execute(
                    sa.select(charges.c.state, sa.func.sum(charges.c.micros))
                    .where(*where).group_by(charges.c.state)).all()
            spent = sum((int(m) for st_, m in rows if st_ not in reserved_states), 0)
            reserved = sum((int(m) for st_, m in rows if st_ in reserved_states), 0)
            return LedgerTotals(spent=Decimal(spent) / _MICROS,
                                reserved=Decimal(reserved) / _MICROS)

        return self._run("read the spend ledger", fetch)

    def ledger_states(self, deployment: str, day: str) -> list[tuple[str, str, int]]:
        """How many paid calls ``deployment`` has on UTC ``day`` (and open ones of any day),
        by kind and ledger state: ``(kind, state, count)`` rows."""
        def fetch() -> list[tuple[str, str, int]]:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    sa.select(charges.c.kind, charges.c.state, sa.func.count())
                    .where(charges.c.deployment == deployment,
                           sa.or_(charges.c.day == day, charges.c.open.is_(True)))
                    .group_by(charges.c.kind, charges.c.state)).all()
            return [(str(k), str(st_), int(n)) for k, st_, n in rows]

        return self._run("read the spend ledger", fetch)

    def check(self) -> None:
        """Raise ``StoreError`` unless the database answers and every table has every column
        this version writes (a schema from an older or newer version is said, not guessed)."""
        def probe() -> None:
            with self._engine.connect() as conn:
                for table in (workspaces, charges):
                    conn.execute(sa.select(*table.c).limit(1)).all()

        self._run("reach the workspace store", probe)

    def open_workspaces(self, deployment: str) -> list[str]:
        """Workspaces with paid work still open on ``deployment`` (to resume after a restart)."""
        def fetch() -> list[str]:
            with self._engine.connect() as conn:
                return list(conn.execute(
                    sa.select(charges.c.workspace_id).distinct()
                    .where(charges.c.deployment == deployment, charges.c.open.is_(True))
                ).scalars())

        return self._run("read the spend ledger", fetch)

    def version(self, workspace_id: str) -> int | None:
        """The stored version of a workspace (cheap: to see whether another tab or the
        background worker changed it), or None when it does not exist."""
        if not is_valid_workspace_id(workspace_id):
            return None

        def fetch() -> int | None:
            with self._engine.connect() as conn:
                return self._version(conn, workspace_id)

        return self._run("read the workspace", fetch)

    def _overwrite(self, workspace_id: str, text: str, rows: Sequence[Charge] = ()) -> int:
        for _ in range(_WRITE_ATTEMPTS):
            now = _utcnow()
            try:
                with self._engine.begin() as conn:
                    version = self._update(conn, workspace_id, text, now, None)
                    if version is None:
                        conn.execute(workspaces.insert().values(
                            id=workspace_id, state=text, version=1, created_at=now,
                            updated_at=now))
                        version = 1
                    self._write_charges(conn, rows, now)
                    return version
            except IntegrityError:  # created concurrently: update it on the next attempt
                continue
        raise StoreError("Could not save the workspace: it kept changing underneath; try again.")

    def _save_if(self, workspace_id: str, text: str, expected: int,
                 rows: Sequence[Charge] = ()) -> int:
        now = _utcnow()
        if expected == 0:
            try:
                with self._engine.begin() as conn:
                    conn.execute(workspaces.insert().values(
                        id=workspace_id, state=text, version=1, created_at=now, updated_at=now))
                    self._write_charges(conn, rows, now)
                return 1
            except IntegrityError:
                with self._engine.connect() as conn:
                    current = self._version(conn, workspace_id)
        else:
            with self._engine.begin() as conn:
                version = self._update(conn, workspace_id, text, now, expected)
                if version is not None:
                    self._write_charges(conn, rows, now)
                    return version
                current = self._version(conn, workspace_id)
        self._stale(workspace_id, expected, current)

    @staticmethod
    def _stale(workspace_id: str, expected: int, current: int | None) -> NoReturn:
        if current is None:
            message = ("This workspace was deleted or set aside in another tab or window; "
                       "your change was not saved. Start a new workspace.")
        else:
            message = (f"This workspace was changed in another tab or window (it is now at "
                       f"version {current}, this page had version {expected}); your change "
                       "was not saved. Reload to see the latest state.")
        raise StaleWorkspace(message, workspace_id=workspace_id, expected_version=expected,
                             current_version=current)

    @staticmethod
    def _version(conn: Connection, workspace_id: str) -> int | None:
        value = conn.execute(
            sa.select(workspaces.c.version).where(workspaces.c.id == workspace_id)
        ).scalar()
        return None if value is None else int(value)

    def list_workspaces(self, limit: int = 50) -> list[WorkspaceSummary]:
        """The most recently updated workspaces first, with a few numbers from each state."""
        return [summary for summary, _ in self.recent(limit)]

    #: how many parsed workspaces :meth:`recent` keeps (History lists 50)
    PARSED_KEPT = 64

    def recent(self, limit: int = 50) -> list[tuple[WorkspaceSummary, WorkflowState | None]]:
        """The most recently updated workspaces first: each one's summary and state (None
        when its saved data is damaged; the summary then says why).

        Every page run lists them (the recent-workspace switcher, recent batches), so a
        state is parsed once per stored version and kept (the last :attr:`PARSED_KEPT`):
        listing the same workspaces again reads only their ids and versions. Versions grow
        with every save, whichever process made it, so a kept state is never stale.
        """
        limit = max(0, int(limit))

        def fetch() -> list[tuple[int, WorkspaceSummary, WorkflowState | None]]:
            with self._engine.connect() as conn:
                heads = conn.execute(
                    sa.select(workspaces.c.id, workspaces.c.version)
                    .order_by(workspaces.c.updated_at.desc(), workspaces.c.id)
                    .limit(limit)
                ).all()
                with self._parsed_lock:
                    missing = [wid for wid, version in heads
                               if (kept := self._parsed.get(wid)) is None
                               or kept[0] != int(version)]
                fresh: dict[str, tuple[int, WorkspaceSummary, WorkflowState | None]] = {}
                for start in range(0, len(missing), 200):
                    for row in conn.execute(sa.select(workspaces).where(
                            workspaces.c.id.in_(missing[start:start + 200]))).mappings():
                        summary, state = self._parse(row)
                        fresh[row["id"]] = (int(row["version"]), summary, state)
            out = []
            with self._parsed_lock:
                self._parsed.update(fresh)
                for wid, _version in heads:
                    kept = fresh.get(wid) or self._parsed.get(wid)
                    if kept is not None:  # None: deleted between the two reads
                        self._parsed.move_to_end(wid)
                        out.append(kept)
                while len(self._parsed) > max(self.PARSED_KEPT, limit):
                    self._parsed.popitem(last=False)
            return out

        return [(summary, state) for _, summary, state in self._run("list the workspaces", fetch)]

    @staticmethod
    def _parse(row) -> tuple[WorkspaceSummary, WorkflowState | None]:
        common = dict(workspace_id=row["id"], created_at=_aware(row["created_at"]),
                      updated_at=_aware(row["updated_at"]), version=int(row["version"]))
        try:
            state = WorkflowState.model_validate_json(row["state"])
        except (ValidationError, ValueError, TypeError, OverflowError) as exc:
            return WorkspaceSummary(**common, rows=0, images=0, submissions=0,
                                    spent=Decimal(0),
                                    problem=f"Its saved data is damaged: {_first_error_line(exc)}"
                                    ), None
        return WorkspaceSummary(
            **common,
            rows=len(state.draft.rows),
            images=sum(len(images) for images in state.images.values()),
            submissions=len(state.submissions),
            spent=_spent(state),
        ), state

    def delete(self, workspace_id: str) -> bool:
        """Delete a workspace; True when it existed. (Set-aside corrupt copies are kept.)"""
        if not is_valid_workspace_id(workspace_id):
            return False

        def remove() -> bool:
            with self._engine.begin() as conn:
                return conn.execute(
                    workspaces.delete().where(workspaces.c.id == workspace_id)
                ).rowcount == 1

        return self._run("delete the workspace", remove)

    def close(self) -> None:
        """Release every database connection; the store cannot be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> WorkspaceStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WorkspaceStore({self.url!r})"
