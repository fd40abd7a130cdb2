"""Batch rows: the ``scene_id | prompt | variants`` format, parsed and checked line by line.

Every non-blank, non-comment line yields exactly one ``BatchRow`` or exactly one
``LineError`` naming its 1-based physical line: nothing is ever dropped silently.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .pricing import MAX_PROMPT_CHARS, MAX_ROWS, MAX_SCENE_ID_CHARS, MAX_VARIANTS, image_cost

__all__ = [
    "BatchRow",
    "LineError",
    "ParseResult",
    "SCENE_ID_PATTERN",
    "attach_refs",
    "format_batch",
    "parse_batch",
    "parse_single",
    "rows_from_records",
]

SCENE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,%d}$" % MAX_SCENE_ID_CHARS
_SCENE_ID_RE = re.compile(SCENE_ID_PATTERN)
_SCENE_ID_BAD_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_PLAIN_INT = re.compile(r"^[0-9]+$")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
DEFAULT_SINGLE_SCENE_ID = "SCENE-001"


class BatchRow(BaseModel):
    """One scene to generate: its id, prompt, number of variants and reference image URLs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scene_id: str = Field(pattern=SCENE_ID_PATTERN)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    variants: int = Field(ge=1, le=MAX_VARIANTS)
    ref_urls: tuple[str, ...] = ()


class LineError(BaseModel):
    """A problem on one line (1-based) of the batch text, or one row of the grid."""

    model_config = ConfigDict(frozen=True)

    line: int
    message: str
    text: str = ""

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


class ParseResult(BaseModel):
    """The rows that passed, and one error for every line that did not."""

    model_config = ConfigDict(frozen=True)

    rows: list[BatchRow] = Field(default_factory=list)
    errors: list[LineError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is at least one row and no error."""
        return bool(self.rows) and not self.errors

    @property
    def total_images(self) -> int:
        return sum(r.variants for r in self.rows)

    @property
    def cost(self):
        return image_cost(self.rows)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _variants_problem(raw: Any) -> tuple[int | None, str | None]:
    """Read a variants value (text from a line, or a number from the grid)."""
    limit = f"a whole number from 1 to {MAX_VARIANTS}"
    if isinstance(raw, bool):
        return None, f"Variants must be {limit}; found {raw!r}."
    if isinstance(raw, numbers.Integral):
        value = int(raw)
    elif isinstance(raw, float):
        if math.isnan(raw):
            return None, f"Variants are missing; they must be {limit}."
        return None, f"Variants must be {limit}; found {raw!r}."
    else:
        text = "" if raw is None else str(raw).strip()
        if not text:
            return None, f"Variants are missing; they must be {limit}."
        if not _PLAIN_INT.match(text):
            return None, f'Variants must be {limit}; found "{text}".'
        digits = text.lstrip("0") or "0"
        if len(digits) > 20:
            # int() refuses digit strings over 4,300 long: never let a huge number raise.
            return None, (
                f"Variants must be from 1 to {MAX_VARIANTS}; found a {len(digits)}-digit number."
            )
        value = int(digits)
    if not 1 <= value <= MAX_VARIANTS:
        return None, f"Variants must be from 1 to {MAX_VARIANTS}; found {value}."
    return value, None


def _scene_problem(scene_id: str) -> str | None:
    if not scene_id:
        return (
            "The scene id (before the first |) is empty; it must be 1 to "
            f"{MAX_SCENE_ID_CHARS} characters of A-Z a-z 0-9 . _ -."
        )
    if len(scene_id) > MAX_SCENE_ID_CHARS:
        return (
            f"The scene id is {len(scene_id)} characters long; "
            f"the limit is {MAX_SCENE_ID_CHARS}."
        )
    if not _SCENE_ID_RE.match(scene_id):
        bad = _SCENE_ID_BAD_CHAR.search(scene_id)
        shown = repr(bad.group()) if bad else "another character"
        return (
            f'The scene id "{scene_id}" may only contain letters A-Z a-z, digits 0-9, '
            f"'.', '_' and '-' (found {shown})."
        )
    return None


def _prompt_problem(prompt: str) -> str | None:
    if not prompt:
        return f"The prompt is empty; it must be 1 to {MAX_PROMPT_CHARS:,} characters."
    if len(prompt) > MAX_PROMPT_CHARS:
        return (
            f"The prompt is {len(prompt):,} characters long; "
            f"the limit is {MAX_PROMPT_CHARS:,}."
        )
    bad = _LONE_SURROGATE.search(prompt)
    if bad:
        # A Python str may hold lone surrogates; BatchRow (pydantic) refuses them, so say so here.
        return (
            f"The prompt contains U+{ord(bad.group()):04X}, which is not a valid character; "
            "it must be plain Unicode text."
        )
    return None


class _Checker:
    """Checks entries in order, remembering scene ids and counting entries."""

    def __init__(self) -> None:
        self.rows: list[BatchRow] = []
        self.errors: list[LineError] = []
        self._first_line: dict[str, int] = {}
        self._entries = 0

    def check(self, line: int, scene_id: Any, prompt: Any, variants: Any, text: str) -> None:
        self._entries += 1
        scene = "" if scene_id is None or _is_nan(scene_id) else str(scene_id).strip()
        body = "" if prompt is None or _is_nan(prompt) else _collapse(str(prompt))
        problems: list[str] = []
        scene_problem = _scene_problem(scene)
        if scene_problem:
            problems.append(scene_problem)
        elif scene in self._first_line:
            problems.append(
                f'Scene id "{scene}" is already used on line {self._first_line[scene]}; '
                "each scene needs its own id."
            )
        else:
            self._first_line[scene] = line
        prompt_problem = _prompt_problem(body)
        if prompt_problem:
            problems.append(prompt_problem)
        value, variants_problem = _variants_problem(variants)
        if variants_problem:
            problems.append(variants_problem)
        if self._entries > MAX_ROWS:
            problems.append(
                f"A batch holds at most {MAX_ROWS} rows; this is row {self._entries}. "
                "Split it into another batch."
            )
        if problems:
            self.errors.append(LineError(line=line, message=" ".join(problems), text=text))
        else:
            assert value is not None
            self.rows.append(BatchRow(scene_id=scene, prompt=body, variants=value))

    def fail(self, line: int, message: str, text: str) -> None:
        self._entries += 1
        self.errors.append(LineError(line=line, message=message, text=text))

    def result(self) -> ParseResult:
        return ParseResult(rows=self.rows, errors=self.errors)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def parse_batch(text: str) -> ParseResult:
    """Parse batch text, one ``scene_id | prompt | variants`` row per line.

    Blank lines and lines starting with ``#`` are ignored. The scene id is the text
    before the first ``|``, variants the text after the last ``|``, and the prompt is
    everything between (so a prompt may contain ``|``). A byte-order mark at the very start
    (pasted from a file saved by a spreadsheet) is not part of the first scene id.
    """
    checker = _Checker()
    text = text.removeprefix("\ufeff")
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.count("|") < 2:
            found = line.count("|")
            checker.fail(
                number,
                "Expected `scene_id | prompt | variants` (three fields separated by |); "
                f"found {found + 1} field{'s' if found else ''}.",
                line,
            )
            continue
        scene_id, rest = line.split("|", 1)
        prompt, variants = rest.rsplit("|", 1)
        checker.check(number, scene_id, prompt, variants, line)
    return checker.result()


def parse_single(prompt: str, variants: Any, scene_id: str | None = None) -> ParseResult:
    """Check a Single-mode prompt; its one row (or error) is reported as line 1."""
    checker = _Checker()
    checker.check(1, scene_id or DEFAULT_SINGLE_SCENE_ID, prompt, variants, prompt)
    return checker.result()


def rows_from_records(records: Iterable[Mapping[str, Any]]) -> ParseResult:
    """Re-check rows edited in a grid; errors name the grid row (1-based) as their line."""
    checker = _Checker()
    for number, record in enumerate(records, start=1):
        values = [record.get(k) for k in ("scene_id", "prompt", "variants")]
        if all(v is None or _is_nan(v) or str(v).strip() == "" for v in values):
            continue  # an empty grid row the person has not filled in yet
        checker.check(number, *values, text=" | ".join("" if v is None else str(v) for v in values))
    return checker.result()


def format_batch(rows: Sequence[BatchRow]) -> str:
    """Write rows back as batch text; ``parse_batch(format_batch(rows))`` gives them back."""
    return "\n".join(f"{r.scene_id} | {r.prompt} | {r.variants}" for r in rows)


def attach_refs(rows: Sequence[BatchRow], urls: Sequence[str]) -> list[BatchRow]:
    """Give every row the same reference image URLs (replacing what it had)."""
    refs = tuple(urls)
    return [r.model_copy(update={"ref_urls": refs}) for r in rows]
