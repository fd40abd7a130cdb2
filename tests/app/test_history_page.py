"""The History page through AppTest: a generated batch shows with its costs; empty says so."""

from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.conftest import ROOT, confirm_generate, dry_run, enter_batch, texts


def _dataframes(at: AppTest) -> list[list[dict]]:
    return [el.value.to_dict("records") for el in at.dataframe]


def test_a_generated_batch_shows_on_the_history_page_with_its_costs_and_outcome(app):
    """After generating the example in Studio, History lists it: rows, images, $ estimate, $ actual, completed."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    [sub] = app.session_state["wf"].submissions.values()
    assert sub.state == "completed"

    app.switch_page("pages/history.py").run()
    assert not app.exception
    assert [t.value for t in app.title] == ["History"]
    tables = _dataframes(app)
    batches = next(t for t in tables if t and "outcome" in t[0])
    assert len(batches) == 1
    [record] = batches
    assert record["kind"] == "images"
    assert record["rows"] == 3
    assert record["images"] == 6
    assert record["estimated"] == "$0.012"
    assert record["actual"] == "$0.012"
    assert record["outcome"] == "completed"
    assert record["batch"] == sub.batch_id
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Today"] == "$0.012"
    assert metrics["All time (listed workspaces)"] == "$0.012"
    workspaces = next(t for t in tables if t and "paid calls" in t[0])
    assert [(w["paid calls"], w["spent"]) for w in workspaces] == [(1, "$0.012")]
    shown = texts(app)
    assert "No paid batch yet." not in shown
    assert "Nothing has been spent yet." not in shown


def test_history_before_any_paid_call_says_there_is_none_yet(app):
    """A workspace without paid calls gives friendly 'nothing yet' captions and $0.00 totals."""
    app.switch_page("pages/history.py").run()
    assert not app.exception
    shown = texts(app)
    assert "No paid batch yet." in shown
    assert "Nothing has been spent yet." in shown
    assert {m.label: m.value for m in app.metric}["Today"] == "$0.00"
    assert all("outcome" not in (t[0] if t else {}) for t in _dataframes(app))


def test_history_of_an_empty_store_says_so_for_every_section(tmp_path):
    """The History page alone on a brand-new store shows no table, only 'nothing yet' captions."""
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "history.py"), default_timeout=30)
    at.secrets["DATABASE_URL"] = f"sqlite:///{tmp_path}/workspaces.sqlite3"
    at.run()
    assert not at.exception
    shown = texts(at)
    for caption in ("Nothing has been spent yet.", "No paid batch yet.", "No workspace yet."):
        assert caption in shown
    assert len(at.dataframe) == 0
    assert {m.value for m in at.metric} == {"$0.00"}


def test_a_broken_store_gives_a_clear_message_not_a_traceback(app, tmp_path):
    """The database file is replaced by garbage: History says the history cannot be read."""
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"workspaces.sqlite3{suffix}"
        if path.exists():
            path.unlink()
    (tmp_path / "workspaces.sqlite3").write_bytes(b"this is not a database" * 100)
    from studio.runtime import latest_runtime

    rt = latest_runtime()
    assert rt is not None and rt.store is not None
    rt.store.engine.dispose()
    app.switch_page("pages/history.py").run()
    assert not app.exception
    assert "cannot be read" in texts(app)
