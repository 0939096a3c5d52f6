"""A screen that loads when shown, then again when the store changes: one query in flight, at
most about once a second (`RefreshGate`), so a flood of commits costs one more query."""

from __future__ import annotations

from textual.screen import Screen

from localobs.tui.context import ViewerContext
from localobs.tui.refresh import RefreshGate, StoreChanged

RELOAD_INTERVAL_S = 1.0
_GROUP = "reload"


class ReloadingScreen(Screen[None]):
    """Subclasses implement `_query`, run on a worker thread, which posts its result; the
    result's handler calls `_loaded()`. Textual calls each class's `on_mount` and
    `on_screen_resume` itself, the subclass's first: a subclass's own (adding its columns) must
    not call these too, or every load and timer would run twice."""

    def __init__(self, ctx: ViewerContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._gate = RefreshGate(min_interval_s=RELOAD_INTERVAL_S)

    def on_mount(self) -> None:
        self.set_interval(RELOAD_INTERVAL_S, self._pump)

    def on_screen_resume(self) -> None:
        """Shown (pushed, or back in front): read now, not at the next change. Changes are only
        reported to the screen in front, and a kept screen (the app's `_push_kept`) is shown
        again with its rows of last time."""
        self._show_loading()
        if self._gate.request(skip_interval=True):
            self._load()

    def on_screen_suspend(self) -> None:
        """Hidden (closed, or another screen in front): a read in flight is for nobody now, and
        the reader pool interrupts a cancelled worker's statement. Shown again, it reads anew."""
        if self._gate.running:
            self.workers.cancel_group(self, _GROUP)
            self._gate.abandon()

    def _show_loading(self) -> None:
        """Say that the rows shown are being read anew (a kept list shows last time's)."""

    def on_store_changed(self, _: StoreChanged) -> None:
        if self._gate.request():
            self._load()

    def _pump(self) -> None:
        if self.is_active and self._gate.pump():
            self._load()

    def _loaded(self) -> None:
        if self._gate.finished():
            self._load()

    def _load(self) -> None:
        self.run_worker(self._query, thread=True, exclusive=True, group=_GROUP)

    def _query(self) -> None:
        raise NotImplementedError("a ReloadingScreen defines its own query")
