"""One line over the calls table: following or not, calls that arrived meanwhile, active search,
and retention at work."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.widgets import Static

from localobs.tui import format as fmt


@dataclass(frozen=True)
class FollowState:
    paused: bool
    at_top: bool
    arrived: int
    search: str
    endpoint_url: str | None
    pruning: bool = False


def status_content(state: FollowState) -> Content:
    if state.paused:
        mode = Content.styled("⏸ paused", "$text-warning b")
    elif state.at_top:
        mode = Content.styled("● live", "$text-success b")
    else:
        mode = Content.styled("↓ scrolled", "$text-warning b")
    parts = [mode]
    if state.arrived:
        hint = "p resumes" if state.paused else "home jumps to them"
        parts.append(Content.styled(f"  ▲ {state.arrived} new calls ({hint})", "$text-accent b"))
    if state.search:
        parts.append(Content.assemble("  search: ", fmt.shown(state.search, "b"), " (esc clears)"))
    elif state.endpoint_url and not state.arrived:
        parts.append(fmt.shown(f"  receiving on {state.endpoint_url}", "$foreground-muted"))
    if state.pruning:
        parts.append(Content.styled("  ✂ pruning the oldest data (retention)", "$text-warning"))
    return Content("").join(parts)


class StatusLine(Static):
    _shown: FollowState | None = None

    def show(self, state: FollowState) -> None:
        """Redraw only when something changed: this is called on every refresh tick."""
        if state != self._shown:
            self._shown = state
            self.update(status_content(state))
