"""Newer and vendor shapes of the GenAI conventions, sent through the real OpenTelemetry SDK to the
real receiver: cache and reasoning usage, the reasoning level, and both generations of metrics."""

from __future__ import annotations

import base64
import json
from datetime import UTC
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, Span, set_span_in_context

from localobs.cli import main
from localobs.receiver.anyvalue import attributes
from localobs.store import Store
from localobs.store.calls import get_call, list_calls
from localobs.store.conversations import context_change, get_conversation
from localobs.store.export import ExportFilter
from localobs.store.stats import totals
from localobs.transfer.export import requests
from localobs.tui.app import LocalobsApp
from localobs.tui.context import ViewerContext
from localobs.tui.conversation import conversation
from localobs.tui.refresh import ReaderPool
from localobs.tui.screens.call_detail import evaluation_rows, facts_content
from localobs.tui.screens.conversations import ConversationScreen, ConversationsScreen, change_text
from localobs.tui.widgets.totals_bar import totals_content
from tests.conftest import RunningReceiver
from tests.test_tui_agents import SIZE, row_count, rows, text_of, until
from tests.tui_sdk import chat_call, sdk_tracer


@pytest.fixture(autouse=True)
def endpoint(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("LOCALOBS_DB", str(receiver.store.path))


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# The conventions' names (registry), and the spellings other libraries send the same counts in.
USAGE_SHAPES = {
    "semconv": {
        "gen_ai.usage.cache_read.input_tokens": 30,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 7,
        "gen_ai.request.reasoning.level": "high",
    },
    "cache_write": {
        "gen_ai.usage.cache_read.input_tokens": 30,
        "gen_ai.usage.cache_write.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 7,
        "gen_ai.request.reasoning_effort": "high",
    },
    "pydantic_ai_details": {
        "gen_ai.usage.details.cache_read_tokens": 30,
        "gen_ai.usage.details.cache_write_tokens": 5,
        "gen_ai.usage.details.reasoning_tokens": 7,
        "gen_ai.request.reasoning.level": "high",
    },
}


@pytest.mark.parametrize("shape", sorted(USAGE_SHAPES))
def test_cache_and_reasoning_usage_are_read_and_shown(
    receiver: RunningReceiver, shape: str, tmp_path: Path
) -> None:
    with sdk_tracer() as tracer:
        chat_call(tracer, "Summarise the doc", "Done.", attributes=USAGE_SHAPES[shape])
        chat_call(tracer, "No cache here", "Ok.")
    conn = receiver.store.reader()
    try:
        cached, plain = sorted(list_calls(conn), key=lambda c: c.preview)[::-1]
        assert cached.preview == "Summarise the doc"
        assert (cached.cache_read_tokens, cached.cache_write_tokens) == (30, 5)
        assert (cached.reasoning_tokens, cached.reasoning_level) == (7, "high")
        assert (plain.cache_read_tokens, plain.reasoning_tokens, plain.reasoning_level) == (
            None,
            None,
            None,
        )
        found = totals(conn, lambda: 2**62, None)
        detail = get_call(conn, cached.call_id)
    finally:
        conn.close()
    # Cache tokens are part of the input tokens (40 each here), not added to them.
    assert (found.input_tokens, found.cache_read_tokens, found.cache_write_tokens) == (80, 30, 5)
    assert (found.per_model[0].cache_read_tokens, found.per_model[0].cache_write_tokens) == (30, 5)
    assert "(cache 30 read, 5 write)" in totals_content(found, "all").plain
    assert detail is not None
    ctx = _context(receiver.store, tmp_path)
    try:
        facts = facts_content(detail, ctx).plain
    finally:
        ctx.readers.close()
    assert "cache read" in facts and "reasoning level" in facts and "high" in facts

    rows = {row["preview"]: row for row in json.loads(cli("calls", "--json"))}
    assert {k: rows["Summarise the doc"][k] for k in _USAGE_KEYS} == {
        "cache_read_tokens": 30,
        "cache_write_tokens": 5,
        "reasoning_tokens": 7,
        "reasoning_level": "high",
    }
    assert {rows["No cache here"][k] for k in _USAGE_KEYS} == {None}
    stats = cli("stats")
    assert "input includes 30 read from and 5 written to a cache" in stats
    assert "cache(r/w)" in stats and "30/5" in stats


_USAGE_KEYS = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "reasoning_level")


def _context(store: Store, tmp_path: Path) -> ViewerContext:
    return ViewerContext(ReaderPool(store.reader), lambda: 0, UTC, None, tmp_path, None)


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
def test_both_generations_of_metric_names_are_read(
    receiver: RunningReceiver, temporality: AggregationTemporality
) -> None:
    """The renamed client histograms and the per-direction token counters of
    semantic-conventions-genai appear in `localobs stats` next to the older names."""
    exporter = OTLPMetricExporter(
        preferred_temporality={Histogram: temporality, Counter: temporality}
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "bot"}), metric_readers=[reader]
    )
    meter = provider.get_meter("tests")
    old = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    new = meter.create_histogram("gen_ai.client.inference.duration", unit="s")
    ttft = meter.create_histogram("gen_ai.client.inference.time_to_first_chunk", unit="s")
    tokens_in = meter.create_counter("gen_ai.client.inference.usage.input_tokens", unit="{token}")
    cache = meter.create_counter(
        "gen_ai.client.inference.usage.cache_read.input_tokens", unit="{token}"
    )
    attrs = {"gen_ai.provider.name": "openai", "gen_ai.token.modality": "text"}
    for seconds in (0.5, 1.5):
        old.record(seconds, attrs)
        new.record(seconds, attrs)
        ttft.record(seconds / 10, attrs)
    tokens_in.add(100, attrs)
    cache.add(60, attrs)
    reader.force_flush()
    tokens_in.add(50, attrs)  # a second export: a cumulative series counts its latest value once
    reader.force_flush()
    provider.shutdown()

    summary = {m["name"]: m for m in json.loads(cli("stats", "--json"))["genai_metrics"]}
    assert summary["gen_ai.client.operation.duration"]["count"] == 2
    assert summary["gen_ai.client.inference.duration"]["count"] == 2
    assert summary["gen_ai.client.inference.time_to_first_chunk"]["count"] == 2
    assert summary["gen_ai.client.inference.usage.input_tokens"]["total"] == 150
    assert summary["gen_ai.client.inference.usage.cache_read.input_tokens"]["total"] == 60
    assert summary["gen_ai.client.inference.duration"]["total"] is None
    text = cli("stats")
    assert "gen_ai.client.inference.usage.input_tokens" in text and "150" in text


_PNG = base64.b64encode(b"\x89PNG\r\n" + bytes(6000)).decode()
PARTS = [
    {"type": "text", "content": "What is in this picture?"},
    {"type": "blob", "modality": "image", "mime_type": "image/png", "content": _PNG},
    {"type": "uri", "modality": "image", "mime_type": "image/jpeg", "uri": "https://x.test/a.jpg"},
    {"type": "uri", "modality": "image", "uri": "data:image/png;base64," + _PNG},
    {"type": "file", "modality": "document", "mime_type": "application/pdf", "file_id": "file-9"},
]
OUTPUT_PARTS = [
    {"type": "reasoning", "content": "The image is mostly black."},
    {
        "type": "server_tool_call",
        "id": "st_1",
        "name": "code_interpreter",
        "server_tool_call": {"type": "code_interpreter", "code": "print(1)"},
    },
    {
        "type": "server_tool_call_response",
        "id": "st_1",
        "server_tool_call_response": {"type": "code_interpreter", "outputs": [{"png": _PNG}]},
    },
    {"type": "vendor_thing", "audio": _PNG, "note": "kept"},
    {"type": "text", "content": "A black square."},
]


def test_message_parts_show_type_mime_type_and_size_and_export_stays_lossless(
    receiver: RunningReceiver,
) -> None:
    sent_input = json.dumps([{"role": "user", "parts": PARTS}])
    sent_output = json.dumps([{"role": "assistant", "parts": OUTPUT_PARTS}])
    with sdk_tracer() as tracer, tracer.start_as_current_span("chat m") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "m",
                "gen_ai.input.messages": sent_input,
                "gen_ai.output.messages": sent_output,
            }
        )
    conn = receiver.store.reader()
    try:
        (summary,) = list_calls(conn)
        detail = get_call(conn, summary.call_id)
        exported = [
            span
            for _, request in requests(conn, ExportFilter())
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
    finally:
        conn.close()
    assert detail is not None
    assert summary.preview == "What is in this picture?"  # the text part, not the data
    shown = "\n".join(turn.text for turn in conversation(detail))
    assert _PNG[:200] not in shown  # never a screen of base64
    for expected in (
        "(blob: image/png, 5.9 KiB; content not shown)",
        "(uri: image/jpeg) https://x.test/a.jpg",
        "(uri: image/png, 5.9 KiB)",
        "(file: application/pdf) file-9",
        "(reasoning)\nThe image is mostly black.",
        '→ server tool call code_interpreter [st_1]\n{"type":"code_interpreter","code":"print(1)"}',
        '← server tool result [st_1]\n{"type":"code_interpreter","outputs":[{"png":"<5.9 KiB of',
        '(vendor_thing)\n{"audio":"<5.9 KiB of base64 not shown>","note":"kept"}',
        "A black square.",
    ):
        assert expected in shown, expected
    # The stored call still holds every byte: the export gives back the attributes as sent.
    (span,) = exported
    attrs = attributes(span.attributes)
    assert attrs["gen_ai.input.messages"] == sent_input
    assert attrs["gen_ai.output.messages"] == sent_output


def test_evaluation_results_show_on_the_call_they_evaluate_whichever_arrives_first(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    """One evaluation logged while the call is still running (so before its span is exported),
    one after, and one as a span event on the call's own span; another call gets none."""
    logs = LoggerProvider(resource=Resource.create({"service.name": "judge"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    judge = logs.get_logger("evals")

    def evaluate(span: Span, **fields: str | float) -> None:
        context = set_span_in_context(NonRecordingSpan(span.get_span_context()))
        judge.emit(
            event_name="gen_ai.evaluation.result",
            context=context,
            attributes={f"gen_ai.evaluation.{k.replace('_', '.')}": v for k, v in fields.items()},
        )

    with sdk_tracer() as tracer:
        with tracer.start_as_current_span("chat m") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
            evaluate(span, name="Relevance", score_value=4.0, score_label="relevant")
            span.add_event(
                "gen_ai.evaluation.result",
                {"gen_ai.evaluation.name": "Toxicity", "gen_ai.evaluation.score.label": "pass"},
            )
        evaluate(
            span,
            name="Correctness",
            score_value=0.25,
            score_label="incorrect",
            explanation="The capital of Australia is Canberra, not Sydney.",
        )
        chat_call(tracer, "another question", "another answer")
    logs.shutdown()

    conn = receiver.store.reader()
    try:
        evaluated, other = sorted(list_calls(conn), key=lambda call: call.preview)
        detail = get_call(conn, evaluated.call_id)
        assert get_call(conn, other.call_id).evaluations == ()  # type: ignore[union-attr]
    finally:
        conn.close()
    assert detail is not None
    assert [(e.name, e.score_value, e.score_label, e.source) for e in detail.evaluations] == [
        ("Relevance", 4.0, "relevant", "log"),
        ("Toxicity", None, "pass", "span_event"),
        ("Correctness", 0.25, "incorrect", "log"),
    ]
    assert detail.evaluations[2].explanation == "The capital of Australia is Canberra, not Sydney."
    ctx = _context(receiver.store, tmp_path)
    try:
        facts = facts_content(detail, ctx).plain
    finally:
        ctx.readers.close()
    assert "Evaluations" in facts and "0.25  incorrect" in facts and "Canberra" in facts

    rows = {row["call_id"]: row for row in json.loads(cli("calls", "--json"))}
    assert [e["name"] for e in rows[evaluated.call_id]["evaluations"]] == [
        "Relevance",
        "Toxicity",
        "Correctness",
    ]
    assert rows[other.call_id]["evaluations"] == []


def _history(*turns: tuple[str, str]) -> str:
    return json.dumps([{"role": r, "parts": [{"type": "text", "content": t}]} for r, t in turns])


def send_compacted_conversation() -> None:
    """Three calls of one conversation; the third was sent a summary in place of the first two
    exchanges (`gen_ai.conversation.compacted`, and a CompactionPart in its input)."""
    conversation = {"gen_ai.conversation.id": "conv-compact"}
    compacted_input = json.dumps(
        [
            {"role": "user", "parts": [{"type": "compaction", "content": "Asked about A and B."}]},
            {"role": "user", "parts": [{"type": "text", "content": "q3"}]},
        ]
    )
    with sdk_tracer() as tracer:
        chat_call(tracer, "q1", "a1", attributes=conversation)
        chat_call(
            tracer,
            "q2",
            "a2",
            attributes={
                **conversation,
                "gen_ai.input.messages": _history(
                    ("user", "q1"), ("assistant", "a1"), ("user", "q2")
                ),
            },
        )
        chat_call(
            tracer,
            "q3",
            "a3",
            attributes={
                **conversation,
                "gen_ai.input.messages": compacted_input,
                "gen_ai.conversation.compacted": True,
            },
        )


def test_a_compacted_history_is_marked_not_reported_as_removed(receiver: RunningReceiver) -> None:
    send_compacted_conversation()
    conn = receiver.store.reader()
    try:
        found = get_conversation(conn, "conv-compact")
        assert found is not None
        turns = found.turns
        changes = [context_change(conn, turn.calls[0].call_id) for turn in turns]
    finally:
        conn.close()
    assert [turn.compacted for turn in turns] == [False, False, True]
    assert [turn.calls[0].compacted for turn in turns] == [False, False, True]
    second, third = changes[1], changes[2]
    assert second is not None and third is not None
    assert not second.compacted and len(second.removed) == 0
    assert third.compacted and len(third.removed) == 4  # q1, a1, q2, a2: summarised away
    text = change_text(third, turns[2].calls[0]).plain
    assert "history compacted: 4 earlier messages replaced by a summary" in text
    assert "- user: q1" not in text and "removed" in text  # listed as compacted, not removed
    assert "(compacted history)\nAsked about A and B." in text
    assert "history compacted" in cli("conversation", "conv-compact")
    data = json.loads(cli("conversation", "conv-compact", "--json"))
    assert [turn["compacted"] for turn in data["turns"]] == [False, False, True]


def test_cache_usage_in_a_details_log_event_reaches_its_call(receiver: RunningReceiver) -> None:
    """The conventions' `gen_ai.client.inference.operation.details` event may carry the usage
    instead of the span; it is logged before the span ends, so it waits for it."""
    logs = LoggerProvider(resource=Resource.create({"service.name": "app"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    with sdk_tracer() as tracer, tracer.start_as_current_span("chat m") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
        logs.get_logger("app").emit(
            event_name="gen_ai.client.inference.operation.details",
            context=set_span_in_context(NonRecordingSpan(span.get_span_context())),
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 90,
                "gen_ai.usage.cache_read.input_tokens": 64,
                "gen_ai.usage.reasoning.output_tokens": 3,
                "gen_ai.request.reasoning.level": "low",
            },
        )
    logs.shutdown()
    conn = receiver.store.reader()
    try:
        (call,) = list_calls(conn)
    finally:
        conn.close()
    assert (call.input_tokens, call.cache_read_tokens) == (90, 64)
    assert (call.reasoning_tokens, call.reasoning_level) == (3, "low")


# Attributes Logfire 5.4.0's `instrument_openai` sent for a streamed call (tests/test_logfire.py
# drives the real library; this keeps the rule checked where llama.cpp is not run).
_LOGFIRE_REQUEST = {
    "request_data": '{"model":"smollm2"}',
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "smollm2",
    "gen_ai.operation.name": "chat",
    "gen_ai.input.messages": _history(("user", "Say hi")),
    "logfire.msg_template": "Chat Completion with {request_data[model]!r}",
    "logfire.span_type": "span",
    "gen_ai.response.model": "smollm2",
}
_LOGFIRE_STREAM = {
    **_LOGFIRE_REQUEST,
    "logfire.span_type": "log",
    "logfire.msg_template": "streaming response from {request_data[model]!r} took {duration:.2f}s",
    "duration": 0.25,
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Hi"}],
                "finish_reason": "length",
            }
        ]
    ),
    "gen_ai.response.finish_reasons": '["length"]',
}


def test_only_logfire_s_stream_halves_are_merged(receiver: RunningReceiver) -> None:
    with sdk_tracer() as tracer:
        tracer.start_span("Chat Completion with 'smollm2'", attributes=_LOGFIRE_REQUEST).end()
        log = tracer.start_span("streaming response from 'smollm2' took 0.25s", start_time=10**18)
        log.set_attributes(_LOGFIRE_STREAM)
        log.end(end_time=10**18)
        # Not Logfire's provider instrumentation (no request_data): a call as sent, even bare.
        bare = {k: v for k, v in _LOGFIRE_REQUEST.items() if k != "request_data"}
        tracer.start_span("chat smollm2", attributes=bare).end()
    conn = receiver.store.reader()
    try:
        calls = list_calls(conn)
        streamed = get_call(conn, next(c.call_id for c in calls if c.duration_ms > 200))
    finally:
        conn.close()
    assert len(calls) == 2
    assert streamed is not None
    assert streamed.duration_ms == pytest.approx(250.0)
    assert streamed.finish_reasons == ["length"]
    assert streamed.output_messages[0].parts[0].content == "Hi"


def test_a_derived_stream_call_is_redacted_like_the_spans_it_came_from(
    receiver: RunningReceiver,
) -> None:
    key = "sk-" + "proj-" + "Xk2_" * 30 + "T3Blbk" + "FJ"
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": f"use {key}"}]}]
    with sdk_tracer() as tracer:
        log = tracer.start_span("streaming response from 'smollm2' took 0.25s")
        log.set_attributes({**_LOGFIRE_STREAM, "gen_ai.output.messages": json.dumps(answer)})
        log.end()
    conn = receiver.store.reader()
    try:
        (call,) = list_calls(conn)
        detail = get_call(conn, call.call_id)
        stored = "\n".join(
            text or "" for (text,) in conn.execute("SELECT text FROM contents").fetchall()
        )
    finally:
        conn.close()
    assert detail is not None
    assert detail.output_messages[0].parts[0].content == "use [redacted:openai-key]"
    assert key not in stored


async def test_the_conversation_screen_marks_the_compacted_turn(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    send_compacted_conversation()
    app = LocalobsApp(receiver.store, endpoint_url=receiver.url, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ConversationsScreen))
        await until(pilot, lambda: row_count(app, "#conversations") == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen))
        await until(pilot, lambda: row_count(app, "#turns") == 6)  # 3 turns, a call each
        turns = rows(app, "#turns")
        assert "compacted" not in " ".join(turns[:4])
        assert "⇣ compacted" in turns[4] and "⇣ compacted" in turns[5]
        await pilot.press("down", "down", "down", "down", "down")  # the third turn's call
        await until(pilot, lambda: "history compacted" in text_of(app, "#context-change"))
        assert "- user: q1" not in text_of(app, "#context-change")


@pytest.mark.parametrize("marker", ["attribute", "compaction part"])
def test_either_marker_says_the_history_was_compacted(
    receiver: RunningReceiver, marker: str
) -> None:
    if marker == "attribute":
        extra: dict[str, str | int | float] = {"gen_ai.conversation.compacted": True}
    else:
        summary = [{"role": "user", "parts": [{"type": "compaction", "content": "so far"}]}]
        extra = {"gen_ai.input.messages": json.dumps(summary)}
    with sdk_tracer() as tracer:
        chat_call(tracer, "q", "a", attributes={"gen_ai.conversation.id": "c1", **extra})
        chat_call(tracer, "q", "a", attributes={"gen_ai.conversation.id": "c2"})
    conn = receiver.store.reader()
    try:
        marked, plain = get_conversation(conn, "c1"), get_conversation(conn, "c2")
    finally:
        conn.close()
    assert marked is not None and plain is not None
    assert (marked.turns[0].compacted, plain.turns[0].compacted) == (True, False)


@pytest.mark.parametrize("duration", [-5.0, 1e300, 0.0])
def test_an_odd_stream_duration_loses_nothing(receiver: RunningReceiver, duration: float) -> None:
    with sdk_tracer() as tracer:
        log = tracer.start_span("streaming response", start_time=10**18)
        log.set_attributes({**_LOGFIRE_STREAM, "duration": duration})
        log.end(end_time=10**18)
    conn = receiver.store.reader()
    try:
        (call,) = list_calls(conn)
        spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    finally:
        conn.close()
    assert spans == 2  # the log span as sent, and the call
    assert 0 <= call.start_time_unix_nano <= 10**18 and call.duration_ms >= 0


def test_hostile_evaluation_values_are_shown_inert(receiver: RunningReceiver) -> None:
    with sdk_tracer() as tracer, tracer.start_as_current_span("chat m") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
        span.add_event(
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "evil\x1b]0;owned\x07",
                "gen_ai.evaluation.score.value": "nan",
                "gen_ai.evaluation.explanation": "[b]markup[/b]",
            },
        )
    (row,) = json.loads(cli("calls", "--json"))  # still valid JSON: no NaN
    (evaluation,) = row["evaluations"]
    assert evaluation["score_value"] is None
    assert evaluation["name"] == "evil\x1b]0;owned\x07"  # JSON escapes it
    conn = receiver.store.reader()
    try:
        detail = get_call(conn, row["call_id"])
    finally:
        conn.close()
    assert detail is not None
    shown = "\n".join(line.plain for line in evaluation_rows(detail))
    assert "\x1b" not in shown and "evil\\x1b]0;owned" in shown  # a visible escape
    assert "[b]markup[/b]" in shown  # as typed, not parsed


def test_an_evaluation_without_span_context_finds_its_call_by_response_id(
    receiver: RunningReceiver,
) -> None:
    logs = LoggerProvider(resource=Resource.create({"service.name": "judge"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    for response_id, label in (("chatcmpl-42", "pass"), ("chatcmpl-other", "fail")):
        logs.get_logger("evals").emit(
            event_name="gen_ai.evaluation.result",
            attributes={
                "gen_ai.evaluation.name": "Groundedness",
                "gen_ai.evaluation.score.label": label,
                "gen_ai.response.id": response_id,
            },
        )
    logs.shutdown()
    with sdk_tracer() as tracer:
        chat_call(tracer, "q", "a", attributes={"gen_ai.response.id": "chatcmpl-42"})
        chat_call(tracer, "q2", "a2")
    (row, other) = sorted(json.loads(cli("calls", "--json")), key=lambda r: r["preview"])
    assert [(e["name"], e["score_label"]) for e in row["evaluations"]] == [("Groundedness", "pass")]
    assert other["evaluations"] == []
