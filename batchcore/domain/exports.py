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

from batchcore.domain.pricing import MAX_ROWS, PRICE_PER_IMAGE
from batchcore.domain.rows import (
    BatchRow,
    LineError,
    LongNumber,
    ParseResult,
    Source,
    check_records,
    describe_value,
    is_blank_cell,
    visible,
)
from batchcore.domain.statuslog import render_log
from batchcore.domain.workflow import (
    DryRunReceipt,
    GeneratedImage,
    Submission,
    WorkflowState,
    all_submissions,
    approved_scenes,
)

__all__ = [
    "MANIFEST_FIELDS",
    "MAX_JSON_DEPTH",
    "ManifestImport",
    "approved_zip",
    "decode_manifest",
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

#: Nesting deeper than this is refused before parsing (a manifest is a list of flat records).
MAX_JSON_DEPTH = 64
#: Digits beyond which a JSON integer is not read as a number (Python refuses > 4,300).
_MAX_INT_DIGITS = 100


class ManifestImport(ParseResult):
    """The rows of an imported manifest, its errors, and how many records it held.

    ``records`` counts the records with any data; ``over_cap`` those beyond the batch's row
    limit, which are not imported (one error says so, naming the first). :meth:`summary`
    is the sentence to show and log: it never says "imported 2 rows" without saying how
    many were not.
    """

    records: int = 0
    over_cap: int = 0

    def summary(self, name: str = "the manifest") -> str:
        """One plain sentence: what was imported from ``name`` and what was not."""
        shown = visible(name, 80)
        got = len(self.rows)
        missed = self.records - got
        if self.records == 0:
            return f"Nothing was imported from {shown}: it holds no records."
        if missed <= 0:
            return f"Imported all {got:,} row{'s' if got != 1 else ''} from {shown}."
        return (f"Imported {got:,} of {self.records:,} records from {shown}; "
                f"{missed:,} {'were' if missed != 1 else 'was'} not imported "
                f"({len(self.errors):,} problem{'s' if len(self.errors) != 1 else ''} listed).")


def decode_manifest(data: bytes) -> tuple[str, str]:
    """The text of an uploaded manifest file, and a sentence saying how it was read.

    UTF-16 with a byte-order mark, then UTF-8 (with or without a BOM), then Windows-1252
    (what Excel on Windows saves as "CSV"), then Latin-1, which reads any bytes: a file
    is never refused here, and the note says which encoding was used.
    """
    raw = bytes(data)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "Read as UTF-16 text."
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig"), "Read as UTF-8 text."
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), ("Read as Windows-1252 (cp1252) text because it is not "
                                      "valid UTF-8; check accented letters.")
    except UnicodeDecodeError:
        return raw.decode("latin-1"), ("Read as Latin-1 text because it is neither UTF-8 nor "
                                       "Windows-1252; some characters may be wrong.")


#: A JSON string (skipped whole), a bracket or a newline: what the depth check looks at.
_JSON_STRUCTURE = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|[\[\]{}\n]')


def _json_depth_problem(text: str) -> LineError | None:
    """An error when ``text`` nests arrays/objects deeper than :data:`MAX_JSON_DEPTH`.

    Counted outside strings without recursion, so 100,000 ``[`` cannot exhaust the stack.
    """
    depth = 0
    line = 1
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token == "\n":
            line += 1
        elif token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return LineError(line=line, source="file", message=(
                    f"This JSON is nested more than {MAX_JSON_DEPTH} levels deep; a manifest "
                    "is a list of flat records with scene_id, prompt and variants."))
        elif token in "]}":
            depth -= 1
    return None


def _json_int(digits: str) -> int | LongNumber:
    """A JSON integer, or a :class:`LongNumber` when it is too long to be a real value."""
    return LongNumber(len(digits.lstrip("-"))) if len(digits) > _MAX_INT_DIGITS else int(digits)


def _limited(numbered: list[tuple[int, Mapping[str, Any]]], source: Source, noun: str
             ) -> ManifestImport:
    """Check the first ``MAX_ROWS`` records with data; one error names all the others."""
    with_data = [(n, r) for n, r in numbered if not all(is_blank_cell(v) for v in r.values())]
    kept, over = with_data[:MAX_ROWS], with_data[MAX_ROWS:]
    checked = _check(kept, source)
    errors = list(checked.errors)
    if over:
        first, last = over[0][0], over[-1][0]
        span = (f"{noun} {first:,} was" if len(over) == 1
                else f"{len(over):,} records from {noun} {first:,} to {last:,} were")
        errors.append(LineError(line=first, source=source, message=(
            f"A batch holds at most {MAX_ROWS} rows and this manifest has {len(with_data):,} "
            f"records, so {span} not imported. Split the file into batches of {MAX_ROWS}.")))
    return ManifestImport(rows=checked.rows, errors=errors, records=len(with_data),
                          over_cap=len(over))


def _check(numbered: list[tuple[int, Mapping[str, Any]]], source: Source) -> ParseResult:
    """Check ``(line, record)`` pairs with batchcore's row rules; errors keep their line.

    A record that has *other* data but no row fields is an error here (never skipped).
    """
    own_errors: list[LineError] = []
    to_check: list[tuple[int, Mapping[str, Any]]] = []
    for line, record in numbered:
        if all(is_blank_cell(record.get(k)) for k in _ROW_FIELDS):
            own_errors.append(LineError(
                line=line, source=source,
                message="This record has no scene_id, prompt or variants.",
                text=" | ".join(_shown(v) for v in record.values())[:500],
            ))
        else:
            to_check.append((line, record))
    checked = check_records(to_check, source=source)
    errors = sorted([*checked.errors, *own_errors], key=lambda e: e.line)
    return ParseResult(rows=checked.rows, errors=errors)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else describe_value(value))


def _one_error(message: str, line: int = 1, source: Source = "file") -> ManifestImport:
    return ManifestImport(errors=[LineError(line=line, source=source, message=message)])


def _import_json(text: str) -> ManifestImport:
    too_deep = _json_depth_problem(text)
    if too_deep is not None:
        return ManifestImport(errors=[too_deep])
    try:
        data = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        return _one_error(f"This is not valid JSON: {exc.msg} (column {exc.colno:,}).",
                          exc.lineno)
    except (RecursionError, ValueError) as exc:  # any other refusal of the decoder
        return _one_error(f"This JSON cannot be read ({type(exc).__name__}).")
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list):
        return _one_error("A JSON manifest must be a list of records (objects); "
                          f"found {describe_value(data)}.")
    numbered: list[tuple[int, Mapping[str, Any]]] = []
    not_objects: list[LineError] = []
    for number, record in enumerate(data, start=1):
        if isinstance(record, dict):
            numbered.append((number, record))
        elif record is None:
            continue  # nothing in it, like an empty spreadsheet row
        else:
            not_objects.append(LineError(
                line=number, source="json",
                message=f"Record {number:,} is not an object with scene_id, prompt and "
                        f"variants; found {describe_value(record)}.",
                text=_shown(record)[:200]))
    result = _limited(numbered, "json", "record")
    return _merge(result, not_objects)


def _merge(result: ManifestImport, extra: list[LineError]) -> ManifestImport:
    """Add errors for records that were not objects (they count as records not imported)."""
    if not extra:
        return result
    errors = sorted([*result.errors, *extra], key=lambda e: e.line)
    return result.model_copy(update={"errors": errors, "records": result.records + len(extra)})


def _import_csv(text: str) -> ManifestImport:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    numbered: list[tuple[int, Mapping[str, Any]]] = []
    try:
        header = next(reader, None)
        fields = [h.strip().lstrip("\ufeff").lower() for h in header or []]
        missing = [f for f in _ROW_FIELDS if f not in fields]
        if missing:
            return ManifestImport(errors=[LineError(
                line=1, source="csv",
                message="The first line must name the columns scene_id, prompt and variants; "
                        f"missing: {', '.join(missing)}.",
                text=",".join(header or [])[:500])])
        # Row numbers count records as a spreadsheet shows them: the header is row 1.
        for number, cells in enumerate(reader, start=2):
            values = [unescape_cell(c) for c in cells]
            record: dict[str, Any] = {field: values[i] if i < len(values) else None
                                      for i, field in enumerate(fields)}
            if len(values) > len(fields):
                record["(extra cells)"] = ",".join(values[len(fields):])
            numbered.append((number, record))
    except csv.Error as exc:
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = f"a cell is longer than {csv.field_size_limit():,} characters"
        return _one_error(f"This is not valid CSV: {reason}.", reader.line_num or 1)
    return _limited(numbered, "csv", "row")


def import_manifest(text: str) -> ManifestImport:
    """Rows (scene_id, prompt, variants) of a CSV or JSON manifest, for a NEW batch.

    The format is detected (JSON starts with ``[`` or ``{``). Each bad record becomes an
    error naming its line: the spreadsheet row for CSV (header = 1, ``source="csv"``), the
    1-based record number for JSON (``source="json"``). Records with no data at all (empty
    spreadsheet rows) are skipped. Only the first ``MAX_ROWS`` records with data are
    checked; one error names how many more there were, which are not imported. Nothing
    raises: a file too deep, with a 5,000-digit number or broken quoting is one error.
    Pass bytes through :func:`decode_manifest` first.
    """
    if not isinstance(text, str):
        return _one_error(f"The manifest must be text; found {describe_value(text)}.")
    body = text.lstrip("\ufeff")
    if not body.strip():
        return _one_error("The manifest is empty.")
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
