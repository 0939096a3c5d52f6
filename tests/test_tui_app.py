"""The viewer driven key by key (Textual pilot), on data the real SDK sent to the real receiver."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.widgets import Static

from localobs.tui.app import LocalobsApp
from localobs.tui.screens.call_detail import CallDetailScreen
from localobs.tui.screens.calls import CallsScreen
from localobs.tui.screens.compare import CompareScreen
from localobs.tui.screens.components import ComponentsScreen
from localobs.tui.screens.help import HelpScreen
from localobs.tui.screens.search import SearchScreen
from localobs.tui.screens.trace import TraceScreen
from localobs.tui.widgets.calls_table import CallsTable
from localobs.tui.widgets.waterfall import Waterfall
from tests.conftest import RunningReceiver
from tests.tui_pilot import wait_until
from tests.tui_sdk import agent_turn, chat_call, sdk_tracer

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def endpoint(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)


def viewer(receiver: RunningReceiver, tmp_path: Path) -> LocalobsApp:
    return LocalobsApp(receiver.store, endpoint_url=receiver.url, export_dir=tmp_path)


def send_chats(*prompts_and_answers: tuple[str, str], model: str = "llama-3.1-8b") -> None:
    with sdk_tracer() as tracer:
        for prompt, answer in prompts_and_answers:
            chat_call(tracer, prompt, answer, model=model)


def text_of(app: LocalobsApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def toasts(app: LocalobsApp) -> str:
    return " ".join(str(toast.render()) for toast in app.screen.query("Toast"))


def calls_table(app: LocalobsApp) -> CallsTable:
    return app.screen.query_one(CallsTable)


async def test_the_empty_list_says_what_to_paste(receiver: RunningReceiver, tmp_path: Path) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#empty").display)
        shown = text_of(app, "#empty")
    assert f"export OTEL_EXPORTER_OTLP_ENDPOINT={receiver.url}" in shown
    assert "export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in shown


async def test_a_call_sent_while_the_app_runs_appears(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#empty").display)
        await asyncio.to_thread(send_chats, ("Which talks cover tracing?", "Two of them."))
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        row = [str(cell) for cell in calls_table(app).get_row_at(0)]
        await wait_until(pilot, lambda: "1 calls" in text_of(app, "#totals"))
        assert "llama-3.1-8b" in row
        assert any("Which talks cover tracing?" in cell for cell in row)
        # The next one goes on top; the row already drawn stays below it.
        await asyncio.to_thread(send_chats, ("And which cover metrics?", "One."))
        await wait_until(pilot, lambda: calls_table(app).row_count == 2)
        previews = [str(calls_table(app).get_row_at(i)[-1]) for i in range(2)]
    assert previews == ["And which cover metrics?", "Which talks cover tracing?"]


async def test_detail_shows_the_conversation_and_exports_it(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    send_chats(("What is the capital of France?", "Paris, on the Seine."))
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.query("#transcript"))
        assert isinstance(app.screen, CallDetailScreen)
        transcript = " ".join(str(w.render()) for w in app.screen.query(".message"))
        assert "What is the capital of France?" in transcript
        assert "Paris, on the Seine." in transcript
        assert "You are a concise assistant." in transcript
        assert "40" in text_of(app, "#facts") and "stop" in text_of(app, "#facts")

        raw = app.screen.query_one("#raw")
        assert not raw.display
        await pilot.press("a")
        assert raw.display and "gen_ai.operation.name" in text_of(app, "#raw")

        await pilot.press("e")
        exported = tmp_path / f"localobs-call-{app.screen.call_id}.json"
        await wait_until(pilot, exported.exists)
        await wait_until(
            pilot, lambda: any(str(exported) in str(n.message) for n in app._notifications)
        )
        await pilot.press("escape")
        assert isinstance(app.screen, CallsScreen)
    assert "Paris, on the Seine." in json.dumps(json.loads(exported.read_text()))


async def test_trace_shows_the_tree_and_opens_the_model_call(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    with sdk_tracer() as tracer:
        trace_id = agent_turn(tracer, "When is the keynote?", "At nine.")
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceScreen))
        waterfall = app.screen.query_one(Waterfall)
        await wait_until(pilot, lambda: waterfall.row_count == 3)
        names = [str(waterfall.get_row_at(i)[0]) for i in range(3)]
        assert trace_id in text_of(app, "#trace-title")
        assert names[0].strip().endswith("agent.turn")
        # Children are indented under their parent; the model call shows its tokens.
        assert names[1].strip().endswith("retrieve")
        assert names[1].index("retrieve") == names[0].index("agent.turn") + 2
        assert names[2].index("chat") == names[1].index("retrieve")
        assert "40→12" in names[2]
        # The cursor starts on the call the trace was opened from; enter opens its detail.
        assert "model call" in text_of(app, "#span-detail")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.query("#transcript"))
        assert isinstance(app.screen, CallDetailScreen)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, CallsScreen)


async def test_search_narrows_the_list_and_escape_clears_it(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    send_chats(("Book a table for two", "Done."), model="gpt-4o-mini")
    send_chats(("Where is room B?", "Second floor."), ("Any vegan food?", "Yes, at lunch."))
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 3)
        await pilot.press("slash")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"model:gpt-4o-mini", "enter")
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        assert "search: model:gpt-4o-mini" in text_of(app, "#status")

        await pilot.press("slash", "ctrl+u", *"vegan", "enter")
        await wait_until(
            pilot,
            lambda: (
                calls_table(app).row_count == 1
                and "vegan" in str(calls_table(app).get_row_at(0)[-1])
            ),
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: calls_table(app).row_count == 3)
        assert "search:" not in text_of(app, "#status")


async def test_compare_shows_both_calls_and_the_difference(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    send_chats(("Name a colour", "Teal."), ("Name a colour", "Vermilion, obviously."))
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 2)
        await pilot.press("m", "down", "equals_sign")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await wait_until(pilot, lambda: "Teal" in text_of(app, "#compare-diff"))
        diff = text_of(app, "#compare-diff")
        title = text_of(app, "#compare-title")
    assert "- Vermilion, obviously." in diff and "+ Teal." in diff
    assert "  Name a colour" in diff  # the same prompt, unchanged
    assert "A (marked" in title and "B (selected" in title


async def test_components_lists_span_names_and_models(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    with sdk_tracer() as tracer:
        agent_turn(tracer, "Hello?", "Hi.")
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        await pilot.press("c")
        assert isinstance(app.screen, ComponentsScreen)
        components = app.screen.query_one("#components")
        await wait_until(pilot, lambda: components.row_count == 3)
        names = {str(components.get_row_at(i)[0]) for i in range(3)}
        models = app.screen.query_one("#models")
        assert names == {"agent.turn", "retrieve", "chat llama-3.1-8b"}
        assert str(models.get_row_at(0)[0]) == "llama-3.1-8b"
        await pilot.press("w")
        await wait_until(pilot, lambda: "all data" in text_of(app, "#components-title"))
        await wait_until(pilot, lambda: components.row_count == 3)
        await pilot.press("escape")
        assert isinstance(app.screen, CallsScreen)
        # Reopened, it keeps the window and shows what it last saw before querying again.
        await pilot.press("c")
        assert "all data" in text_of(app, "#components-title")
        assert app.screen.query_one("#components").row_count == 3


async def test_pause_holds_new_calls_back_and_counts_them(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    send_chats(("first", "one"))
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        await pilot.press("p")
        assert "paused" in text_of(app, "#status")
        await asyncio.to_thread(send_chats, ("second", "two"), ("third", "three"))
        await wait_until(pilot, lambda: "2 new calls" in text_of(app, "#status"))
        assert calls_table(app).row_count == 1
        await pilot.press("p")
        await wait_until(pilot, lambda: calls_table(app).row_count == 3)
        assert "live" in text_of(app, "#status")


async def test_help_lists_the_keys_and_the_palette_runs_them(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    send_chats(("hello", "hi"))
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: calls_table(app).row_count == 1)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one(Static).render())
        # Built from the live bindings: every described key of every screen is listed.
        for title, bindings in app.key_sections():
            described = [b for b in bindings if isinstance(b, Binding) and b.description]
            assert title in shown or not described  # a screen with keys of its own has a section
            for binding in described:
                assert binding.description in shown, binding
        assert "/" in shown and "Search" in shown and "Replay" in shown
        await pilot.press("escape")
        assert isinstance(app.screen, CallsScreen)
        await pilot.press("ctrl+p")
        await pilot.press(*"Components")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ComponentsScreen))


async def test_q_quits(receiver: RunningReceiver, tmp_path: Path) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0
