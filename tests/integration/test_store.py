"""The workspace store against real databases: SQLite always, PostgreSQL when one is given.

PostgreSQL cases run against ``TEST_DATABASE_URL`` (or ``DATABASE_URL``); ``scripts/test.sh``
starts a throwaway server with ``scripts/start_postgres.sh`` and sets it. Each PostgreSQL
test works in its own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcore.adapters.store import (
    DEFAULT_SQLITE_PATH,
    WORKSPACE_ID_PATTERN,
    LoadResult,
    StaleWorkspace,
    WorkspaceStore,
    is_valid_workspace_id,
    new_workspace_id,
    normalise_database_url,
    workspace_quarantine,
    workspaces,
)
from batchcore.domain.rows import parse_batch
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import (
    WorkflowState,
    append_log,
    approve,
    begin_image_submission,
    current_hash,
    finish_submission,
    make_receipt,
    record_dry_run,
    record_images,
    with_draft,
)
from batchcore.errors import StoreError
from tests import factories  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
PG_SKIP = (
    "PostgreSQL cases need a server: run `export TEST_DATABASE_URL=$(bash "
    "scripts/start_postgres.sh)` first, or run everything with `bash scripts/test.sh`."
)
T0 = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=timezone.utc)
FIXTURE_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- fixtures --------------------------------------------------------------------------


@contextlib.contextmanager
def pg_schema_url():
    """A URL of the test PostgreSQL whose search_path is a new schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    base = sa.make_url(normalise_database_url(PG_URL))
    schema = "test_" + secrets.token_hex(6)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A database URL of an empty store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite+pysqlite:///{tmp_path / 'workspaces.sqlite3'}"
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture
def store(db_url):
    """An open store on ``db_url``, closed after the test."""
    with WorkspaceStore(db_url) as opened:
        yield opened


def rich_state() -> WorkflowState:
    """A state with everything in it, built only through the public workflow functions."""
    good = parse_batch(
        "SCENE-001 | a red fox in the snow, 35mm | 2\n"
        "SCENE-002 | ünïcödé “quotes” | pipes | and\ttabs | 3\n"
        "# a comment\n"
        "SCENE-003 | night city, neon | 1\n"
    )
    state = factories.dry_ran(factories.drafted(good.rows), T0, server_estimated_cost=0.012,
                              batch_id="dry-1")
    state, hash_ = factories.submitted(state, T0 + timedelta(minutes=1))
    state = finish_submission(state, hash_, "completed", batch_id="batch-42",
                              actual_cost=Decimal("0.0120"), message="6 of 6 images",
                              now=T0 + timedelta(minutes=2, microseconds=7))
    images = factories.images_of(state.draft.rows, batch_id="batch-42")
    state = record_images(state, images)
    state = approve(state, images[1], now=T0 + timedelta(minutes=3))
    state = approve(state, images[2], now=T0 + timedelta(minutes=4))
    state = append_log(
        state,
        log_entry("dry_run", "6 images, $0.012", now=T0),
        log_entry("queued", "", job_id="job-1", scene_id="SCENE-001",
                  now=T0 + timedelta(seconds=61, microseconds=1)),
        log_entry("done", "ok — ✓", job_id="job-1", scene_id="SCENE-001",
                  now=datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=2)))),
    )
    # Finally a draft with an error line, as the person is typing the next batch.
    return with_draft(state, "batch", parse_batch("SCENE-004 | a cat | 2\nno pipes here\n"))


def insert_raw(store: WorkspaceStore, workspace_id: str, text: str, version: int = 1) -> None:
    """Write a row by hand, as an older app version (or a disk fault) might have left it."""
    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        conn.execute(workspaces.insert().values(
            id=workspace_id, state=text, version=version, created_at=now, updated_at=now))


def quarantined(store: WorkspaceStore, workspace_id: str) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(workspace_quarantine)
            .where(workspace_quarantine.c.workspace_id == workspace_id)
        ).mappings()]


# --- round trips ------------------------------------------------------------------------


def test_rich_state_round_trips_exactly(store):
    """A state with receipts, Decimal costs, approvals and log timestamps loads back identical."""
    state = rich_state()
    assert state.receipts and state.submissions and state.approvals and state.draft.errors
    workspace_id = store.new_workspace()
    version = store.save(workspace_id, state, expected_version=1)
    loaded = store.load(workspace_id)
    assert loaded.ok and loaded.problem is None
    assert loaded.version == version == 2
    assert loaded.state == state
    assert loaded.state.model_dump_json() == state.model_dump_json()
    sub = next(iter(loaded.state.submissions.values()))
    assert sub.actual_cost == Decimal("0.0120") and str(sub.actual_cost) == "0.0120"
    receipt = next(iter(loaded.state.receipts.values()))
    assert receipt.estimated_cost == Decimal("0.012") and isinstance(receipt.estimated_cost, Decimal)
    assert [e.timestamp for e in loaded.state.log] == [e.timestamp for e in state.log]


def test_new_workspace_stores_the_given_state_at_version_one(store):
    """new_workspace(state) stores that state, and a second store on the same URL sees it."""
    state = rich_state()
    workspace_id = store.new_workspace(state)
    result = store.load(workspace_id)
    assert (result.state, result.version, result.problem) == (state, 1, None)
    assert store.load(store.new_workspace()).state == WorkflowState()


def test_second_store_on_same_database_sees_the_same_workspace(db_url, store):
    """Another replica (a second store on the same URL) loads what the first one saved."""
    workspace_id = store.new_workspace(rich_state())
    with WorkspaceStore(db_url) as replica:
        assert replica.load(workspace_id).state == rich_state()
        replica.save(workspace_id, WorkflowState())
    assert store.load(workspace_id).state == WorkflowState()


@FIXTURE_SETTINGS
@given(
    rows=st.lists(
        st.tuples(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True),
                  st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                          min_size=1, max_size=60).filter(lambda p: p.strip() and "|" not in p),
                  st.integers(1, 3)),
        min_size=1, max_size=5, unique_by=lambda r: r[0]),
    messages=st.lists(st.text(max_size=80), max_size=5),
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                      timezones=st.just(timezone.utc)),
)
def test_generated_states_round_trip(store, rows, messages, when):
    """Any state built from valid rows, receipts and log text saves and loads back identical."""
    text = "\n".join(f"{s} | {p} | {v}" for s, p, v in rows)
    state = with_draft(WorkflowState(), "batch", parse_batch(text))
    state = record_dry_run(state, make_receipt("batch", state.draft.rows, now=when))
    state = append_log(state, *(log_entry("note", m, now=when) for m in messages))
    workspace_id = store.new_workspace()
    store.save(workspace_id, state)
    assert store.load(workspace_id).state.model_dump_json() == state.model_dump_json()


def test_older_json_without_newer_fields_loads_with_defaults(store):
    """JSON saved before the model gained fields loads; the missing fields take their defaults."""
    state = rich_state()
    old = {"draft": json.loads(state.draft.model_dump_json()),
           "log": [json.loads(e.model_dump_json()) for e in state.log]}
    workspace_id = new_workspace_id()
    insert_raw(store, workspace_id, json.dumps(old))
    result = store.load(workspace_id)
    assert result.ok
    assert result.state == WorkflowState(draft=state.draft, log=state.log)


# --- problems: invalid, unknown, corrupt -------------------------------------------------


@pytest.mark.parametrize("bad_id", ["", "tooShort1", "x" * 23, "../../etc/passwd",
                                    "a" * 21 + "!", "a" * 21 + " ", "ä" * 22,
                                    "'; DROP TABLE workspaces; --"])
def test_malformed_id_gives_fresh_state_and_message(store, bad_id):
    """A malformed ?w= value never reaches the database: fresh state plus a clear message."""
    result = store.load(bad_id)
    assert isinstance(result, LoadResult)
    assert result.state == WorkflowState() and result.version == 0 and not result.ok
    assert "new workspace" in result.problem
    assert not bad_id or bad_id not in result.problem  # URL text is never echoed into Markdown
    assert store.list_workspaces() == []


def test_missing_id_gives_fresh_state_and_message(store):
    """load(None) (no ?w= at all) gives a fresh state and says a new workspace was started."""
    result = store.load(None)
    assert result.state == WorkflowState() and "new workspace" in result.problem


def test_unknown_id_gives_fresh_state_and_message(store):
    """A well-formed id that was never stored gives a fresh state and says it does not exist."""
    result = store.load(new_workspace_id())
    assert result.state == WorkflowState() and result.version == 0
    assert "does not exist" in result.problem


@FIXTURE_SETTINGS
@given(st.text(max_size=40))
def test_load_never_raises_on_any_text(store, text):
    """Whatever text arrives as an id, load returns a result (fresh + problem unless stored)."""
    result = store.load(text)
    assert result.state == WorkflowState()
    assert result.problem is not None


@pytest.mark.parametrize("payload", [
    "{not json",
    "",
    "[1, 2, 3]",
    "null",
    '{"draft": {"mode": "sideways"}}',
    '{"draft": {"rows": [{"scene_id": "bad id!", "prompt": "x", "variants": 1}]}}',
    '{"receipts": {"h": {"batch_hash": "h"}}}',
    '{"log": [{"timestamp": "2026-11-24T10:00:00"}]}',
])
def test_corrupt_row_gives_fresh_state_and_is_kept(store, payload):
    """A row whose JSON is not a valid state: fresh state + message, the bad row set aside intact."""
    workspace_id = new_workspace_id()
    insert_raw(store, workspace_id, payload, version=7)
    result = store.load(workspace_id)
    assert result.state == WorkflowState() and result.version == 0
    assert "could not be read" in result.problem and "set aside" in result.problem
    kept = quarantined(store, workspace_id)
    assert [(k["state"], k["version"]) for k in kept] == [(payload, 7)]
    assert kept[0]["reason"]
    again = store.load(workspace_id)
    assert again.state == WorkflowState() and "set aside" in again.problem
    assert len(quarantined(store, workspace_id)) == 1


def test_corrupt_row_shows_in_history_with_a_problem(store):
    """list_workspaces lists a damaged row with a problem and zeros instead of failing."""
    workspace_id = new_workspace_id()
    insert_raw(store, workspace_id, "{broken")
    [summary] = store.list_workspaces()
    assert summary.workspace_id == workspace_id
    assert "damaged" in summary.problem
    assert (summary.rows, summary.images, summary.submissions, summary.spent) == (0, 0, 0, 0)


def test_recent_lists_states_newest_first_and_follows_saves_from_another_process(db_url):
    """recent() gives each listed state, and a save made elsewhere shows in the next listing."""
    with WorkspaceStore(db_url) as here, WorkspaceStore(db_url) as other:
        first = here.new_workspace(append_log(WorkflowState(), log_entry("edited", "one")))
        second = here.new_workspace(append_log(WorkflowState(), log_entry("edited", "two")))
        listed = here.recent()
        assert [s.workspace_id for s, _ in listed] == [second, first]
        assert [state.log[-1].message for _, state in listed] == ["two", "one"]
        loaded = other.load(first)
        other.save(first, append_log(loaded.state, log_entry("edited", "three")), loaded.version)
        again = here.recent()
        assert [s.workspace_id for s, _ in again] == [first, second]
        assert again[0][1].log[-1].message == "three"
        assert again[0][0].version == loaded.version + 1
        other.delete(second)
        assert [s.workspace_id for s, _ in here.recent()] == [first]


def test_recent_gives_no_state_for_a_damaged_row(store):
    """recent() lists a damaged row with its problem and no state, beside readable ones."""
    good = store.new_workspace(WorkflowState())
    broken = new_workspace_id()
    insert_raw(store, broken, "{broken")
    listed = {s.workspace_id: (s, state) for s, state in store.recent()}
    assert listed[good][1] == WorkflowState()
    assert listed[broken][1] is None and "damaged" in listed[broken][0].problem


def test_recent_keeps_a_bounded_number_of_parsed_states(store):
    """Listing more workspaces than it keeps still lists them all, and keeps at most the limit."""
    ids = [store.new_workspace(WorkflowState()) for _ in range(store.PARSED_KEPT + 6)]
    assert len(store.recent(limit=len(ids))) == len(ids)
    assert len(store.recent(limit=5)) == 5
    assert len(store._parsed) <= store.PARSED_KEPT


def test_saving_to_an_invalid_id_is_refused(store):
    """save() with a malformed id raises StoreError and stores nothing."""
    with pytest.raises(StoreError, match="not valid"):
        store.save("nope", WorkflowState())
    with pytest.raises(TypeError):
        store.save(new_workspace_id(), {"draft": {}})
    assert store.list_workspaces() == []


def test_database_failure_mid_use_is_a_store_error(store):
    """When the database fails under a running store (table gone), calls raise StoreError."""
    workspace_id = store.new_workspace()
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE workspaces"))
    for call in (lambda: store.load(workspace_id), lambda: store.save(workspace_id, WorkflowState()),
                 store.list_workspaces, lambda: store.delete(workspace_id), store.new_workspace):
        with pytest.raises(StoreError, match="workspace store"):
            call()
    store.create_schema()
    assert "does not exist" in store.load(workspace_id).problem


# --- versions and concurrency --------------------------------------------------------------


def test_stale_version_is_refused_and_nothing_is_written(store):
    """Two tabs load version 1; the second to save with expected_version=1 gets StaleWorkspace."""
    workspace_id = store.new_workspace()
    tab_a = store.load(workspace_id)
    tab_b = store.load(workspace_id)
    a_state = append_log(tab_a.state, log_entry("a", now=T0))
    b_state = append_log(tab_b.state, log_entry("b", now=T0))
    assert store.save(workspace_id, a_state, expected_version=tab_a.version) == 2
    with pytest.raises(StaleWorkspace) as caught:
        store.save(workspace_id, b_state, expected_version=tab_b.version)
    assert caught.value.current_version == 2 and caught.value.expected_version == 1
    assert "another tab" in str(caught.value)
    assert isinstance(caught.value, StoreError)
    assert store.load(workspace_id).state == a_state


def test_plain_save_overwrites_and_creates(store):
    """save() without expected_version overwrites (bumping the version) or creates the row."""
    workspace_id = store.new_workspace()
    assert store.save(workspace_id, rich_state()) == 2
    assert store.save(workspace_id, WorkflowState()) == 3
    fresh = new_workspace_id()
    assert store.save(fresh, rich_state()) == 1
    assert store.load(fresh).state == rich_state()


def test_expected_version_zero_means_create_only(store):
    """expected_version=0 creates a missing workspace and is stale when it already exists."""
    workspace_id = new_workspace_id()
    assert store.save(workspace_id, WorkflowState(), expected_version=0) == 1
    with pytest.raises(StaleWorkspace) as caught:
        store.save(workspace_id, rich_state(), expected_version=0)
    assert caught.value.current_version == 1
    assert store.load(workspace_id).state == WorkflowState()


def test_saving_a_deleted_workspace_with_a_version_is_stale(store):
    """A tab saving (with its version) a workspace deleted elsewhere gets StaleWorkspace."""
    workspace_id = store.new_workspace()
    assert store.delete(workspace_id) is True
    with pytest.raises(StaleWorkspace, match="deleted") as caught:
        store.save(workspace_id, WorkflowState(), expected_version=1)
    assert caught.value.current_version is None
    assert "does not exist" in store.load(workspace_id).problem


@pytest.mark.parametrize("bad", [-1, True, 1.5, "1"])
def test_expected_version_must_be_a_whole_number(store, bad):
    """A nonsensical expected_version is a programming error (ValueError), nothing written."""
    workspace_id = store.new_workspace()
    with pytest.raises(ValueError):
        store.save(workspace_id, rich_state(), expected_version=bad)
    assert store.load(workspace_id).version == 1


def _run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait()
            target(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_versioned_saves_lose_nothing(store):
    """Two threads doing load-change-save with versions (retrying when stale) lose no update."""
    workspace_id = store.new_workspace()
    per_thread = 15

    def worker(n: int) -> None:
        done = 0
        while done < per_thread:
            loaded = store.load(workspace_id)
            assert loaded.ok, loaded.problem
            changed = append_log(loaded.state, log_entry("tick", f"t{n}-{done}", now=T0))
            try:
                store.save(workspace_id, changed, expected_version=loaded.version)
                done += 1
            except StaleWorkspace:
                continue  # the other thread saved first: load again and redo the change

    assert _run_threads(worker, 2) == []
    final = store.load(workspace_id)
    messages = Counter(e.message for e in final.state.log)
    assert final.version == 1 + 2 * per_thread
    assert set(messages) == {f"t{n}-{i}" for n in range(2) for i in range(per_thread)}
    assert all(c == 1 for c in messages.values())


def test_concurrent_plain_saves_leave_a_valid_state(store):
    """Two threads overwriting without versions leave one whole state, never a mix or damage."""
    workspace_id = store.new_workspace()
    states = {n: append_log(rich_state(), log_entry("writer", str(n), now=T0)) for n in range(2)}

    def worker(n: int) -> None:
        for _ in range(15):
            store.save(workspace_id, states[n])

    assert _run_threads(worker, 2) == []
    final = store.load(workspace_id)
    assert final.ok and final.version == 31
    assert final.state in states.values()


def test_concurrent_first_saves_of_one_new_id_both_succeed(store):
    """Two threads creating the same id with plain saves both succeed: versions 1 and 2."""
    workspace_id = new_workspace_id()
    versions: list[int] = []

    def worker(n: int) -> None:
        versions.append(store.save(workspace_id, WorkflowState()))

    assert _run_threads(worker, 2) == []
    assert sorted(versions) == [1, 2]


# --- ids ----------------------------------------------------------------------------------


def test_ids_are_random_128_bit_tokens():
    """Ids decode to 16 random bytes; thousands are unique and use the whole alphabet everywhere."""
    ids = [new_workspace_id() for _ in range(3000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 22 and is_valid_workspace_id(i) for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    for position in range(21):  # the 22nd character carries only 2 bits
        assert len({i[position] for i in ids}) >= 60


def test_new_workspaces_get_distinct_valid_ids(store):
    """Every new workspace gets a fresh valid id; none is reused."""
    made = [store.new_workspace() for _ in range(40)]
    assert len(set(made)) == 40 and all(is_valid_workspace_id(i) for i in made)


@given(st.one_of(st.text(max_size=30),
                 st.from_regex(r"[A-Za-z0-9_-]{20,24}", fullmatch=True),
                 st.builds(new_workspace_id)))
def test_id_validation_is_exactly_the_pattern(text):
    """is_valid_workspace_id accepts exactly 22 URL-safe base64 characters and nothing else."""
    expected = len(text) == 22 and all(c.isascii() and (c.isalnum() or c in "_-") for c in text)
    assert is_valid_workspace_id(text) is expected
    assert (re.fullmatch(WORKSPACE_ID_PATTERN, text) is not None) is expected


def test_non_strings_are_not_ids():
    """Non-string ids (None, numbers, bytes) are never valid."""
    assert not any(is_valid_workspace_id(v) for v in (None, 12, b"a" * 22, ["a" * 22]))


# --- schema, listing, deleting, configuration ----------------------------------------------


def test_schema_creation_is_idempotent(db_url, store):
    """Opening the store again (and creating the schema twice more) keeps every workspace."""
    workspace_id = store.new_workspace(rich_state())
    store.create_schema()
    with WorkspaceStore(db_url) as again:
        again.create_schema()
        assert again.load(workspace_id).state == rich_state()


def test_list_workspaces_summarises_each_state(store):
    """History numbers: rows, images, submissions and spent per workspace, newest first."""
    empty_id = store.new_workspace()
    rich_id = store.new_workspace()
    store.save(rich_id, rich_state())

    # A second workspace: one failed submission (not billed) and one with an unknown outcome.
    state = with_draft(WorkflowState(), "batch", parse_batch("A | one | 2\nB | two | 1"))
    state = record_dry_run(state, make_receipt("batch", state.draft.rows, now=T0))
    h1 = current_hash(state, T0)
    state, _ = begin_image_submission(state, h1, T0)
    state = finish_submission(state, h1, "failed", message="500", now=T0)
    state = with_draft(state, "batch", parse_batch("A | one | 3"))
    state = record_dry_run(state, make_receipt("batch", state.draft.rows, now=T0))
    h2 = current_hash(state, T0)
    state, _ = begin_image_submission(state, h2, T0)
    state = finish_submission(state, h2, "outcome_unknown", now=T0)
    mixed_id = store.new_workspace(state)

    summaries = store.list_workspaces()
    assert [s.workspace_id for s in summaries] == [mixed_id, rich_id, empty_id]
    by_id = {s.workspace_id: s for s in summaries}
    rich = by_id[rich_id]
    assert (rich.rows, rich.images, rich.submissions, rich.spent) == (1, 6, 1, Decimal("0.012"))
    assert rich.version == 2 and rich.problem is None
    assert rich.created_at.tzinfo is not None and rich.created_at <= rich.updated_at
    mixed = by_id[mixed_id]
    assert (mixed.rows, mixed.images, mixed.submissions, mixed.spent) == (1, 0, 2, Decimal("0.006"))
    empty = by_id[empty_id]
    assert (empty.rows, empty.images, empty.submissions, empty.spent) == (0, 0, 0, 0)
    assert [s.workspace_id for s in store.list_workspaces(limit=1)] == [mixed_id]


def test_delete_removes_only_that_workspace(store):
    """delete() removes one workspace (True), then reports False; others stay."""
    keep, gone = store.new_workspace(), store.new_workspace()
    assert store.delete(gone) is True
    assert store.delete(gone) is False
    assert store.delete("not an id") is False
    assert [s.workspace_id for s in store.list_workspaces()] == [keep]


def test_default_store_is_a_sqlite_file_under_cwd(tmp_path, monkeypatch):
    """Without DATABASE_URL the store is .batchstudio/workspaces.sqlite3 under cwd, in WAL mode."""
    monkeypatch.chdir(tmp_path)
    with WorkspaceStore.from_env({}) as store:
        workspace_id = store.new_workspace(rich_state())
        assert store.dialect == "sqlite"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    assert (tmp_path / DEFAULT_SQLITE_PATH).is_file()
    with WorkspaceStore.from_env({"DATABASE_URL": "  "}) as reopened:
        assert reopened.load(workspace_id).state == rich_state()


def test_in_memory_sqlite_store_works_across_threads():
    """sqlite:// (in memory) keeps one database for every thread of the store."""
    with WorkspaceStore("sqlite://") as store:
        workspace_id = store.new_workspace(rich_state())
        seen: list[WorkflowState] = []
        assert _run_threads(lambda n: seen.append(store.load(workspace_id).state), 2) == []
        assert seen == [rich_state(), rich_state()]


@pytest.mark.postgres
def test_from_env_reads_plain_postgres_urls():
    """DATABASE_URL written postgres://… or postgresql://… opens PostgreSQL through psycopg 3."""
    with pg_schema_url() as url:
        rest = url.split("://", 1)[1]
        for scheme in ("postgres", "postgresql"):
            with WorkspaceStore.from_env({"DATABASE_URL": f"{scheme}://{rest}"}) as store:
                assert store.dialect == "postgresql"
                assert store.url.startswith("postgresql+psycopg://")
                workspace_id = store.new_workspace(rich_state())
                assert store.load(workspace_id).state == rich_state()


@pytest.mark.parametrize(("given_url", "expected"), [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgresql://u@h/d?sslmode=require", "postgresql+psycopg://u@h/d?sslmode=require"),
    (" postgresql+psycopg://u@h/d ", "postgresql+psycopg://u@h/d"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_are_normalised(given_url, expected):
    """postgres:// and postgresql:// URLs are normalised to the psycopg 3 driver."""
    assert normalise_database_url(given_url) == expected


def test_unreachable_database_is_a_store_error_without_the_password():
    """A database that cannot be reached raises StoreError; the message never shows the password."""
    password = "s3cr3t-" + secrets.token_hex(4)
    with pytest.raises(StoreError) as caught:
        WorkspaceStore(f"postgresql://batch:{password}@127.0.0.1:1/nothing?connect_timeout=3")
    assert password not in str(caught.value)
    assert "could not be set up" in str(caught.value)


def test_nonsense_database_url_is_a_store_error():
    """A DATABASE_URL that is not a URL raises StoreError with a hint of the expected form."""
    with pytest.raises(StoreError, match="not a database URL"):
        WorkspaceStore("definitely not a url")


# --- guards found by the coverage report ---------------------------------------------------


def test_store_whose_folder_cannot_be_made_is_a_store_error(tmp_path):
    """A SQLite path under a regular file (its folder cannot exist) raises StoreError naming the reason."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StoreError) as caught:
        WorkspaceStore(f"sqlite+pysqlite:///{blocker}/sub/workspaces.sqlite3")
    assert str(caught.value).startswith(f"The workspace store at sqlite+pysqlite:///{blocker}/sub/")
    assert "cannot be used: [Errno 20] Not a directory" in str(caught.value)


def test_database_without_an_installed_driver_is_a_store_error_without_the_password():
    """A mysql:// DATABASE_URL (no driver installed) raises StoreError naming the missing module, password hidden."""
    password = "s3cr3t-" + secrets.token_hex(4)
    with pytest.raises(StoreError) as caught:
        WorkspaceStore(f"mysql://batch:{password}@db.example/workspaces")
    message = str(caught.value)
    assert message.startswith("The workspace store at mysql://batch:***@db.example/workspaces cannot be used: ")
    assert "No module named" in message and password not in message


def test_repr_names_the_database_but_never_its_password(db_url):
    """repr(store) shows the database URL with the password masked."""
    password = "s3cr3t-" + secrets.token_hex(4)
    url = sa.make_url(db_url)
    if url.get_backend_name() != "sqlite":
        url = url.set(password=password)  # the throwaway server trusts local connections
    with WorkspaceStore(url.render_as_string(hide_password=False)) as opened:
        assert repr(opened) == f"WorkspaceStore({opened.url!r})"
        assert password not in repr(opened)
        if url.password:
            assert ":***@" in repr(opened)


def _refuse_every_insert(store: WorkspaceStore) -> None:
    """Make the database refuse every new workspace row with a constraint error, as a lost race would."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON workspaces "
                                 "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        else:
            conn.execute(sa.text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$ BEGIN RAISE unique_violation USING MESSAGE = 'refused'; END $$"))
            conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON workspaces "
                                 "FOR EACH ROW EXECUTE FUNCTION refuse()"))


def test_plain_save_that_keeps_colliding_gives_up_with_a_store_error(store):
    """If creating the row conflicts on every attempt, save() raises 'kept changing underneath' and writes nothing."""
    _refuse_every_insert(store)
    workspace_id = new_workspace_id()
    with pytest.raises(StoreError) as caught:
        store.save(workspace_id, rich_state())
    assert str(caught.value) == "Could not save the workspace: it kept changing underneath; try again."
    assert not isinstance(caught.value, StaleWorkspace)
    assert store.list_workspaces() == []
    assert "does not exist" in store.load(workspace_id).problem


def test_schema_that_cannot_be_created_is_a_store_error_after_three_tries():
    """A PostgreSQL type already named 'workspaces' blocks the table: StoreError 'could not be set up', no table."""
    with pg_schema_url() as url:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TYPE workspaces AS (x int)"))
            with pytest.raises(StoreError) as caught:
                WorkspaceStore(url)
            assert "could not be set up" in str(caught.value)
            assert '"workspaces" already exists' in str(caught.value)
            with engine.connect() as conn:
                assert not sa.inspect(conn).has_table("workspaces")
        finally:
            engine.dispose()


_FAR_PAST_LOG = ('{"log": [{"timestamp": "0001-01-01T00:00:00+01:00", "job_id": "", "scene_id": "", '
                 '"status": "note", "message": "x"}]}')


def test_log_timestamp_before_year_one_in_utc_is_set_aside_not_raised(store):
    """A stored log timestamp that falls before 0001-01-01 in UTC makes the row corrupt: set aside, fresh state."""
    workspace_id = new_workspace_id()
    insert_raw(store, workspace_id, _FAR_PAST_LOG)
    result = store.load(workspace_id)
    assert result.state == WorkflowState() and "set aside" in result.problem


def test_history_lists_a_row_with_a_far_past_log_timestamp_as_damaged(store):
    """list_workspaces shows a row whose log timestamp overflows UTC as damaged instead of failing."""
    workspace_id = new_workspace_id()
    insert_raw(store, workspace_id, _FAR_PAST_LOG)
    [summary] = store.list_workspaces()
    assert summary.workspace_id == workspace_id and "damaged" in summary.problem
