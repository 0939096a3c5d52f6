"""The footer of every screen: Textual's compact Footer, rebuilt only when its keys change.

Textual's Footer recomposes (unmounts and mounts a widget per key, each styled anew) on every
`refresh_bindings()` of its screen, whether or not anything it shows changed. Screens refresh
bindings whenever a row is highlighted, data arrives or the screen stack moves; under an ingest
flood that was several rebuilds per key press, tens of milliseconds of the event loop each.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

_Shown = tuple[tuple[Binding, bool, str], ...]


def shown_keys(screen: Screen[Any]) -> _Shown:
    """What a footer on `screen` shows: each visible binding (the command palette's too), enabled
    or not, with its tooltip."""
    return tuple(
        (binding, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == screen.app.COMMAND_PALETTE_BINDING
    )


class KeysFooter(Footer):
    _requested: _Shown | None = None  # the keys of the last rebuild asked for

    def __init__(self) -> None:
        super().__init__(compact=True)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """Rebuild (after the next refresh, as Footer does) only for keys not asked for yet, and
        not while another screen is in front (its keys then act on that one): it is asked again when
        this screen is back in front (ScreenResume)."""
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            if not screen.is_active:
                return
            shown = shown_keys(screen)
            if shown == self._requested:
                return
            self._requested = shown
        super().bindings_changed(screen)
