"""The viewer shows the conditions board on every screen, and its empty state never claims that
no calls came yet while the demo bot behind it is dead (Textual pilot, real store and receiver).

The demo bot is a `python -c` stand-in supervised by the real DemoBot: see test_demo_runner.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual.widgets import Static

from localobs.demo_runner import DemoBot
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.components import ComponentsScreen
from localobs.tui.widgets.conditions_bar import ConditionsBar
from tests.conftest import RunningReceiver
from tests.test_demo_runner import SEGFAULT
from tests.tui_pilot import wait_until

SIZE = (120, 40)


def text_of(app: LocalobsApp, selector: str | type[Static]) -> str:
    return str(app.screen.query_one(selector, Static).render())  # type: ignore[call-overload]


def bar_text(app: LocalobsApp) -> str:
    bars = app.screen.query(ConditionsBar)
    return str(bars.first().render()) if bars and bars.first().display else ""


def demo_bot(receiver: RunningReceiver, tmp_path: Path, script: str) -> DemoBot:
    return DemoBot(
        receiver.url,
        tmp_path / "demo-bot.log",
        receiver.store.conditions,
        command=[sys.executable, "-c", script],
        restart_delay_s=0.01,
        max_fast_failures=2,
    )


async def test_a_crashed_demo_bot_is_on_screen_instead_of_an_empty_promise(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = LocalobsApp(receiver.store, endpoint_url=receiver.url, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#empty").display)
        assert bar_text(app) == ""  # nothing on the board: no bar

        starting = demo_bot(receiver, tmp_path, "import time; time.sleep(60)")
        starting.start()
        try:
            await wait_until(pilot, lambda: "demo bot starting" in bar_text(app))
            shown = text_of(app, "#empty")
            assert "No model calls yet" in shown and "demo bot starting" in shown
        finally:
            starting.stop()
        await wait_until(pilot, lambda: bar_text(app) == "")

        crashing = demo_bot(receiver, tmp_path, SEGFAULT)
        crashing.start()
        try:
            await wait_until(pilot, lambda: "gave up" in bar_text(app), timeout=30)
            shown = text_of(app, "#empty")
            assert "No model calls yet" not in shown
            assert "demo bot gave up" in shown and "status -11 (SIGSEGV)" in shown
            # The bot's last lines, literally: no markup applied, no escape sent to the terminal.
            assert "loading the [b]model[/b] \\x1b[31mred" in shown
            assert "Segmentation fault" in shown
            assert f"export OTEL_EXPORTER_OTLP_ENDPOINT={receiver.url}" in shown
            assert "✖ demo: demo bot gave up" in bar_text(app)

            # Every source is on the board, the worst first, on every screen.
            receiver.store.conditions.set("disk", "warning", "the disk is 97% full")
            await wait_until(pilot, lambda: "the disk is 97% full" in bar_text(app))
            lines = bar_text(app).splitlines()
            assert lines[0].startswith("✖ demo:") and "▲ disk: the disk is 97% full" in lines
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, ComponentsScreen))
            await wait_until(pilot, lambda: "✖ demo: demo bot gave up" in bar_text(app))
        finally:
            crashing.stop()
