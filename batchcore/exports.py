"""Exports of a workspace: the approved-images manifest (CSV, JSON), a ZIP, the status log.

A manifest can be imported back as the rows of a *new* batch: it is checked with
batchcore's own row rules, and every bad record becomes an error naming its line, never
dropped. CSV cells that a spreadsheet would run as a formula are escaped (OWASP CSV
injection): a cell starting with ``= + - @``, tab or carriage return gets a leading
``'``; the import removes exactly that escape again.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .pricing import PRICE_PER_IMAGE
from .rows import BatchRow, LineError, ParseResult, rows_from_records
from .statuslog import render_log
from .workflow import (
    DryRunReceipt,
    GeneratedImage,
    Submission,
    WorkflowState,
    all_submissions,
    approved_scenes,
)

__all__ = [
    "MANIFEST_FIELDS",
    "approved_zip",
    "escape_cell",
    "import_manifest",
    "manifest_csv",
    "manifest_json",
    "manifest_records",
    "status_log_text",
    "unescape_cell",
    "zip_name",
]

#: The columns of a manifest, in order.
MANIFEST_FIELDS: tuple[str, ...] = (
    "scene_id",
    "prompt",
    "variants",
    "variant",
    "image_url",
    "cost",
    "batch_hash",
    "batch_id",
    "job_id",
    "generated_at",
    "approved_at",
)
_ROW_FIELDS = ("scene_id", "prompt", "variants")

_FORMULA_START = "=+-@\t\r"
# A cell that needs the escape: optional quotes, then a formula character. Escaping
# cells that already start with quotes too keeps escape/unescape an exact round trip.
_NEEDS_ESCAPE = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
_UNSAFE_NAME_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


# --- records -----------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a ``Z`` (a naive datetime is taken as UTC); '' when unknown."""
    if moment is None:
        return ""
    aware = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
    return aware.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _submission_of(state: WorkflowState, image: GeneratedImage) -> Submission | None:
    """The image submission that produced ``image`` (matched by its batch id)."""
    if not image.batch_id:
        return None
    for submission in reversed(all_submissions(state)):
        if submission.kind == "images" and submission.batch_id == image.batch_id:
            return submission
    return None


def _row_of(state: WorkflowState, scene_id: str, submission: Submission | None
            ) -> tuple[BatchRow | None, DryRunReceipt | None]:
    """The row (and its receipt) the scene was generated from, best evidence first."""
    if submission is not None:
        receipt = state.receipts.get(submission.batch_hash)
        if receipt is not None:
            for row in receipt.rows:
                if row.scene_id == scene_id:
                    return row, receipt
    # Otherwise the most recent submitted receipt holding that scene, then any receipt.
    receipts = sorted(state.receipts.values(), key=lambda r: (bool(r.used_by), r.created_at),
                      reverse=True)
    for receipt in receipts:
        for row in receipt.rows:
            if row.scene_id == scene_id:
                return row, receipt
    for row in state.draft.rows:
        if row.scene_id == scene_id:
            return row, None
    return None, None


def manifest_records(state: WorkflowState) -> list[dict[str, Any]]:
    """One record per approved scene (in result order), keyed by ``MANIFEST_FIELDS``.

    ``variants`` is the scene's row's variants when the row is known, else the number of
    images the scene has; ``cost`` is the cost of that scene's images, as Decimal text.
    """
    records: list[dict[str, Any]] = []
    for image in approved_scenes(state):
        scene = image.scene_id
        submission = _submission_of(state, image)
        row, receipt = _row_of(state, scene, submission)
        images = state.images.get(scene, ())
        count = len(images) or 1  # the approved image itself exists
        batch_hash = submission.batch_hash if submission else (receipt.batch_hash if receipt else "")
        generated = None
        if submission is not None:
            generated = submission.finished_at or submission.started_at
        records.append({
            "scene_id": scene,
            "prompt": image.prompt or (row.prompt if row else ""),
            "variants": row.variants if row else count,
            "variant": image.variant,
            "image_url": image.url,
            "cost": str(PRICE_PER_IMAGE * count),
            "batch_hash": batch_hash,
            "batch_id": image.batch_id or (submission.batch_id if submission else ""),
            "job_id": image.job_id,
            "generated_at": _iso(generated),
            "approved_at": _iso(state.approvals[scene].approved_at),
        })
    return records


# --- CSV and JSON ------------------------------------------------------------------------


def escape_cell(value: Any) -> str:
    """The cell as text, with a leading ``'`` if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if _NEEDS_ESCAPE.match(text) else text


def unescape_cell(text: str) -> str:
    """Undo :func:`escape_cell` exactly: remove the one ``'`` it added, nothing else."""
    return text[1:] if _ESCAPED.match(text) else text


def manifest_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """The records as CSV (header row first, RFC 4180 quoting, formula cells escaped)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MANIFEST_FIELDS)
    for record in records:
        writer.writerow([escape_cell(record.get(field)) for field in MANIFEST_FIELDS])
    return out.getvalue()


def manifest_json(records: Iterable[Mapping[str, Any]]) -> str:
    """The records as a JSON array of objects (UTF-8 text, not escaped: JSON runs nothing)."""
    payload = [{field: record.get(field) for field in MANIFEST_FIELDS} for record in records]
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


# --- import ------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def _check(numbered: list[tuple[int, Mapping[str, Any]]]) -> ParseResult:
    """Check ``(line, record)`` pairs with batchcore's row rules; errors keep their line.

    ``rows_from_records`` numbers records by position (1-based) and skips records whose
    three row fields are all empty, so a gap in the numbering is filled with empty
    placeholders. A record that has *other* data but no row fields is an error here.
    """
    slots: list[Mapping[str, Any]] = []
    own_errors: list[LineError] = []
    for line, record in numbered:
        while len(slots) < line - 1:
            slots.append({})
        if all(_blank(record.get(k)) for k in _ROW_FIELDS):
            if not all(_blank(v) for v in record.values()):
                own_errors.append(LineError(
                    line=line,
                    message="This record has no scene_id, prompt or variants.",
                    text=" | ".join("" if v is None else str(v) for v in record.values()),
                ))
            slots.append({})
        else:
            slots.append(record)
    checked = rows_from_records(slots)
    errors = sorted([*checked.errors, *own_errors], key=lambda e: e.line)
    return ParseResult(rows=checked.rows, errors=errors)


def _import_json(text: str) -> ParseResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParseResult(errors=[LineError(
            line=exc.lineno, message=f"This is not valid JSON: {exc.msg} (column {exc.colno}).")])
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list):
        return ParseResult(errors=[LineError(
            line=1, message="A JSON manifest must be a list of records (objects).")])
    numbered: list[tuple[int, Mapping[str, Any]]] = []
    not_objects: list[LineError] = []
    for number, record in enumerate(data, start=1):
        if isinstance(record, dict):
            numbered.append((number, record))
        else:
            not_objects.append(LineError(
                line=number, message=f"Record {number} is not an object with scene_id, "
                                     f"prompt and variants; found {type(record).__name__}.",
                text=json.dumps(record, ensure_ascii=False)[:200]))
    checked = _check(numbered)
    errors = sorted([*checked.errors, *not_objects], key=lambda e: e.line)
    return ParseResult(rows=checked.rows, errors=errors)


def _import_csv(text: str) -> ParseResult:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    numbered: list[tuple[int, Mapping[str, Any]]] = []
    try:
        header = next(reader, None)
        fields = [h.strip().lstrip("\ufeff").lower() for h in header or []]
        missing = [f for f in _ROW_FIELDS if f not in fields]
        if missing:
            return ParseResult(errors=[LineError(
                line=1,
                message="The first line must name the columns scene_id, prompt and variants; "
                        f"missing: {', '.join(missing)}.",
                text=",".join(header or []))])
        # Row numbers count records as a spreadsheet shows them: the header is row 1.
        for number, cells in enumerate(reader, start=2):
            values = [unescape_cell(c) for c in cells]
            record = {field: values[i] if i < len(values) else None
                      for i, field in enumerate(fields)}
            if len(values) > len(fields):
                record["(extra cells)"] = ",".join(values[len(fields):])
            numbered.append((number, record))
    except csv.Error as exc:
        return ParseResult(errors=[LineError(
            line=reader.line_num, message=f"This is not valid CSV: {exc}.")])
    return _check(numbered)


def import_manifest(text: str) -> ParseResult:
    """Rows (scene_id, prompt, variants) of a CSV or JSON manifest, for a NEW batch.

    The format is detected (JSON starts with ``[`` or ``{``). Each bad record becomes an
    error naming its line: the spreadsheet row for CSV (header = 1), the 1-based record
    number for JSON. Records with no data at all (empty spreadsheet rows) are skipped.
    """
    body = text.lstrip("\ufeff")
    if not body.strip():
        return ParseResult(errors=[LineError(line=1, message="The manifest is empty.")])
    if body.lstrip()[0] in "[{":
        return _import_json(body)
    return _import_csv(body)


# --- ZIP and log -------------------------------------------------------------------------


def zip_name(scene_id: str, variant: int) -> str:
    """``<scene_id>_v<variant>.png``, with any unsafe character in the id replaced by ``_``."""
    safe = _UNSAFE_NAME_CHAR.sub("_", scene_id) or "scene"
    return f"{safe}_v{variant}.png"


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def approved_zip(state: WorkflowState, fetch: Callable[[str], bytes]) -> bytes:
    """A ZIP of the approved images, ``manifest.json``, and ``MISSING.txt`` if any failed.

    ``fetch(url)`` returns an image's bytes (the page passes the client's ``fetch_asset``);
    an image whose fetch raises or returns nothing is listed in ``MISSING.txt``, never
    silently left out.
    """
    records = manifest_records(state)
    missing: list[str] = []
    used: set[str] = set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for record in records:
            name = zip_name(record["scene_id"], record["variant"])
            stem, n = name[:-4], 2
            while name in used:
                name, n = f"{stem}-{n}.png", n + 1
            used.add(name)
            url = record["image_url"]
            try:
                data = fetch(url)
            except Exception as exc:  # noqa: BLE001 - any failure is reported, none dropped
                missing.append(f"{name}\t{url}\t{type(exc).__name__}: {exc}")
                continue
            if not isinstance(data, (bytes, bytearray)) or not data:
                missing.append(f"{name}\t{url}\tthe download was empty")
                continue
            _add(archive, name, bytes(data))
        _add(archive, "manifest.json", manifest_json(records).encode("utf-8", "replace"))
        if missing:
            text = ("These approved images could not be downloaded "
                    "(file, URL, reason):\n" + "\n".join(missing) + "\n")
            _add(archive, "MISSING.txt", text.encode("utf-8", "replace"))
    return buffer.getvalue()


def status_log_text(state: WorkflowState) -> str:
    """Every log line rendered, oldest first, each ending in a newline ('' if empty)."""
    return render_log(state.log) + "\n" if state.log else ""
