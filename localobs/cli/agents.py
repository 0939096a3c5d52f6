"""Commands over agent runs and conversations: `localobs agents`, `agent`, `conversations`,
`conversation`.

The JSON keys are a contract scripts rely on (listed in the README); human output prints sent
text (agent names, tool arguments and results) with control characters escaped, so telemetry can
never drive the terminal.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from localobs.cli.group import db_option, json_option, main, open_store
from localobs.cli.output import echo_json, ms, number, parse_window, table, timestamp
from localobs.literal import visible
from localobs.store.agents import AgentRun, RunDetail, get_run, list_runs
from localobs.store.conversations import (
    Conversation,
    ConversationSummary,
    get_conversation,
    list_conversations,
)
from localobs.store.cost import partial_usd_text, total_cost_text

_TEXT_CHARS = 60


def _plain(text: str | None, limit: int | None = None) -> str:
    """Sent text on one line, through the one escaping rule (`localobs.literal`)."""
    return "-" if text is None else visible(text, width=limit)


def _since(window: str) -> int:
    seconds = parse_window(window)
    return 0 if seconds is None else time.time_ns() - int(seconds * 1e9)


def _iso(unix_nano: int) -> str:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC).isoformat(timespec="milliseconds")


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def run_json(run: AgentRun) -> dict[str, Any]:
    return {
        **_fields(run),
        "duration_ms": round(run.duration_ms, 3),
        "sub_agents": list(run.sub_agents),
    }


def _run_name(run: AgentRun) -> str:
    name = _plain(run.agent_name)
    return f"{name} > {', '.join(map(_plain, run.sub_agents))}" if run.sub_agents else name


def run_detail_json(detail: RunDetail) -> dict[str, Any]:
    return {
        **run_json(detail.run),
        "steps": [_fields(step) for step in detail.steps],
        "tools": [{**_fields(stat), "error_rate": stat.error_rate} for stat in detail.tools],
        "transitions": [
            {**_fields(transition), "is_loop": transition.is_loop}
            for transition in detail.transitions
        ],
    }


def conversation_json(summary: ConversationSummary) -> dict[str, Any]:
    return {
        **_fields(summary),
        "first_seen": _iso(summary.first_seen),
        "last_seen": _iso(summary.last_seen),
        "first_seen_unix_nano": summary.first_seen,
        "last_seen_unix_nano": summary.last_seen,
    }


def conversation_detail_json(conversation: Conversation) -> dict[str, Any]:
    turns = [
        {**_fields(turn), "calls": [_fields(call) for call in turn.calls]}
        for turn in conversation.turns
    ]
    return {**conversation_json(conversation.summary), "turns": turns}


@main.command()
@db_option
@json_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--since", default="all", show_default=True, help="How far back: 5m, 1h, 2d or all.")
def agents(db: Path, as_json: bool, limit: int, since: str) -> None:
    """Agent runs, newest first: agent, conversation, model and tool calls, tokens, duration."""
    since_unix_nano = _since(since)
    conn = open_store(db).reader()
    try:
        runs = list_runs(conn, limit=limit, since_unix_nano=since_unix_nano)
    finally:
        conn.close()
    if as_json:
        echo_json([run_json(run) for run in runs])
        return
    if not runs:
        click.echo("no agent runs")
        return
    rows = [
        [
            timestamp(run.start_time_unix_nano),
            run.run_id,
            _run_name(run)[:40],
            _plain(run.conversation_id, 24),
            number(run.model_calls),
            number(run.tool_calls),
            number(run.input_tokens),
            number(run.output_tokens),
            partial_usd_text(run.cost_usd, run.unpriced_calls),
            ms(run.duration_ms),
            _plain(run.error, 40) if run.error else (f"{run.errors} errors" if run.errors else ""),
        ]
        for run in runs
    ]
    header = ["start (UTC)", "run", "agent", "conversation", "calls", "tools", "in", "out"]
    table([*header, "cost", "duration", "errors"], rows, right={4, 5, 6, 7, 8, 9})


@main.command()
@db_option
@json_option
@click.argument("run_id")
def agent(db: Path, as_json: bool, run_id: str) -> None:
    """One agent run as a tree of steps, with per-tool figures and tool-to-tool transitions."""
    conn = open_store(db).reader()
    try:
        detail = get_run(conn, run_id)
    finally:
        conn.close()
    if detail is None:
        raise click.ClickException(f"no agent run {run_id} in {db}")
    if as_json:
        echo_json(run_detail_json(detail))
        return
    run = detail.run
    click.echo(
        f"agent {_run_name(run)}  run {run.run_id}  trace {run.trace_id}"
        f"  conversation {_plain(run.conversation_id)}"
    )
    click.echo(
        f"{timestamp(run.start_time_unix_nano)} UTC  {ms(run.duration_ms)}"
        f"  {run.model_calls} model calls, {run.tool_calls} tool calls,"
        f" {number(run.input_tokens)} in / {number(run.output_tokens)} out tokens,"
        f" cost {total_cost_text(run.cost_usd, run.unpriced_calls, run.model_calls)}"
    )
    rows = []
    for step in detail.steps:
        details = []
        if step.model:
            details.append(_plain(step.model))
        if step.call_id is not None:
            details.append(f"{number(step.input_tokens)} in / {number(step.output_tokens)} out")
            details.append(f"call {step.call_id}")
        details.extend(
            f"-> {_plain(link.name)}({_plain(link.text, _TEXT_CHARS)})" for link in step.tool_calls
        )
        if step.kind == "tool" or step.arguments is not None or step.result is not None:
            details.append(
                f"{_plain(step.arguments, _TEXT_CHARS)} => {_plain(step.result, _TEXT_CHARS)}"
            )
        if step.decision:
            details.append(f"decision {_plain(step.decision)}")
        if step.error:
            details.append(f"ERROR {_plain(step.error, 40)}")
        label = step.tool_name if step.kind == "tool" and step.tool_name else step.name
        rows.append(
            [
                "  " * step.depth + f"{step.kind}: {_plain(label, 40)}",
                ms(step.start_offset_ms),
                ms(step.duration_ms),
                ms(step.self_time_ms),
                "  ".join(details),
            ]
        )
    table(["step", "offset", "duration", "self", ""], rows, right={1, 2, 3})
    if detail.tools:
        click.echo("")
        table(
            ["tool", "count", "p50", "p95", "errors"],
            [
                [
                    _plain(stat.tool_name, 40),
                    number(stat.count),
                    ms(stat.p50_ms),
                    ms(stat.p95_ms),
                    f"{stat.error_rate:.0%}",
                ]
                for stat in detail.tools
            ],
            right={1, 2, 3, 4},
        )
    if detail.transitions:
        click.echo("")
        table(
            ["from tool", "to tool", "count", ""],
            [
                [
                    _plain(t.from_tool, 40),
                    _plain(t.to_tool, 40),
                    number(t.count),
                    "LOOP" if t.is_loop else "",
                ]
                for t in detail.transitions
            ],
            right={2},
        )


@main.command()
@db_option
@json_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--since", default="all", show_default=True, help="How far back: 5m, 1h, 2d or all.")
def conversations(db: Path, as_json: bool, limit: int, since: str) -> None:
    """Conversations (by gen_ai.conversation.id or session.id), most recently active first."""
    since_unix_nano = _since(since)
    conn = open_store(db).reader()
    try:
        found = list_conversations(conn, limit=limit, since_unix_nano=since_unix_nano)
    finally:
        conn.close()
    if as_json:
        echo_json([conversation_json(summary) for summary in found])
        return
    if not found:
        click.echo("no conversations (none of the spans carries a conversation or session id)")
        return
    table(
        [
            "last seen (UTC)",
            "conversation",
            "turns",
            "calls",
            "in",
            "out",
            "cost",
            "first seen (UTC)",
        ],
        [
            [
                timestamp(summary.last_seen),
                _plain(summary.conversation_id, 40),
                number(summary.turns),
                number(summary.model_calls),
                number(summary.input_tokens),
                number(summary.output_tokens),
                partial_usd_text(summary.cost_usd, summary.unpriced_calls),
                timestamp(summary.first_seen),
            ]
            for summary in found
        ],
        right={2, 3, 4, 5, 6},
    )


@main.command()
@db_option
@json_option
@click.argument("conversation_id")
def conversation(db: Path, as_json: bool, conversation_id: str) -> None:
    """One conversation's turns in order: tokens and duration per turn, context size per call."""
    conn = open_store(db).reader()
    try:
        found = get_conversation(conn, conversation_id)
    finally:
        conn.close()
    if found is None:
        raise click.ClickException(f"no conversation {conversation_id!r} in {db}")
    if as_json:
        echo_json(conversation_detail_json(found))
        return
    summary = found.summary
    click.echo(
        f"conversation {_plain(summary.conversation_id)}  {summary.turns} turns,"
        f" {summary.model_calls} model calls, {number(summary.input_tokens)} in /"
        f" {number(summary.output_tokens)} out tokens, cost"
        f" {total_cost_text(summary.cost_usd, summary.unpriced_calls, summary.model_calls)}"
    )
    rows = []
    for turn in found.turns:
        rows.append(
            [
                str(turn.number),
                timestamp(turn.start_time_unix_nano),
                f"{turn.kind}: {_plain(turn.name, 30)}",
                ms(turn.duration_ms),
                number(turn.input_tokens),
                number(turn.output_tokens),
                _plain(turn.question, _TEXT_CHARS),
            ]
        )
        for call in turn.calls:
            rows.append(
                [
                    "",
                    "",
                    f"  call {call.call_id} {_plain(call.model, 20)}",
                    ms(call.duration_ms),
                    f"context {number(call.input_tokens)}",
                    number(call.output_tokens),
                    " ".join(
                        ["history compacted"] * call.compacted
                        + ([f"ERROR {_plain(call.error, 40)}"] if call.error else [])
                    ),
                ]
            )
    table(["turn", "start (UTC)", "", "duration", "in", "out", "question"], rows, {3, 4, 5})
