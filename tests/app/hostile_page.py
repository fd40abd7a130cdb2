"""Helpers for driving hostile input through the page: what a person sees, and no markup.

``markdown_strings(at)`` lists every string the page hands to a markdown renderer (alert
boxes, captions, headers, markdown, button/widget labels and help, radio options, metric
labels, expander labels); ``rendered_markup(at, *hostile)`` names every place where markup
would be rendered: a construct the page itself never writes (an HTML tag, a link, ``__``,
a Material icon, a colour, a ``$…$`` pair, an autolink literal such as ``https://…`` or
``www.…``), or a token of the hostile input left unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from streamlit.testing.v1 import AppTest

from batchcore.domain.plaintext import plain
from tests.app.conftest import texts, unescape

#: element types whose text is shown verbatim (never markdown)
_VERBATIM = {"text", "code", "dataframe", "arrow_data_frame", "exception", "json", "image",
             "video", "audio", "text_area", "text_input", "file_uploader"}
#: markdown constructs the page itself never writes, so any of them came from outside
_NEVER_OURS = {
    "an HTML tag": re.compile(r"(?<!\\)<[A-Za-z/!?]"),
    "a link": re.compile(r"(?<!\\)\]\("),
    "bold underscores": re.compile(r"(?<!\\)__"),
    # a backslash does not stop Streamlit's icons (seen in Chromium): only "&#58;" does
    "a Material icon": re.compile(r":material/"),
    "a colour or badge": re.compile(
        r":(?:red|blue|green|orange|violet|gray|grey|rainbow|primary|yellow)"
        r"(?:-background|-badge)?\\?\["),
    "a $…$ formula": re.compile(r"(?<!\\)\$[^$\n]*(?<!\\)\$"),
    "an HTML entity": re.compile(r"(?<!\\)&(?!#58;)(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);"),
    "a live link (autolink literal)": re.compile(
        r"(?i)\b(?:https?|ftp|mailto)(?::|&#58;)|\bwww\.|[\w.+-]@[\w-]+\."),
}
#: a token of hostile input that would render if left unescaped
_ACTIVE = re.compile(r"\*\*|__|<[A-Za-z/!?]|\]\(|:[a-z_]+/[a-z_]+:|:[a-z]+(?:-background)?\[|"
                     r"\$|`|~~|&[#A-Za-z]|\*[^*\s]+\*|_[^_\s]+_|(?i:https?|ftp):|(?i:www)\.|\w@\w")


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def markdown_strings(at: AppTest) -> list[tuple[str, str]]:
    """(where, raw text) of every string on the page that Streamlit renders as markdown."""
    found: list[tuple[str, str]] = []
    for node in _walk(at._tree):
        kind = str(getattr(node, "type", ""))
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "ListFields"):
            continue
        fields = {f.name: v for f, v in proto.ListFields()}
        if kind not in _VERBATIM and kind != "metric" and isinstance(fields.get("body"), str):
            found.append((kind, fields["body"]))
        for name in ("label", "help"):
            if isinstance(fields.get(name), str):
                found.append((f"{kind} {name}", fields[name]))
        if kind == "radio":
            found.extend(("radio option", str(o)) for o in fields.get("options", ()))
        for sub in ("expandable", "tab", "dialog", "popover"):
            inner = fields.get(sub)
            if inner is not None and hasattr(inner, "ListFields"):
                for f, v in inner.ListFields():
                    if f.name in ("label", "title") and isinstance(v, str):
                        found.append((f"{sub} {f.name}", v))
    return found


def hostile_tokens(*inputs: object) -> set[str]:
    """The parts of the inputs (split on spaces and |) that would render as markup."""
    tokens: set[str] = set()
    for value in inputs:
        for token in re.split(r"[\s|]+", str(value)):
            if len(token) >= 3 and re.search(r"[A-Za-z0-9]", token) and _ACTIVE.search(token) \
                    and plain(token) != token:
                tokens.add(token)
    return tokens


def rendered_markup(at: AppTest, *inputs: object) -> list[str]:
    """Every place where the page would render markup that it did not write itself."""
    tokens = hostile_tokens(*inputs)
    problems = []
    for where, raw in markdown_strings(at):
        for what, pattern in _NEVER_OURS.items():
            if pattern.search(raw):
                problems.append(f"{what} in the {where} {raw[:200]!r}")
        for token in tokens:
            if re.search(r"(?<!\\)" + re.escape(token), raw):
                problems.append(f"{token!r} unescaped in the {where} {raw[:200]!r}")
    return problems


def visible(at: AppTest) -> str:
    """What a person reads: every text (escapes undone), every table cell, button labels."""
    parts = [texts(at)]
    for frame in at.dataframe:
        value = frame.value
        parts.extend(str(v) for v in value.to_numpy().ravel().tolist())
    parts.extend(unescape(str(b.label)) for b in at.button)
    return "\n".join(parts)


def assert_sound(at: AppTest, *inputs: object) -> None:
    """No traceback on the page, and no markup rendered from outside."""
    assert not at.exception, [str(e.value)[:400] for e in at.exception]
    problems = rendered_markup(at, *inputs)
    assert not problems, problems[:5]
