"""Comparing two runs of a workflow: steps aligned by a longest common subsequence of names, on
traces the real SDK sent to the real receiver, with steps inserted and missing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable, Static

from localobs.cli import main
from localobs.store.trace_compare import align, compare_traces, lcs_pairs
from localobs.store.traces import TraceSpan, TraceTree
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.trace import TraceScreen
from localobs.tui.screens.trace_compare import TraceCompareScreen
from localobs.tui.widgets.calls_table import CallsTable
from tests.conftest import RunningReceiver
from tests.tui_pilot import wait_until
from tests.tui_sdk import chat_call, sdk_tracer


def test_lcs_pairs_keep_order_and_skip_the_unmatched() -> None:
    a = ["turn", "retrieve", "judge", "respond"]
    b = ["turn", "retrieve", "rerank", "judge", "judge", "respond"]
    assert lcs_pairs(a, b) == [(0, 0), (1, 1), (2, 3), (3, 5)]
    assert lcs_pairs([], b) == [] and lcs_pairs(a, []) == []


def span(name: str, duration_ms: float, depth: int = 1, tokens: int | None = None) -> TraceSpan:
    return TraceSpan(
        span_id=name, parent_span_id=None, name=name, service_name="s", depth=depth,
        start_offset_ms=0.0, duration_ms=duration_ms, self_time_ms=duration_ms, status_code=0,
        is_error=False, on_critical_path=False, call_id=None, model=None,
        input_tokens=tokens, output_tokens=0 if tokens is not None else None, operation=None,
        span_role=None,
    )  # fmt: skip


def tree(*spans: TraceSpan) -> TraceTree:
    return TraceTree("t" * 32, 0, sum(s.duration_ms for s in spans), spans)


def test_an_extra_step_is_inserted_and_a_lacking_one_missing_without_shifting_the_rest() -> None:
    a = tree(span("turn", 100, 0), span("retrieve", 10), span("chat", 50, tokens=30),
             span("respond", 20))  # fmt: skip
    b = tree(span("turn", 130, 0), span("retrieve", 12), span("rerank", 5),
             span("chat", 80, tokens=45))  # fmt: skip
    found = align(a, b)
    assert [(s.kind, s.name) for s in found.steps] == [
        ("same", "turn"),
        ("same", "retrieve"),
        ("inserted", "rerank"),
        ("same", "chat"),
        ("missing", "respond"),
    ]
    assert [s.duration_delta_ms for s in found.steps] == [30, 2, None, 30, None]
    assert found.steps[3].tokens_delta == 15 and found.steps[1].tokens_delta is None


def send_run(tracer: object, steps: list[str], answer: str) -> str:
    with tracer.start_as_current_span("agent.turn") as root:  # type: ignore[attr-defined]
        for step in steps:
            if step == "chat":
                chat_call(tracer, "Which talks cover eBPF?", answer)  # type: ignore[arg-type]
            else:
                with tracer.start_as_current_span(step):  # type: ignore[attr-defined]
                    time.sleep(0.001)
        return format(root.get_span_context().trace_id, "032x")


def test_compare_two_stored_runs(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("agent") as tracer:
        first = send_run(tracer, ["retrieve", "chat", "respond"], "Two talks.")
        second = send_run(tracer, ["retrieve", "keywords", "retrieve", "chat"], "Three talks.")
    with receiver.store.reader() as conn:
        found = compare_traces(conn, first, second)
        assert compare_traces(conn, first, "0" * 32) is None
    assert found is not None
    assert [(s.kind, s.name) for s in found.steps] == [
        ("same", "agent.turn"),
        ("same", "retrieve"),
        ("inserted", "keywords"),
        ("inserted", "retrieve"),
        ("same", "chat llama-3.1-8b"),
        ("missing", "respond"),
    ]
    chat = found.steps[4]
    assert chat.a is not None and chat.b is not None
    assert chat.a.call_id is not None and chat.b.call_id is not None
    assert chat.tokens_delta == 0


async def test_mark_a_run_on_the_trace_view_and_compare_another_with_it(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("agent") as tracer:
        send_run(tracer, ["retrieve", "chat", "respond"], "Two talks.")
        send_run(tracer, ["retrieve", "rerank", "chat"], "Three [b]talks[/b].")
    app = LocalobsApp(receiver.store, export_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count == 2)
        await pilot.press("down", "t")  # the older run
        await wait_until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("m", "escape", "up", "t")  # mark it; open the newer run
        await wait_until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("equals_sign")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceCompareScreen))
        table = app.screen.query_one("#tc-steps", DataTable)
        await wait_until(pilot, lambda: table.row_count == 5)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(5)]
        assert [(row[0], row[1].strip()) for row in rows] == [
            (" ", "agent.turn"),
            (" ", "retrieve"),
            ("+", "rerank"),
            (" ", "chat llama-3.1-8b"),
            ("-", "respond"),
        ]
        assert rows[2][2] == "" and rows[2][3] != ""  # only B has it
        title = str(app.screen.query_one("#tc-title", Static).render())
        assert "1 inserted" in title and "1 missing" in title
        # llama-3.1-8b from a cloud provider has no price: unknown, never $0, and no delta.
        assert "cost —, 1 of 1 calls unpriced → —, 1 of 1 calls unpriced" in title
        assert rows[3][8:] == ["—", "—", ""]
        diff = str(app.screen.query_one("#tc-diff", Static).render())
        assert "- Two talks." in diff and "+ Three [b]talks[/b]." in diff


def test_localobs_compare_prints_the_aligned_steps(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("agent") as tracer:
        first = send_run(tracer, ["retrieve", "chat", "respond"], "Two talks.")
        second = send_run(tracer, ["retrieve", "rerank", "chat"], "Three talks.")
    db = str(receiver.store.path)
    text = CliRunner().invoke(main, ["compare", "--db", db, first, second])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith(f"A {first}") and f"B {second}" in lines[0]
    assert [line[:1] for line in lines[2:]] == [" ", " ", "+", " ", "-"]
    assert "rerank" in lines[4] and "respond" in lines[6]
    as_json = CliRunner().invoke(main, ["compare", "--db", db, first, second, "--json"])
    steps = json.loads(as_json.output)["steps"]
    assert [(s["kind"], s["name"]) for s in steps][2:] == [
        ("inserted", "rerank"),
        ("same", "chat llama-3.1-8b"),
        ("missing", "respond"),
    ]
    assert steps[3]["a"]["call_id"] is not None and steps[3]["tokens_delta"] == 0
    missing = CliRunner().invoke(main, ["compare", "--db", db, first, "0" * 32])
    assert missing.exit_code == 1 and "both traces must be stored" in missing.output
