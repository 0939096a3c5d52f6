"""The live viewer: a Textual app over the store, reading only through its query functions.

`run_tui` is what `localobs up` calls on the main thread while the receiver runs on its own; the
app never writes, and every query runs on a worker thread with its own reader connection.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable, Iterable
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import var
from textual.screen import ModalScreen, Screen

from localobs.conditions import Condition, Conditions
from localobs.store import Store
from localobs.tui.commands import BindingCommands
from localobs.tui.context import ViewerContext
from localobs.tui.navigation import OpenCall, OpenConversation, OpenRun
from localobs.tui.refresh import CommitPoller, ConnectionFactory, ReaderPool, StoreChanged
from localobs.tui.screens.call_detail import ReplayRequested
from localobs.tui.screens.calls import CallsScreen
from localobs.tui.screens.help import KeySection
from localobs.tui.screens.trace import TraceCompareRequested
from localobs.tui.terminal_logs import logs_to_file
from localobs.tui.widgets.conditions_bar import ConditionsBar

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
        Binding("g", "agents", "Agents"),
        Binding("o", "conversations", "Conversations"),
        Binding("question_mark", "help", "Help"),
        Binding("s", "save_svg", "Save screenshot (SVG)", show=False),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    conditions: var[tuple[Condition, ...]] = var(())
    """The store's conditions board as of the last poll, the worst first; widgets watch it."""

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
        self.ctx = ViewerContext(
            readers=ReaderPool(factory),
            clock=clock,
            tz=tz,
            endpoint_url=endpoint_url,
            export_dir=export_dir or Path.cwd(),
            totals_window_s=totals_window_s,
            log_path=log_path,
            grpc_url=grpc_url,
            db_path=source.path if isinstance(source, Store) else None,
            toggle_kept=source.toggle_kept if isinstance(source, Store) else None,
        )
        self._poll_interval_s = poll_interval_s
        self._owns_process = owns_process
        self._sigterm_before_mount = False
        if owns_process:
            signal.signal(signal.SIGTERM, self._note_early_sigterm)
        # Its thread posts to the app (post_message is thread-safe); `on_store_changed` hands it on.
        self._poller = CommitPoller(
            factory, poll_interval_s, lambda: self.post_message(StoreChanged())
        )
        self._board: Conditions | None = source.conditions if isinstance(source, Store) else None
        self._board_version = -1
        self._board_screen: Screen[object] | None = None

    def _note_early_sigterm(self, signum: int, frame: FrameType | None) -> None:
        """A SIGTERM before the event loop can take it: exit as soon as the app is mounted."""
        self._sigterm_before_mount = True

    def get_default_screen(self) -> Screen[None]:
        return CallsScreen(self.ctx)

    def on_mount(self) -> None:
        self._poller.start()
        self.set_interval(self._poll_interval_s, self._check_conditions)
        self.set_interval(self._poll_interval_s, self.ctx.readers.interrupt_cancelled)
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
        self._poller.stop()
        self.ctx.readers.close()

    def on_store_changed(self, _: StoreChanged) -> None:
        """From the poller: screens only query when it reports a commit."""
        try:
            screen = self.screen
        except ScreenStackError:
            return  # the app is closing
        # Only the screen in front: the others catch up when they are shown again.
        screen.post_message(StoreChanged())

    def _check_conditions(self) -> None:
        """The board's cheap poll: its version number. Each screen shown gets a ConditionsBar."""
        if self._board is None:
            return
        if self._board.version != self._board_version:
            self._board_version = self._board.version
            self.conditions = self._board.snapshot()
        try:
            screen = self.screen
        except ScreenStackError:
            return  # the app is closing: its screens are gone, its timers not yet
        if screen is not self._board_screen:
            self._board_screen = screen
            if not isinstance(screen, ModalScreen) and not screen.query(ConditionsBar):
                screen.mount(ConditionsBar())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A footer may still ask while the app closes, its stack already empty.
        stack = self.screen_stack
        front = stack[-1] if stack else None
        if action == "back":
            return len(stack) > 1
        if action == "components":
            from localobs.tui.screens.components import ComponentsScreen

            return not isinstance(front, ComponentsScreen)
        if action == "agents":
            from localobs.tui.screens.agents import AgentsScreen

            return not isinstance(front, AgentsScreen)
        if action == "conversations":
            from localobs.tui.screens.conversations import ConversationsScreen

            return not isinstance(front, ConversationsScreen)
        return True

    def action_agents(self) -> None:
        from localobs.tui.screens.agents import AgentsScreen

        self._push_kept("agents", lambda: AgentsScreen(self.ctx))

    def action_conversations(self) -> None:
        from localobs.tui.screens.conversations import ConversationsScreen

        self._push_kept("conversations", lambda: ConversationsScreen(self.ctx))

    def _push_kept(self, name: str, make: Callable[[], Screen[None]]) -> None:
        """Views opened from anywhere are made once and kept: opening one again shows the same
        screen, which reads its data anew, instead of composing new widgets each time. (Under an
        ingest flood each closed screen's widgets and their render caches were cyclic garbage,
        tens of thousands of objects, and the full collections they caused took 100-250 ms.)
        Already in the stack (a run opened from it, and `g` again): a new one, for this time."""
        if not self.is_screen_installed(name):
            self.install_screen(make(), name)
        if self.get_screen(name) in self.screen_stack:
            self.push_screen(make())
        else:
            self.push_screen(name)

    def on_open_run(self, message: OpenRun) -> None:
        from localobs.tui.screens.agents import RunScreen

        self.push_screen(RunScreen(self.ctx, message.run_id))

    def on_open_conversation(self, message: OpenConversation) -> None:
        from localobs.tui.screens.conversations import ConversationScreen

        self.push_screen(ConversationScreen(self.ctx, message.conversation_id))

    def on_open_call(self, message: OpenCall) -> None:
        from localobs.tui.screens.call_detail import CallDetailScreen

        self.push_screen(CallDetailScreen(self.ctx, message.call_id))

    def action_components(self) -> None:
        from localobs.tui.screens.components import ComponentsScreen

        self._push_kept("components", lambda: ComponentsScreen(self.ctx))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own "Screenshot" saves to the working directory: `s` (in the palette as
        "Save screenshot (SVG)") replaces it, saving beside the database."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    def action_save_svg(self) -> None:
        """Save the screen as SVG beside the database (for slides), named after screen and time."""
        folder = self.ctx.db_path.parent if self.ctx.db_path else self.ctx.export_dir
        screen = type(self.screen).__name__.removesuffix("Screen").lower() or "screen"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.ctx.clock() / 1e9))
        name = f"localobs-{screen}-{stamp}.svg"
        try:
            path = self.save_screenshot(filename=name, path=str(folder))
        except OSError as exc:
            self.notify(f"Screenshot failed: {exc}", severity="error", markup=False)
            return
        self.notify(f"Saved {path}", title="Screenshot", timeout=8, markup=False)

    def on_trace_compare_requested(self, message: TraceCompareRequested) -> None:
        from localobs.tui.screens.trace_compare import TraceCompareScreen

        self.push_screen(TraceCompareScreen(self.ctx, message.trace_a, message.trace_b))

    def on_replay_requested(self, message: ReplayRequested) -> None:
        from localobs.tui.screens.spread import SpreadScreen

        self.push_screen(SpreadScreen(self.ctx, message.call_id))

    def action_help(self) -> None:
        from localobs.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            ctx = self.ctx
            sections = self.key_sections()
            self.push_screen(HelpScreen(sections, ctx.endpoint_url, ctx.log_path, ctx.grpc_url))

    def key_sections(self) -> list[KeySection]:
        """Each screen's live bindings, for the help: what it lists is what the keys do."""
        from localobs.tui.screens.agents import AgentsScreen, RunScreen
        from localobs.tui.screens.call_detail import CallDetailScreen
        from localobs.tui.screens.compare import CompareScreen
        from localobs.tui.screens.components import ComponentsScreen
        from localobs.tui.screens.conversations import ConversationScreen, ConversationsScreen
        from localobs.tui.screens.spread import SpreadScreen
        from localobs.tui.screens.trace import TraceScreen
        from localobs.tui.screens.trace_compare import TraceCompareScreen

        screens: list[tuple[str, type[Screen[Any]]]] = [
            ("Calls list", CallsScreen),
            ("Call detail", CallDetailScreen),
            ("Trace", TraceScreen),
            ("Components", ComponentsScreen),
            ("Agent runs", AgentsScreen),
            ("An agent run", RunScreen),
            ("Conversations", ConversationsScreen),
            ("A conversation", ConversationScreen),
            ("Compare two calls", CompareScreen),
            ("Compare two runs", TraceCompareScreen),
            ("Spread of replays", SpreadScreen),
        ]
        # Each screen's own bindings, not those it inherits from Textual's Screen (tab, copy).
        own = [(title, vars(screen).get("BINDINGS", [])) for title, screen in screens]
        return [*own, ("Everywhere", self.BINDINGS)]


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
