"""Batch rows: the ``scene_id | prompt | variants`` format, parsed and checked line by line.

Every non-blank, non-comment line yields exactly one ``BatchRow`` or exactly one
``LineError`` naming its 1-based physical line: nothing is ever dropped silently.

Lines are split exactly as :meth:`str.splitlines` splits them (``\\n``, ``\\r\\n``, a lone
``\\r``, vertical tab, form feed, ``\\x1c``-``\\x1e``, U+0085, U+2028, U+2029), so two rows
are never glued into one prompt. Lengths are counted as the server counts them: JavaScript
string length, i.e. UTF-16 code units, where an emoji counts 2 (see :func:`js_length`).
Every message is plain text (no markdown), and any invisible or control character quoted
in a message is written as ``[U+XXXX]`` so it cannot hide or reorder the text around it.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from batchcore.domain.pricing import (
    MAX_PROMPT_CHARS,
    MAX_REF_IMAGES,
    MAX_ROWS,
    MAX_SCENE_ID_CHARS,
    MAX_VARIANTS,
    image_cost,
)

__all__ = [
    "plural",
    "LINE_BREAKS",
    "SCENE_ID_PATTERN",
    "BatchRow",
    "LineError",
    "LongNumber",
    "ParseResult",
    "Source",
    "attach_refs",
    "check_records",
    "check_reference_urls",
    "describe_value",
    "format_batch",
    "is_blank_cell",
    "js_length",
    "parse_batch",
    "parse_single",
    "prompt_length",
    "prompt_length_note",
    "row_problems",
    "rows_from_records",
    "split_lines",
    "visible",
]

SCENE_ID_PATTERN = rf"^[A-Za-z0-9._-]{{1,{MAX_SCENE_ID_CHARS}}}$"
_SCENE_ID_RE = re.compile(SCENE_ID_PATTERN)
_SCENE_ID_BAD_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_PLAIN_INT = re.compile(r"^[0-9]+$")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
DEFAULT_SINGLE_SCENE_ID = "SCENE-001"

#: Every line ending :meth:`str.splitlines` knows, with the name a person would recognise.
LINE_BREAKS: dict[str, str] = {
    "\n": "line feed",
    "\r\n": "carriage return + line feed",
    "\r": "carriage return",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x1c": "file separator",
    "\x1d": "group separator",
    "\x1e": "record separator",
    "\x85": "next-line character",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}
_USUAL_BREAKS = ("", "\n", "\r\n")

#: Characters no font draws although their category says otherwise (fillers, blanks,
#: joiners, variation selectors).
_INVISIBLE_EXTRA = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x2800, 0x3164, 0xFFA0]
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
#: Control characters that survive whitespace collapsing (NUL, escape, DEL, C1 controls).
_CONTROL_NAMES = {0x00: "NUL", 0x1B: "ESCAPE", 0x7F: "DELETE"}

#: Where an error was found: which input, so the page need not parse the message.
Source = Literal["batch", "single", "grid", "csv", "json", "file"]
_WHERE: dict[str, str] = {
    "batch": "Line {n}",
    "single": "Prompt",
    "grid": "Grid row {n}",
    "csv": "Row {n}",
    "json": "Record {n}",
    "file": "Line {n} of the file",
}


class BatchRow(BaseModel):
    """One scene to generate: its id, prompt, number of variants and reference image URLs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scene_id: str = Field(pattern=SCENE_ID_PATTERN)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    variants: int = Field(ge=1, le=MAX_VARIANTS)
    ref_urls: tuple[str, ...] = ()


class LineError(BaseModel):
    """A problem on one line (1-based) of the batch text, one grid row, or one manifest record.

    ``source`` says which input it came from (data, not a prefix in the message), and
    :attr:`where` names the place as a person would: "Line 4", "Grid row 2", "Record 7".
    """

    model_config = ConfigDict(frozen=True)

    line: int
    message: str
    text: str = ""
    source: Source = "batch"

    @field_validator("message", "text")
    @classmethod
    def _storable(cls, value: str) -> str:
        """A lone surrogate (possible in JSON from a browser or a manifest) cannot be saved
        or drawn as UTF-8: the quoted text shows U+FFFD in its place (the message names it)."""
        return _LONE_SURROGATE.sub("\ufffd", value)

    @property
    def where(self) -> str:
        """The place of the problem in words: "Line 4", "Grid row 2", "Prompt", "Record 7"."""
        return _WHERE.get(self.source, "Line {n}").format(n=f"{self.line:,}")

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


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
    def cost(self) -> Decimal:
        return image_cost(self.rows)


# --- text helpers ---------------------------------------------------------------------


def js_length(text: str) -> int:
    """The length JavaScript gives ``text`` (UTF-16 code units), as the server's zod counts.

    A character outside the Basic Multilingual Plane (most emoji) counts 2; a lone
    surrogate counts 1, as it does in a JavaScript string.
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _is_invisible(ch: str) -> bool:
    """A character a person cannot see: whitespace, format and control characters, fillers."""
    return unicodedata.category(ch) in _INVISIBLE_CATEGORIES or ord(ch) in _INVISIBLE_EXTRA


def _is_hidden_in_message(ch: str) -> bool:
    """A character that must not appear raw inside a message (everything invisible but ' ')."""
    return ch != " " and (_is_invisible(ch) or unicodedata.category(ch) == "Cs")


def _char_name(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``; controls get their common name."""
    code = ord(ch)
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(code, "")
    if not name:
        name = LINE_BREAKS.get(ch, "")
    if not name:
        category = unicodedata.category(ch)
        name = {"Cc": "a control character", "Cs": "a lone surrogate"}.get(category, "")
    return f"U+{code:04X} {name}".rstrip() if name else f"U+{code:04X}"


def visible(text: str, limit: int = 60) -> str:
    """``text`` safe to quote inside a message: invisible and control characters become
    ``[U+XXXX]`` and anything past ``limit`` characters becomes ``…``."""
    short = text if len(text) <= limit else text[:limit]
    shown = "".join(f"[U+{ord(c):04X}]" if _is_hidden_in_message(c) else c for c in short)
    return shown + ("…" if len(text) > limit else "")


def _names(chars: Iterable[str], most: int = 3) -> str:
    """The distinct characters, named, in order of first appearance: at most ``most``."""
    seen: list[str] = []
    for ch in chars:
        if ch not in seen:
            seen.append(ch)
    named = ", ".join(_char_name(c) for c in seen[:most])
    return named + (f" and {len(seen) - most} more" if len(seen) > most else "")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def plural(n: int, word: str) -> str:
    """``1 row``, ``3 rows``, ``1,000 entries`` (a word ending in a consonant and y takes
    -ies)."""
    if n == 1:
        return f"{n:,} {word}"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return f"{n:,} {word[:-1]}ies"
    return f"{n:,} {word}s"


def describe_value(value: Any) -> str:
    """A short plain description of any value, never huge and never raising.

    ``"the text \"x\""``, ``"the number 7"``, ``"a list of 2 items"``, ``"an object with 1
    field"``, ``"the yes/no value True"``, ``"a 5,000-digit number"``, ``"nothing"``.
    """
    try:
        if value is None or _is_missing(value):
            return "nothing"
        if isinstance(value, str):
            return f'the text "{visible(value, 40)}"'
        if isinstance(value, bool):
            return f"the yes/no value {value}"
        if isinstance(value, numbers.Integral):
            number = int(value)
            if abs(number) < 10**30:
                return f"the number {number}"
            digits = int(number.bit_length() * math.log10(2)) + 1
            return f"a number of about {digits:,} digits"
        if isinstance(value, float):
            return f"the number {value!r}"
        if isinstance(value, LongNumber):
            return f"a {value.digits:,}-digit number"
        if isinstance(value, numbers.Number):
            return f"the number {visible(str(value), 40)}"
        if isinstance(value, (bytes, bytearray)):
            return f"binary data ({plural(len(value), 'byte')})"
        if isinstance(value, Mapping):
            return f"an object with {plural(len(value), 'field')}"
        if isinstance(value, (list, tuple, set, frozenset)):
            return f"a list of {plural(len(value), 'item')}"
        return f"a {type(value).__name__} value"
    except Exception:  # noqa: BLE001 - a description must never be the thing that fails
        return f"a {type(value).__name__} value"


class LongNumber:
    """A number too long to read as one (JSON manifests: Python refuses over 4,300 digits)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"LongNumber(digits={self.digits})"


def _is_missing(value: Any) -> bool:
    """None, a float NaN, or pandas' NA/NaT (recognised without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def is_blank_cell(value: Any) -> bool:
    """An empty cell: nothing, NaN/NA, or text of only whitespace. Lists and numbers are data."""
    if _is_missing(value):
        return True
    return isinstance(value, str) and not value.strip()


def split_lines(text: str) -> list[tuple[str, str]]:
    """``(line, ending)`` for every physical line, split as :meth:`str.splitlines` does.

    ``ending`` is the line break that ends the line ('' for the last line without one).
    """
    out: list[tuple[str, str]] = []
    for raw in text.splitlines(keepends=True):
        if raw.endswith("\r\n"):
            out.append((raw[:-2], "\r\n"))
        elif raw and raw[-1] in LINE_BREAKS:
            out.append((raw[:-1], raw[-1]))
        else:
            out.append((raw, ""))
    return out


# --- lengths ---------------------------------------------------------------------------


def _wide_note(text: str) -> str:
    """' (emoji count as 2)' when ``text`` holds characters that count 2, else ''."""
    return " (emoji count as 2)" if js_length(text) != len(text) else ""


def prompt_length(text: str) -> int:
    """How long the prompt is as sent and as the server counts it: whitespace collapsed,
    UTF-16 code units (an emoji counts 2)."""
    return js_length(_collapse(text))


def prompt_length_note(text: str) -> str:
    """A live count for the Single-mode prompt, e.g. "12 of 1,000 characters" or
    "1,001 of 1,000 characters (emoji count as 2): 1 too many"."""
    body = _collapse(text)
    n = js_length(body)
    note = f"{n:,} of {MAX_PROMPT_CHARS:,} characters{_wide_note(body)}"
    if n > MAX_PROMPT_CHARS:
        note += f": {n - MAX_PROMPT_CHARS:,} too many"
    return note


# --- field rules -----------------------------------------------------------------------


def _variants_problem(raw: Any, *, whole_floats: bool = False) -> tuple[int | None, str | None]:
    """Read a variants value (text from a line, or a value from a grid or manifest).

    ``whole_floats`` accepts a float with no fraction (2.0): a grid column with one blank
    cell becomes a float column, so every other row's 2 arrives as 2.0.
    """
    limit = f"a whole number from 1 to {MAX_VARIANTS}"
    if _is_missing(raw):
        return None, f"Variants are missing; they must be {limit}."
    if isinstance(raw, bool):
        return None, f"Variants must be {limit}; found {describe_value(raw)}."
    if isinstance(raw, numbers.Integral):
        value = int(raw)
    elif isinstance(raw, float):
        if not (whole_floats and raw.is_integer()):
            return None, f"Variants must be {limit}; found {raw!r}."
        value = int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None, f"Variants are missing; they must be {limit}."
        if not _PLAIN_INT.match(text):
            return None, f'Variants must be {limit}; found "{visible(text, 30)}".'
        digits = text.lstrip("0") or "0"
        if len(digits) > 20:
            # int() refuses digit strings over 4,300 long: never let a huge number raise.
            return None, (
                f"Variants must be from 1 to {MAX_VARIANTS}; "
                f"found a {len(digits):,}-digit number."
            )
        value = int(digits)
    else:
        return None, f"Variants must be {limit}; found {describe_value(raw)}."
    if not 1 <= value <= MAX_VARIANTS:
        shown = str(value) if abs(value) < 10**30 else describe_value(value)
        return None, f"Variants must be from 1 to {MAX_VARIANTS}; found {shown}."
    return value, None


_SCENE_RULE = f"1 to {MAX_SCENE_ID_CHARS} characters of A-Z a-z 0-9 . _ -"


def _scene_problem(scene_id: str) -> str | None:
    if not scene_id:
        return f"The scene id (before the first |) is empty; it must be {_SCENE_RULE}."
    if all(_is_invisible(c) for c in scene_id):
        return (
            f"The scene id has only invisible characters ({_names(scene_id)}); "
            f"it must be {_SCENE_RULE}."
        )
    n = js_length(scene_id)
    if n > MAX_SCENE_ID_CHARS:
        return f"The scene id is {n:,} of {MAX_SCENE_ID_CHARS} characters{_wide_note(scene_id)}."
    if not _SCENE_ID_RE.match(scene_id):
        bad = _SCENE_ID_BAD_CHAR.search(scene_id)
        ch = bad.group() if bad else ""
        if not ch:
            shown = "another character"
        elif ch == " " or not _is_hidden_in_message(ch):
            shown = repr(ch)
        else:
            shown = _char_name(ch)
        return (
            f'The scene id "{visible(scene_id)}" may only contain letters A-Z a-z, digits 0-9, '
            f"'.', '_' and '-' (found {shown})."
        )
    return None


def _prompt_problem(prompt: str) -> str | None:
    """What is wrong with a (whitespace-collapsed) prompt, or None."""
    if not prompt:
        return f"The prompt is empty; it must be 1 to {MAX_PROMPT_CHARS:,} characters."
    n = js_length(prompt)
    if n > MAX_PROMPT_CHARS:
        return (
            f"The prompt is {n:,} of {MAX_PROMPT_CHARS:,} characters{_wide_note(prompt)}; "
            f"shorten it by {n - MAX_PROMPT_CHARS:,}."
        )
    bad = _LONE_SURROGATE.search(prompt)
    if bad:
        # A Python str may hold lone surrogates; BatchRow (pydantic) refuses them, so say so here.
        return (
            f"The prompt contains U+{ord(bad.group()):04X}, which is not a valid character; "
            "it must be plain Unicode text."
        )
    controls = [c for c in prompt if unicodedata.category(c) == "Cc"]
    if controls:
        return (
            f"The prompt contains the control character {_names(controls)}, "
            "which cannot be sent; remove it."
        )
    if all(_is_invisible(c) for c in prompt):
        return (
            f"The prompt has only invisible characters ({_names(prompt)}); "
            "write it in visible text."
        )
    return None


def _text_field(value: Any, what: str) -> tuple[str, str | None]:
    """A cell as text: missing is '', text is itself, anything else is a problem (never coerced)."""
    if _is_missing(value):
        return "", None
    if isinstance(value, str):
        return value, None
    return "", f"The {what} must be text; found {describe_value(value)}."


def _cell_text(value: Any) -> str:
    """A cell as it is shown in an error's ``text``: text as is, anything else described."""
    if _is_missing(value):
        return ""
    if isinstance(value, str):
        return value if len(value) <= 2000 else value[:2000] + "…"
    if isinstance(value, (bool, float)) or (
        isinstance(value, numbers.Integral) and abs(int(value)) < 10**30
    ):
        return str(value)
    return f"({describe_value(value)})"


class _Checker:
    """Checks entries in order, remembering scene ids and counting entries."""

    def __init__(self, source: Source, *, whole_floats: bool = False) -> None:
        self.source: Source = source
        self.whole_floats = whole_floats
        self.rows: list[BatchRow] = []
        self.errors: list[LineError] = []
        self._first_line: dict[str, int] = {}
        self._entries = 0

    def check(self, line: int, scene_id: Any, prompt: Any, variants: Any, text: str,
              hint: str = "") -> None:
        self._entries += 1
        problems: list[str] = []
        raw_scene, scene_type_problem = _text_field(scene_id, "scene id")
        raw_prompt, prompt_type_problem = _text_field(prompt, "prompt")
        scene = raw_scene.strip()
        body = _collapse(raw_prompt)
        if scene_type_problem:
            problems.append(scene_type_problem)
        else:
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
        prompt_problem = prompt_type_problem or _prompt_problem(body)
        if prompt_problem:
            problems.append(prompt_problem)
        value, variants_problem = _variants_problem(variants, whole_floats=self.whole_floats)
        if variants_problem:
            problems.append(variants_problem)
        if self._entries > MAX_ROWS:
            problems.append(
                f"A batch holds at most {MAX_ROWS} rows; this is row {self._entries:,}. "
                "Split it into another batch."
            )
        if problems:
            self.fail(line, " ".join(problems) + hint, text, count=False)
        else:
            assert value is not None
            self.rows.append(BatchRow(scene_id=scene, prompt=body, variants=value))

    def fail(self, line: int, message: str, text: str, *, count: bool = True) -> None:
        if count:
            self._entries += 1
        self.errors.append(LineError(line=line, message=message, text=text, source=self.source))

    def result(self) -> ParseResult:
        return ParseResult(rows=self.rows, errors=self.errors)


def _break_hint(lines: Sequence[tuple[str, str]], index: int) -> str:
    """Why a line may look different from what the person sees: an unusual line break."""
    hints = []
    if index > 0 and lines[index - 1][1] not in _USUAL_BREAKS:
        ending = lines[index - 1][1]
        hints.append(
            f" The line before ends at a {LINE_BREAKS[ending]} (U+{ord(ending):04X}), "
            "which counts as a line break."
        )
    ending = lines[index][1]
    if ending not in _USUAL_BREAKS:
        hints.append(
            f" This line ends at a {LINE_BREAKS[ending]} (U+{ord(ending):04X}), "
            "which counts as a line break."
        )
    return "".join(hints)


def parse_batch(text: str) -> ParseResult:
    """Parse batch text, one ``scene_id | prompt | variants`` row per line.

    Blank lines and lines starting with ``#`` are ignored. The scene id is the text
    before the first ``|``, variants the text after the last ``|``, and the prompt is
    everything between (so a prompt may contain ``|``). A byte-order mark at the very start
    (pasted from a file saved by a spreadsheet) is not part of the first scene id. Lines
    are the lines of :func:`split_lines`; an error on a line next to an unusual line break
    (U+2028, a form feed …) says so.
    """
    checker = _Checker("batch")
    if not isinstance(text, str):
        checker.fail(1, f"The batch must be text; found {describe_value(text)}.", "")
        return checker.result()
    lines = split_lines(text.removeprefix("\ufeff"))
    for index, (line, _ending) in enumerate(lines):
        number = index + 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        hint = _break_hint(lines, index)
        if all(_is_invisible(c) for c in stripped):
            checker.fail(
                number,
                f"This line has only invisible characters ({_names(stripped)}); "
                "delete it or write a row." + hint,
                line,
            )
            continue
        if line.count("|") < 2:
            found = line.count("|")
            hidden = [c for c in line if _is_hidden_in_message(c) and not c.isspace()]
            extra = f" It contains invisible characters: {_names(hidden)}." if hidden else ""
            checker.fail(
                number,
                'Expected "scene_id | prompt | variants" (three fields separated by |); '
                f"found {found + 1} field{'s' if found else ''}.{extra}{hint}",
                line,
            )
            continue
        scene_id, rest = line.split("|", 1)
        prompt, variants = rest.rsplit("|", 1)
        checker.check(number, scene_id, prompt, variants, line, hint)
    return checker.result()


def parse_single(prompt: str, variants: Any, scene_id: str | None = None) -> ParseResult:
    """Check a Single-mode prompt; its one row (or error) is reported as line 1.

    In Single mode the whole text is the prompt: ``|`` stays and line breaks collapse to
    spaces. The error's ``source`` is ``"single"``.
    """
    checker = _Checker("single")
    scene = scene_id if scene_id is not None and not _is_missing(scene_id) else ""
    if isinstance(scene, str) and not scene:
        scene = DEFAULT_SINGLE_SCENE_ID
    checker.check(1, scene, prompt, variants, _cell_text(prompt))
    return checker.result()


def check_records(
    numbered: Iterable[tuple[int, Any]], *, source: Source = "grid", whole_floats: bool = True
) -> ParseResult:
    """Check ``(line, record)`` pairs (a record maps scene_id, prompt, variants to values).

    A record whose three fields are all blank is skipped (an empty grid row); a value that
    is not text (a number, a list, an object, a yes/no value) is an error, never coerced;
    a record that is not a mapping is an error. Errors carry ``line`` and ``source``.
    """
    checker = _Checker(source, whole_floats=whole_floats)
    for number, record in numbered:
        if not isinstance(record, Mapping):
            checker.fail(
                number,
                "This is not a record with scene_id, prompt and variants; "
                f"found {describe_value(record)}.",
                _cell_text(record),
            )
            continue
        scene_id, prompt, variants = (record.get(k) for k in ("scene_id", "prompt", "variants"))
        values = (scene_id, prompt, variants)
        if all(is_blank_cell(v) for v in values):
            continue  # an empty grid row the person has not filled in yet
        checker.check(number, scene_id, prompt, variants, " | ".join(_cell_text(v) for v in values))
    return checker.result()


def rows_from_records(records: Iterable[Mapping[str, Any]]) -> ParseResult:
    """Re-check rows edited in a grid; errors name the grid row (1-based) and have
    ``source="grid"``. Variants may be 2, "2" or 2.0 (a grid column with a blank cell
    holds floats); 2.5, True, "two" and anything out of 1..3 are errors."""
    return check_records(enumerate(records, start=1), source="grid")


def format_batch(rows: Sequence[BatchRow]) -> str:
    """Write rows back as batch text; ``parse_batch(format_batch(rows))`` gives them back.

    A prompt is written with its whitespace collapsed, so a row is always one line (the
    parser never makes a prompt that holds a line break; this guards rows made elsewhere).
    """
    return "\n".join(f"{r.scene_id} | {_collapse(r.prompt)} | {r.variants}" for r in rows)


def attach_refs(rows: Sequence[BatchRow], urls: Sequence[str]) -> list[BatchRow]:
    """Give every row the same reference image URLs (replacing what it had)."""
    refs = tuple(urls)
    return [r.model_copy(update={"ref_urls": refs}) for r in rows]


# --- reference URLs and whole rows ------------------------------------------------------

_HOST_CHAR = re.compile(r"^[^\x00-\x20#%/:<>?@\[\\\]^|\x7f]+$")


def _url_problem(url: Any, own_base_url: str = "") -> str | None:
    """Why the server's ``z.string().url().startsWith('https://')`` would refuse ``url``."""
    if not isinstance(url, str):
        return f"is not a web address; found {describe_value(url)}"
    if not url.strip():
        return "is empty"
    own = bool(own_base_url) and url.startswith(own_base_url.rstrip("/") + "/")
    if not (url.startswith("https://") or own):
        return "is not an https:// address; the server accepts only https:// links"
    if any(_is_invisible(c) or unicodedata.category(c) == "Cs" for c in url):
        return "contains spaces or invisible characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0..65535
    except ValueError:
        return "is not a valid web address"
    if not host or not (host.startswith("[") or _HOST_CHAR.match(host) or ":" in host):
        return "has no valid host name"
    return None


def check_reference_urls(urls: Any, *, own_base_url: str = "") -> list[str]:
    """Problems with one row's reference image URLs, as sentences ([] when all are fine).

    Each URL must be an ``https://`` address with a host (the server's schema) and a row
    holds at most ``MAX_REF_IMAGES``; each problem names the reference by its position
    and address. A URL under ``own_base_url`` (the orchestrator that served the upload,
    such as the emulator on ``http://127.0.0.1:8787``) is accepted over http as well.
    """
    if urls is None:
        return []
    if isinstance(urls, str) or not isinstance(urls, (Sequence, set, frozenset)):
        return [f"The reference images must be a list of web addresses; found {describe_value(urls)}."]
    problems: list[str] = []
    refs = list(urls)
    if len(refs) > MAX_REF_IMAGES:
        problems.append(
            f"A row may have at most {MAX_REF_IMAGES} reference images; this one has {len(refs):,}."
        )
    for number, url in enumerate(refs, start=1):
        problem = _url_problem(url, own_base_url)
        if problem:
            shown = f' ("{visible(url, 80)}")' if isinstance(url, str) and url.strip() else ""
            problems.append(f"Reference {number}{shown} {problem}.")
    return problems


def row_problems(row: BatchRow, *, own_base_url: str = "") -> list[str]:
    """Everything the server's schema would refuse in a row, as the parser words it.

    Rows from :func:`parse_batch`, :func:`parse_single` and :func:`check_records` always
    pass the text rules; this guards rows made any other way (and their reference URLs).
    """
    problems = [p for p in (_scene_problem(row.scene_id), _prompt_problem(row.prompt)) if p]
    problems += check_reference_urls(row.ref_urls, own_base_url=own_base_url)
    return problems
