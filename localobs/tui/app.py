"""The live viewer: a Textual app over the store, reading only through its query functions.

`run_tui` is what `localobs up` calls on the main thread while the receiver runs on its own; the
app never writes, and every query runs on a worker thread with its own reader connection.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from localobs.store import Store
from localobs.tui.commands import BindingCommands
from localobs.tui.context import ViewerContext
from localobs.tui.refresh import ConnectionFactory, ReaderPool, StoreChanged, StoreWatcher
from localobs.tui.screens.calls import CallsScreen
from localobs.tui.terminal_logs import logs_to_file

POLL_INTERVAL_S = 0.1
TOTALS_WINDOW_S = 3600.0


class LocalobsApp(App[None]):
    """The viewer. `owns_process`: it is the process's main loop (`run_tui`), so it takes SIGTERM
    and tunes the garbage collector; tests and embedders leave both alone."""

    CSS_PATH = "app.tcss"
    TITLE = "localobs"
    COMMANDS = App.COMMANDS | {BindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "components", "Components"),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        source: Store | ConnectionFactory,
        *,
        clock: Callable[[], int] = time.time_ns,
        endpoint_url: str | None = None,
        grpc_url: str | None = None,
        tz: tzinfo | None = None,
        export_dir: Path | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
        totals_window_s: float | None = TOTALS_WINDOW_S,
        log_path: Path | None = None,
        owns_process: bool = False,
    ) -> None:
        super().__init__()
        factory = source.reader if isinstance(source, Store) else source
        self._factory: Callable[[], sqlite3.Connection] = factory
        self.ctx = ViewerContext(
            readers=ReaderPool(factory),
            clock=clock,
            tz=tz,
            endpoint_url=endpoint_url,
            export_dir=export_dir or Path.cwd(),
            totals_window_s=totals_window_s,
            log_path=log_path,
            grpc_url=grpc_url,
            toggle_kept=source.toggle_kept if isinstance(source, Store) else None,
        )
        self._poll_interval_s = poll_interval_s
        self._owns_process = owns_process
        self._sigterm_before_mount = False
        if owns_process:
            signal.signal(signal.SIGTERM, self._note_early_sigterm)
        self._watcher: StoreWatcher | None = None

    def _note_early_sigterm(self, signum: int, frame: FrameType | None) -> None:
        """A SIGTERM before the event loop can take it: exit as soon as the app is mounted."""
        self._sigterm_before_mount = True

    def get_default_screen(self) -> Screen[None]:
        return CallsScreen(self.ctx)

    def on_mount(self) -> None:
        self._watcher = StoreWatcher(self._factory())
        self.set_interval(self._poll_interval_s, self._check_store)
        if self._owns_process:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
            if self._sigterm_before_mount:
                self.exit()
            self.call_after_refresh(self._freeze_startup_objects)

    def _freeze_startup_objects(self) -> None:
        """Exempt what exists once the viewer is up (modules, the app) from garbage collection.

        Rendering makes CPython's full collections frequent; each walks every object, taking
        100-250 ms under ingest load. Freezing the long-lived ones halves that time.
        """
        gc.collect()
        gc.freeze()

    def on_unmount(self) -> None:
        if self._owns_process:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        if self._watcher is not None:
            self._watcher.close()
        self.ctx.readers.close()

    def _check_store(self) -> None:
        """The cheap poll: one PRAGMA; screens only query when it reports a commit."""
        if self._watcher is None:
            return
        try:
            changed = self._watcher.changed()
        except sqlite3.Error:
            return
        if changed:
            # Only the screen in front: the others catch up when they are shown again.
            self.screen.post_message(StoreChanged())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return len(self.screen_stack) > 1
        if action == "components":
            from localobs.tui.screens.components import ComponentsScreen

            return not isinstance(self.screen, ComponentsScreen)
        return True

    def action_components(self) -> None:
        from localobs.tui.screens.components import ComponentsScreen

        self.push_screen(ComponentsScreen(self.ctx))

    def action_help(self) -> None:
        from localobs.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            ctx = self.ctx
            self.push_screen(HelpScreen(ctx.endpoint_url, ctx.log_path, ctx.grpc_url))


def run_tui(store: Store, server_url: str | None, grpc_url: str | None = None) -> None:
    """Run the viewer in this (main) thread until `q` or SIGTERM; the caller stops the receiver.

    From the first SIGTERM on the process is stopping: later ones are ignored, so the receiver
    still finishes its in-flight writes and the exit code stays 0. Log records that would be
    printed on the terminal go to `localobs.log` beside the database meanwhile.
    """
    # Receiving: totals of the last hour. Viewing a database: totals of all of it.
    window = TOTALS_WINDOW_S if server_url else None
    log_path = store.path.parent / "localobs.log"
    app = LocalobsApp(
        store,
        endpoint_url=server_url,
        grpc_url=grpc_url,
        totals_window_s=window,
        log_path=log_path,
        owns_process=True,
    )
    with logs_to_file(log_path):
        app.run()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
