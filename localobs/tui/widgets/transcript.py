"""A conversation drawn as a transcript: one block per message, roles set apart by colour."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from localobs.tui import format as fmt
from localobs.tui.conversation import Turn

_ROLE_CLASSES = {"system", "user", "assistant", "tool"}


class MessageView(Static):
    """One message; long text wraps, the screen scrolls."""

    def __init__(self, turn: Turn) -> None:
        role_class = turn.role if turn.role in _ROLE_CLASSES else "other"
        super().__init__(
            Content.assemble(
                fmt.shown(turn.role, "b"),
                fmt.shown(f"  {turn.note}" if turn.note else "", "$foreground-muted"),
                "\n",
                fmt.shown(turn.text, newlines=True) if turn.text else Content("(empty)"),
            ),
            classes=f"message role-{role_class}",
        )


class Transcript(Vertical):
    def __init__(self, turns: list[Turn], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._turns = turns

    def compose(self) -> ComposeResult:
        if not self._turns:
            yield Static(
                Content.styled(
                    "No messages recorded for this call (the instrumentation may not capture "
                    "content; e.g. OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).",
                    "$foreground-muted",
                ),
                classes="message",
            )
        for turn in self._turns:
            yield MessageView(turn)
