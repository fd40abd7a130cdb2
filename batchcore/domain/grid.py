"""The batch grid's edits exactly as the browser sent them, checked before anything uses them.

After Parse, the page shows the rows in an editable grid (Streamlit's data editor). The
browser sends the edits as ``{"edited_rows": {position: {column: value}}, "added_rows":
[{column: value}], "deleted_rows": [position]}``. Streamlit coerces each value to its column's
type before the page sees it (a list typed into a text cell becomes the text ``"['a']"``,
2.5 in the variants column becomes 2, ``"three"`` silently becomes a blank) and it fails
with a traceback on edits of the wrong shape (a row that is not a record, an unknown column,
a position outside the grid). :func:`apply_grid_edits` applies the edits to the parsed rows
itself, keeping every value as it was sent, so ``rows_from_records`` judges what was really
entered; and it names every edit of the wrong shape, so the page can undo them and say so
instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batchcore.domain.rows import describe_value, visible

__all__ = ["GRID_COLUMNS", "GridEdits", "apply_grid_edits", "empty_parse_note"]

GRID_COLUMNS = ("scene_id", "prompt", "variants")
#: Streamlit's name for the index column in an edit (the grid hides it; its edits are ignored)
_INDEX = "_index"
_MAX_PROBLEMS = 5


@dataclass(frozen=True)
class GridEdits:
    """The grid's rows with the edits applied (values as sent), or why the edits cannot be."""

    records: list[Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """One sentence for the page when the edits were undone."""
        shown = self.problems[:_MAX_PROBLEMS]
        more = len(self.problems) - len(shown)
        tail = f" (and {more} more)" if more else ""
        return ("The last grid edit could not be read, so it was undone: "
                + "; ".join(shown) + tail + ". Edit the grid again or press Parse.")


def _position(value: Any, size: int) -> int | None:
    """A row position the grid has (an int, or its digits as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        value = int(value)
    if isinstance(value, int) and 0 <= value < size:
        return value
    return None


def _unknown_columns(record: Mapping[Any, Any]) -> list[str]:
    return [_quote(k) for k in record if k not in GRID_COLUMNS and k != _INDEX]


def _quote(value: Any) -> str:
    return f'"{visible(str(value), 20)}"'


def _cells(record: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k in GRID_COLUMNS}


def apply_grid_edits(base: Sequence[Mapping[str, Any]], edits: Any) -> GridEdits:
    """``base`` (the parsed rows) with the browser's ``edits`` applied, values untouched.

    Cell edits replace cells, deleted positions are dropped, added rows come last. When any
    part of ``edits`` has the wrong shape, nothing is applied: ``records`` is ``base`` and
    ``problems`` names each wrong part (in words a person reads, grid rows counted from 1).
    """
    rows: list[dict[str, Any]] = [{c: r.get(c) for c in GRID_COLUMNS} for r in base]
    untouched = GridEdits([dict(r) for r in rows])
    if edits is None:
        return untouched
    if not isinstance(edits, Mapping):
        return GridEdits(untouched.records, [(f"the edits are {describe_value(edits)}, not a "
                                             "set of changes")])
    problems: list[str] = []
    size = len(rows)

    edited = edits.get("edited_rows") or {}
    if not isinstance(edited, Mapping):
        problems.append(f"the changed cells are {describe_value(edited)}")
        edited = {}
    for key, change in edited.items():
        pos = _position(key, size)
        if pos is None:
            problems.append(f"a change names grid row {_quote(key)}, which the grid does "
                            f"not have (it has {size})")
        elif not isinstance(change, Mapping):
            problems.append(f"the change to grid row {pos + 1} is {describe_value(change)}, "
                            "not a record")
        elif unknown := _unknown_columns(change):
            problems.append(f"the change to grid row {pos + 1} names the column "
                            f"{unknown[0]}, which the grid does not have")
        else:
            rows[pos].update(_cells(change))

    deleted = edits.get("deleted_rows") or []
    if not isinstance(deleted, list):
        problems.append(f"the deleted rows are {describe_value(deleted)}")
        deleted = []
    gone: set[int] = set()
    for key in deleted:
        pos = _position(key, size)
        if pos is None:
            problems.append(f"a deletion names grid row {_quote(key)}, which the grid does "
                            "not have")
        else:
            gone.add(pos)

    added = edits.get("added_rows") or []
    if not isinstance(added, list):
        problems.append(f"the added rows are {describe_value(added)}")
        added = []
    extra: list[Any] = []
    first_new = size - len(gone) + 1
    for n, record in enumerate(added, start=first_new):
        if not isinstance(record, Mapping):
            problems.append(f"grid row {n} is {describe_value(record)}, not a record")
        elif unknown := _unknown_columns(record):
            problems.append(f"grid row {n} has the column {unknown[0]}, which the grid "
                            "does not have")
        else:
            extra.append({c: record.get(c) for c in GRID_COLUMNS})

    if problems:
        return GridEdits(untouched.records, problems)
    kept = [r for i, r in enumerate(rows) if i not in gone]
    return GridEdits(kept + extra)


def empty_parse_note(text: str, rows: int, errors: int) -> str:
    """What Parse says when it found neither a row nor an error ("" otherwise): the text is
    empty, or only blank lines and comments."""
    if rows or errors:
        return ""
    if not text.strip():
        return ("Nothing to parse: the batch is empty. Write one row per line: "
                "scene_id | prompt | variants.")
    return ("Nothing to parse: every line is blank or a comment (starting with #). Write one "
            "row per line: scene_id | prompt | variants.")
