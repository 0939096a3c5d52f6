"""Sent text of agents (agent and tool names, arguments, results, questions) as Rich `Text`.

Both shapes go through `localobs.literal`, the one escaping rule: markup is never parsed and
control characters show as highlighted escapes, so telemetry cannot drive the terminal.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from localobs.literal import literal
from localobs.tui import format as fmt


def one_line(text: str | None, width: int, style: Style | str = "") -> Text:
    """On one line, runs of whitespace as one space, cut to `width` characters."""
    if text is None:
        return Text(fmt.MISSING, style=style)
    return literal(" ".join(text.split()), style, width=width)


def block(text: str | None, max_chars: int = 2000, style: Style | str = "") -> Text:
    """Several lines as sent, cut at `max_chars`."""
    if text is None:
        return Text(fmt.MISSING, style=style)
    return literal(text, style, newlines=True, width=max_chars)
