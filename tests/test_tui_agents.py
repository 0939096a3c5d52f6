"""The Agents and Conversations screens driven key by key, on agent payloads the real receiver
stored: from anywhere to the runs, into a run's tree, to a call and back to its run and
conversation, and what each call added to the context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from localobs.tui.app import LocalobsApp
from localobs.tui.screens.agents import AgentsScreen, RunScreen
from localobs.tui.screens.call_detail import CallDetailScreen
from localobs.tui.screens.conversations import ConversationScreen, ConversationsScreen
from tests.agent_payloads import (
    CONVERSATION,
    FOLLOW_UP,
    QUESTION,
    RESULT,
    TOOL,
    genai_conversation,
)
from tests.conftest import RunningReceiver
from tests.tui_pilot import wait_until

SIZE = (140, 44)
HOSTILE = "evil\x1b]0;owned\x07"


def viewer(receiver: RunningReceiver, tmp_path: Path, agent: str = "weather") -> LocalobsApp:
    response = httpx.post(
        f"{receiver.url}/v1/traces",
        content=genai_conversation(agent=agent),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    return LocalobsApp(receiver.store, endpoint_url=receiver.url, export_dir=tmp_path)


def text_of(app: LocalobsApp, selector: str) -> str:
    """The widget's text; '' while the screen in front has not composed it yet."""
    found = app.screen.query(selector)
    return str(found.first(Static).render()) if found else ""


def table(app: LocalobsApp, selector: str) -> DataTable[object]:
    return app.screen.query_one(selector, DataTable)


def row_count(app: LocalobsApp, selector: str) -> int:
    found = app.screen.query(selector)
    return found.first(DataTable).row_count if found else 0


async def until(pilot: Pilot[None], condition: Callable[[], object]) -> None:
    """Generous: the machine running the tests may be busy with other work."""
    await wait_until(pilot, condition, timeout=30)


def rows(app: LocalobsApp, selector: str) -> list[str]:
    found = table(app, selector)
    return [" ".join(str(cell) for cell in found.get_row_at(i)) for i in range(found.row_count)]


async def test_agents_key_opens_runs_and_enter_opens_the_tree_with_the_loop(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, AgentsScreen))
        await until(pilot, lambda: row_count(app, "#runs") == 2)
        listed = rows(app, "#runs")
        assert all("weather" in row and CONVERSATION in row for row in listed)
        assert all("$0" in row.split() for row in listed)  # smollm2: the local demo model
        assert "3" in listed[1].split() and "1 ✗" in listed[1]  # 3 tools, one failed
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await until(pilot, lambda: row_count(app, "#steps") == 6)
        steps = rows(app, "#steps")
        assert steps[0].startswith("agent: weather")
        assert sum(f"tool: {TOOL}" in step for step in steps) == 3
        assert "→ get_weather, get_weather, get_weather" in steps[1]
        stats = rows(app, "#tool-stats")
        assert stats[0].split()[:2] == [TOOL, "3"] and "33%" in stats[0]
        assert "⟲ loop" in rows(app, "#transitions")[0]
        # A tool step shows its arguments and result.
        await pilot.press("down", "down")
        await until(pilot, lambda: RESULT in text_of(app, "#step-detail"))
        assert "Paris" in text_of(app, "#step-detail")
        # The second model call step opens its call; from the call, r opens its run.
        await pilot.press("down", "down", "down")
        await until(pilot, lambda: "enter opens the call" in text_of(app, "#step-detail"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CallDetailScreen))
        await until(pilot, lambda: "r opens it" in text_of(app, "#call-scope"))
        assert "weather" in text_of(app, "#call-scope")
        assert "3 messages added, 0 removed, 2 kept" in text_of(app, "#call-scope")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("escape", "v")
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen))


async def test_conversation_turns_in_order_and_what_each_call_added(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ConversationsScreen))
        await until(pilot, lambda: row_count(app, "#conversations") == 1)
        assert CONVERSATION in rows(app, "#conversations")[0]
        assert "$0" in rows(app, "#conversations")[0].split()  # smollm2: the local demo model
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen))
        # turn 1, its two calls, turn 2, its call
        await until(pilot, lambda: row_count(app, "#turns") == 5)
        turns = rows(app, "#turns")
        assert turns[0].startswith("1") and QUESTION in turns[0]
        assert turns[3].startswith("2") and FOLLOW_UP in turns[3]
        assert "context 30" in turns[1] and "context 52" in turns[2]
        await pilot.press("down", "down")  # the second call of turn 1
        await until(pilot, lambda: "3 added" in text_of(app, "#context-change"))
        change = text_of(app, "#context-change")
        assert "0 removed, 2 kept" in change and change.count("+ tool:") == 3
        assert RESULT in change
        await pilot.press("down", "down")  # the follow-up's call
        await until(
            pilot, lambda: "previous in this conversation" in text_of(app, "#context-change")
        )
        assert f"+ user: {FOLLOW_UP}" in text_of(app, "#context-change")
        await pilot.press("up", "r")  # turn 2's run
        await until(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_both_screens_are_in_the_footer_and_sent_text_stays_inert(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path, agent=HOSTILE)
    async with app.run_test(size=SIZE) as pilot:
        shown = {b.binding.key for b in app.active_bindings.values() if b.binding.show}
        assert {"g", "o"} <= shown
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, AgentsScreen))
        await until(pilot, lambda: row_count(app, "#runs") == 2)
        listed = rows(app, "#runs")[0]
        assert "\x1b" not in listed and "evil\\x1b]0;owned\\x07" in listed
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await until(pilot, lambda: "owned" in text_of(app, "#run-title"))
        assert "\x1b" not in text_of(app, "#run-title")
        await pilot.press("o")  # from a run: one key to the conversations
        await until(pilot, lambda: isinstance(app.screen, ConversationsScreen))


async def test_the_calls_list_shows_the_agent_and_the_tools_a_call_asked_for(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        calls = "#calls"
        await until(pilot, lambda: row_count(app, calls) == 3)
        listed = rows(app, calls)
        (asking,) = [row for row in listed if "→ get_weather(" in row]
        assert '{"city":"Paris"}' in asking and QUESTION in asking
        agents = [str(table(app, calls).get_cell(key, "agent")) for key in table(app, calls).rows]
        assert agents == ["weather"] * 3


async def test_from_the_calls_list_one_key_opens_the_run_and_one_the_conversation(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: row_count(app, "#calls"))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await until(pilot, lambda: "weather" in text_of(app, "#run-title"))
        await pilot.press("escape", "v")
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen))
