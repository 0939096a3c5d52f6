"""Telemetry text made safe to show: markup stays text, control characters become visible escapes.

Any local process can send telemetry, so a prompt, a model name or an attribute value may hold
terminal control sequences (ESC [2J clears the screen) or Rich/Textual markup. Every screen, the
CLI and exported files show such text through this module: nothing sent is ever written to the
terminal as a command, and nothing is parsed as markup (the Text built here never parses any).

Escaped: C0 controls, DEL, C1 controls (U+0080-U+009F: U+009B is a one-character CSI), and the
invisible characters that reorder or split lines (bidi overrides and isolates, U+2028/U+2029), and
lone surrogates, which cannot be encoded for the terminal at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
from rich.style import Style
from rich.text import Text

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"  # lone surrogates: no terminal can be sent them (not UTF-8)
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
ESCAPE_STYLE = Style(reverse=True)
"""How an escape stands out from text that merely looks like one (a typed backslash-x)."""


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _split(text: str, newlines: bool) -> Iterator[tuple[str, bool]]:
    if newlines:
        text = text.replace("\r\n", "\n")
    start = 0
    for match in _CONTROL.finditer(text):
        char = match.group()
        if newlines and char in "\n\t":
            continue
        if match.start() > start:
            yield text[start : match.start()], False
        yield _escape(char), True
        start = match.end()
    if start < len(text):
        yield text[start:], False


def pieces(
    text: str, *, newlines: bool = False, width: int | None = None
) -> list[tuple[str, bool]]:
    """`text` as (piece, is_escape) pairs. With `newlines`, line breaks and tabs stay as they are
    (a transcript's layout; CRLF counts as one break). With `width`, cut to that many characters
    with an ellipsis, never inside an escape."""
    parts = list(_split(text, newlines))
    if width is None or sum(len(piece) for piece, _ in parts) <= width:
        return parts
    clipped: list[tuple[str, bool]] = []
    room = max(width - 1, 0)
    for piece, escaped in parts:
        if len(piece) > room:
            if not escaped and room:
                clipped.append((piece[:room], False))
            break
        clipped.append((piece, escaped))
        room -= len(piece)
    return [*clipped, ("…", False)]


def visible(text: str, *, newlines: bool = False, width: int | None = None) -> str:
    """`text` with every control character written as an escape such as `\\x1b` or `\\u202e`."""
    return "".join(piece for piece, _ in pieces(text, newlines=newlines, width=width))


def literal(
    text: str, style: str | Style = "", *, newlines: bool = False, width: int | None = None
) -> Text:
    """`text` as Rich Text shown exactly as sent: markup is not parsed, escapes are highlighted."""
    shown = Text(style=style, end="")
    for piece, escaped in pieces(text, newlines=newlines, width=width):
        shown.append(piece, ESCAPE_STYLE if escaped else None)
    return shown


_JSON_UNESCAPED = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_text(value: Any, *, indent: bool = True, default: Any = None) -> str:
    """JSON of `value` safe to print or `cat`: JSON already escapes C0 controls; the others
    (DEL, C1, bidi), legal raw in JSON strings, are written as \\u escapes too. Reads back equal."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    text = orjson.dumps(value, option=option, default=default).decode()
    return _JSON_UNESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
