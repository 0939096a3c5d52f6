"""`/`: a one-line search over the calls list, checked as it is typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from localobs.tui import format as fmt
from localobs.tui.search_syntax import SYNTAX_HELP, SearchSyntaxError, parse_search
from localobs.tui.widgets.keys_footer import KeysFooter

_EXAMPLES = (
    "model:gpt-4o error        calls to gpt-4o that failed\n"
    "slow>2s service:bot       calls over two seconds from the bot\n"
    '"refund policy" since:1h  that phrase, in the last hour'
)


class SearchScreen(ModalScreen[str | None]):
    """Dismisses with the search text (empty clears it), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),
    ]

    def __init__(self, text: str, clock: Callable[[], int]) -> None:
        super().__init__()
        self._text = text
        self._clock = clock

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(Content.styled("Search calls", "b"))
            yield Input(self._text, placeholder="free text, model:, service:, error, slow>2s")
            yield Static(Content.styled(SYNTAX_HELP, "$foreground-muted"), id="search-help")
            yield Static(Content.styled(_EXAMPLES, "$foreground-muted"), id="search-examples")
            yield Static(id="search-error")
        yield KeysFooter()

    @on(Input.Changed)
    def _check(self, event: Input.Changed) -> None:
        self.query_one("#search-error", Static).update(self._problem(event.value))

    def _problem(self, text: str) -> Content:
        try:
            parse_search(text, self._clock)
        except SearchSyntaxError as exc:
            return fmt.shown(str(exc), "$text-error")
        return Content("")

    def action_apply(self) -> None:
        text = self.query_one(Input).value
        try:
            parse_search(text, self._clock)
        except SearchSyntaxError as exc:
            self.query_one("#search-error", Static).update(fmt.shown(str(exc), "$text-error"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
