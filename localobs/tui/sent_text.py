"""Sent text (agent and tool names, arguments, results, questions) as inert table and detail text.

Built as Rich `Text` from plain strings, never parsed as markup; control characters are shown as
escapes (`\\x1b`), so telemetry cannot drive the terminal or hide what it sent.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from localobs.tui import format as fmt


def escaped(text: str) -> str:
    return "".join(
        char if char.isprintable() or char in "\n\t" else char.encode("unicode_escape").decode()
        for char in text
    )


def one_line(text: str | None, width: int, style: Style | str = "") -> Text:
    """On one line, whitespace collapsed, cut to `width` characters."""
    if text is None:
        return Text(fmt.MISSING, style=style)
    return Text(fmt.one_line(escaped(text), width), style=style)


def block(text: str | None, max_chars: int = 2000, style: Style | str = "") -> Text:
    """Several lines as sent, cut at `max_chars`."""
    if text is None:
        return Text(fmt.MISSING, style=style)
    shown = escaped(text)
    if len(shown) > max_chars:
        shown = shown[: max_chars - 1] + "…"
    return Text(shown, style=style)
