"""The conditions board at the top of every screen: what is wrong (or starting) right now.

The app mounts one on each screen it shows and keeps `app.conditions` current; the bar redraws
when that changes and hides itself while the board is empty. Every text comes from the board as
plain strings put into `Content` pieces, never parsed as markup: messages and the `log_tail`
lines (a detail a source may attach, e.g. the demo bot's last output) are shown literally.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from localobs.conditions import Condition, Level
from localobs.tui import format as fmt

LEVEL_STYLE: dict[Level, tuple[str, str]] = {
    "error": ("✖", "$text-error"),
    "warning": ("▲", "$text-warning"),
    "info": ("●", "$text-accent"),
}
BAR_TAIL_LINES = 3


def log_tail(condition: Condition) -> list[str]:
    """The last lines of output a condition carries (`details["log_tail"]`), as strings."""
    tail = condition.details.get("log_tail")
    return [str(line) for line in tail] if isinstance(tail, list) else []


def condition_line(condition: Condition) -> Content:
    mark, style = LEVEL_STYLE[condition.level]
    return Content.assemble(
        (f"{mark} {condition.source}: ", f"{style} b"), fmt.shown(condition.message, style)
    )


def bar_content(conditions: Sequence[Condition]) -> Content:
    lines: list[Content] = []
    for condition in conditions:
        lines.append(condition_line(condition))
        if condition.level == "error":
            lines.extend(
                Content.assemble("    ", fmt.shown(line, "$foreground-muted"))
                for line in log_tail(condition)[-BAR_TAIL_LINES:]
            )
    return Content("\n").join(lines)


class ConditionsBar(Static):
    """Docked at the top of its screen (app.tcss); shows `app.conditions`, or nothing."""

    def on_mount(self) -> None:
        self.watch(self.app, "conditions", self.show)

    def show(self, conditions: Sequence[Condition] | None) -> None:
        self.display = bool(conditions)
        self.update(bar_content(conditions or ()))
