"""`localobs calls`, `localobs stats` and `localobs trace` on calls sent by the real SDK."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from localobs.cli import main
from tests.conftest import RunningReceiver
from tests.tui_sdk import agent_turn, chat_call, sdk_tracer


@pytest.fixture
def sent(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("helpdesk") as tracer:
        first = chat_call(tracer, "How do I reset my password?", "Use the reset link.")
        chat_call(tracer, "Status of ticket 42?", "", model="gpt-4o-mini", error="Timeout")
        turn = agent_turn(tracer, "Which talks cover eBPF?", "Two talks.")
    monkeypatch.setenv("LOCALOBS_DB", str(receiver.store.path))
    return {"first": first, "turn": turn}


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_calls_lists_newest_first_in_aligned_columns(sent: dict[str, str]) -> None:
    lines = run("calls").splitlines()
    assert lines[0].split()[:3] == ["start", "(UTC)", "call"]
    assert "Which talks cover eBPF?" in lines[1]
    assert "ERROR Timeout" in lines[2] and "Status of ticket 42?" in lines[2]
    assert "How do I reset my password?" in lines[3]
    # Aligned: the status column starts at the same offset on every row.
    offsets = {line.index("ok") if "ok" in line else line.index("ERROR") for line in lines[1:]}
    assert len(offsets) == 1


def test_calls_filters_and_json(sent: dict[str, str]) -> None:
    rows = json.loads(run("calls", "--json"))
    assert len(rows) == 3 and {"call_id", "preview", "model", "duration_ms"} <= set(rows[0])
    assert [r["preview"] for r in json.loads(run("calls", "--json", "--errors"))] == [
        "Status of ticket 42?"
    ]
    assert [r["model"] for r in json.loads(run("calls", "--json", "--model", "gpt-4o-mini"))] == [
        "gpt-4o-mini"
    ]
    found = json.loads(run("calls", "--json", "--search", "password reset"))
    assert [r["trace_id"] for r in found] == [sent["first"]]
    assert len(json.loads(run("calls", "--json", "--limit", "1"))) == 1
    assert json.loads(run("calls", "--json", "--service", "nobody")) == []
    assert run("calls", "--service", "nobody").strip() == "no model calls match"


def test_stats_reports_totals_models_and_components(sent: dict[str, str]) -> None:
    data = json.loads(run("stats", "--json", "--window", "1h"))
    totals = data["totals"]
    assert (totals["calls"], totals["errors"]) == (3, 1)
    assert {m["model"] for m in totals["per_model"]} == {"llama-3.1-8b", "gpt-4o-mini"}
    assert {c["name"] for c in data["components"]} >= {"agent.turn", "chat llama-3.1-8b"}
    assert data["window_s"] == 3600
    text = run("stats", "--window", "all")
    assert text.startswith("3 calls, 1 errors")
    assert "llama-3.1-8b" in text and "agent.turn" in text
    bad = CliRunner().invoke(main, ["stats", "--window", "soon"])
    assert bad.exit_code == 2 and "is not a window" in bad.output


def test_trace_prints_the_tree_with_the_critical_path(sent: dict[str, str]) -> None:
    tree = json.loads(run("trace", sent["turn"], "--json"))
    names = [(span["depth"], span["name"]) for span in tree["spans"]]
    assert names[0] == (0, "agent.turn")
    assert all(depth >= 1 for depth, _ in names[1:])
    text = run("trace", sent["turn"]).splitlines()
    assert text[0].startswith(f"trace {sent['turn']}")
    assert text[2].startswith("*agent.turn")  # the root is always on the critical path
    missing = CliRunner().invoke(main, ["trace", "0" * 32])
    assert missing.exit_code == 1 and "no trace" in missing.output
