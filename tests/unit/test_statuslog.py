"""The append-only status log: ``[timestamp] job_id scene_id status message``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pydantic
import pytest

from batchcore.domain.statuslog import LogEntry, log_entry, render_log

UTC = timezone.utc
T = datetime(2026, 11, 24, 11, 24, 33, 987654, tzinfo=UTC)


def test_render_has_the_documented_shape():
    """An entry renders as '[YYYY-MM-DD HH:MM:SSZ] job_id scene_id status message'."""
    entry = log_entry("completed", "3 images ready", job_id="job-42", scene_id="SCENE-001", now=T)
    assert entry.render() == "[2026-11-24 11:24:33Z] job-42 SCENE-001 completed 3 images ready"


def test_empty_fields_render_as_dash_and_no_trailing_space():
    """Missing job id, scene id or status show '-', and an empty message adds nothing."""
    assert log_entry("", now=T).render() == "[2026-11-24 11:24:33Z] - - -"
    assert log_entry("queued", job_id="j", now=T).render() == "[2026-11-24 11:24:33Z] j - queued"


def test_fields_are_forced_onto_one_line():
    """Newlines and whitespace runs in any field collapse to single spaces, so one entry is one line."""
    entry = log_entry("fail\ned", "line one\r\nline two\u2028three  \t end", job_id=" j 1 ",
                      scene_id="A\nB", now=T)
    rendered = entry.render()
    assert "\n" not in rendered and "\r" not in rendered and "\u2028" not in rendered
    assert rendered == "[2026-11-24 11:24:33Z] j 1 A B fail ed line one line two three end"


def test_none_fields_are_empty():
    """None for a text field is stored as empty text."""
    entry = LogEntry(timestamp=T, job_id=None, scene_id=None, status=None, message=None)
    assert (entry.job_id, entry.scene_id, entry.status, entry.message) == ("", "", "", "")


def test_timestamps_are_shown_in_utc():
    """A timestamp in another zone is stored and shown in UTC."""
    tokyo = timezone(timedelta(hours=9))
    entry = log_entry("done", now=datetime(2026, 11, 25, 8, 0, 0, tzinfo=tokyo))
    assert entry.timestamp.utcoffset() == timedelta(0)
    assert entry.render().startswith("[2026-11-24 23:00:00Z]")


def test_naive_timestamps_are_refused():
    """A naive timestamp is refused rather than guessed."""
    with pytest.raises(pydantic.ValidationError, match="timezone-aware"):
        LogEntry(timestamp=datetime(2026, 11, 24, 12, 0), status="x")


def test_log_entry_defaults_to_now_in_utc():
    """log_entry without now stamps the current UTC time."""
    before = datetime.now(UTC)
    entry = log_entry("queued")
    after = datetime.now(UTC)
    assert before <= entry.timestamp <= after


def test_entries_are_frozen():
    """A log entry cannot be rewritten."""
    entry = log_entry("x", now=T)
    with pytest.raises(pydantic.ValidationError):
        entry.status = "y"  # type: ignore[misc]


def test_render_log_oldest_first_by_default_and_newest_first_on_request():
    """render_log writes one line per entry, oldest first unless newest_first."""
    a = log_entry("queued", job_id="j", now=T)
    b = log_entry("running", job_id="j", now=T + timedelta(seconds=2))
    c = log_entry("completed", job_id="j", now=T + timedelta(seconds=4))
    assert render_log([a, b, c]).splitlines() == [a.render(), b.render(), c.render()]
    assert render_log((a, b, c), newest_first=True).splitlines() == [c.render(), b.render(), a.render()]
    assert render_log([]) == ""
