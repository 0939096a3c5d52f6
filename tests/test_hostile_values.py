"""What fuzzing the ingest path found (issue 11), kept as plain examples: each one killed the
writer, answered 500 or broke the export before the fix."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from localobs.receiver.bodies import Format
from localobs.receiver.faults import InputFaults
from localobs.receiver.genai import (
    dispatch,
    log_events,
    normalize_log_event,
    normalize_span,
    restore,
    semconv,
)
from localobs.receiver.pipeline import decode_body
from localobs.store import Store, call_text, rollups
from localobs.store.batch import INT64_MAX
from localobs.store.contents import MESSAGE_COLUMNS, expand_sql
from localobs.store.database import connect
from localobs.store.export import ExportFilter
from localobs.store.idle_jobs import IdleJobs
from localobs.store.ingest import BatchApplier
from localobs.store.rollups import roll_up_all, watermark
from localobs.store.schema import SPAN_COLUMNS
from localobs.transfer.export import requests
from tests.conftest import RunningReceiver
from tests.otlp_samples import kv, trace_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def send(receiver: RunningReceiver, request: ExportTraceServiceRequest) -> httpx.Response:
    return httpx.post(
        f"{receiver.url}/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
    )


def stored(receiver: RunningReceiver, column: str, name: str) -> object:
    conn = receiver.store.reader()
    try:
        shown = expand_sql(column) if column in MESSAGE_COLUMNS else column  # text, not refs
        row = conn.execute(f"SELECT {shown} FROM spans WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    assert row is not None, f"span {name!r} was not stored"
    return row[0]


def chat_span(name: str, **attributes: object) -> ExportTraceServiceRequest:
    request = trace_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.name = name
    span.attributes.append(kv("gen_ai.operation.name", "chat"))
    span.attributes.extend(kv(key, value) for key, value in attributes.items())
    return request


def test_token_counts_beyond_64_bits_stay_in_the_attributes(receiver: RunningReceiver) -> None:
    """Was: OverflowError in the writer, which died; every later request got 503."""
    huge = chat_span(
        "huge",
        **{
            "gen_ai.usage.input_tokens": "99999999999999999999",
            "gen_ai.usage.output_tokens": 1e30,
            "gen_ai.request.max_tokens": -5,
        },
    )
    assert send(receiver, huge).status_code == 200
    assert stored(receiver, "input_tokens", "huge") is None
    assert stored(receiver, "output_tokens", "huge") is None
    assert stored(receiver, "max_tokens", "huge") is None
    assert '"99999999999999999999"' in str(stored(receiver, "attributes", "huge"))
    assert (
        send(receiver, chat_span("after", **{"gen_ai.usage.input_tokens": 12})).status_code == 200
    )
    assert stored(receiver, "input_tokens", "after") == 12


def test_a_span_beyond_2262_is_refused_alone(receiver: RunningReceiver) -> None:
    """Was: OverflowError in the writer for start/end times over 2^63 (OTLP's are unsigned)."""
    request = trace_request(2, name_prefix="time")
    request.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = (1 << 64) - 1
    response = send(receiver, request)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "2262" in answer.partial_success.error_message
    assert stored(receiver, "end_time_unix_nano", "time-1") < INT64_MAX


def test_kinds_of_the_wrong_type_store_the_span(receiver: RunningReceiver) -> None:
    """Was: TypeError unhashable type (a map or list as the kind) in the normalizers: 500."""
    for name, key in (
        ("traceloop", "traceloop.span.kind"),
        ("request-type", "llm.request.type"),
        ("openinference", "openinference.span.kind"),
    ):
        request = chat_span(name, **{key: {"nested": ("map",)}, "gen_ai.request.model": "m"})
        assert send(receiver, request).status_code == 200, name
        assert stored(receiver, "span_role", name) is not None


def test_an_index_of_other_digits_stays_an_attribute(receiver: RunningReceiver) -> None:
    """Was: ValueError (500) for `gen_ai.prompt.².content`: '²'.isdigit() but int('²') fails."""
    request = chat_span(
        "digits",
        **{"gen_ai.prompt.².content": "superscript", "gen_ai.prompt.0.content": "plain"},
    )
    assert send(receiver, request).status_code == 200
    assert "superscript" in str(stored(receiver, "attributes", "digits"))
    assert "plain" in str(stored(receiver, "input_messages", "digits"))


def test_non_finite_doubles_export_as_sent(receiver: RunningReceiver) -> None:
    """Was: NaN attributes stored as null (lost), NaN quantiles breaking the export; an infinite
    bucket bound (which the metric queries cannot place) is refused alone."""
    spans = chat_span("doubles", nan=math.nan, up=math.inf, down=-math.inf)
    assert send(receiver, spans).status_code == 200
    metrics = ExportMetricsServiceRequest()
    metric = metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="latency")
    point = metric.summary.data_points.add(time_unix_nano=1_700_000_000_000_000_000, count=0)
    point.quantile_values.add(quantile=0.5, value=math.nan)
    histogram = metrics.resource_metrics[0].scope_metrics[0].metrics.add(name="sizes")
    histogram.histogram.data_points.add(time_unix_nano=1, explicit_bounds=[1.0, math.inf])
    response = httpx.post(
        f"{receiver.url}/v1/metrics", content=metrics.SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 1  # an infinite bucket bound

    conn = receiver.store.reader()
    exported = {page.signal: request for page, request in requests(conn, ExportFilter())}
    conn.close()
    attributes = {
        pair.key: pair.value.double_value
        for pair in exported["traces"].resource_spans[0].scope_spans[0].spans[0].attributes
        if pair.value.HasField("double_value")
    }
    assert math.isnan(attributes["nan"])
    assert attributes["up"] == math.inf and attributes["down"] == -math.inf
    (summary,) = exported["metrics"].resource_metrics[0].scope_metrics[0].metrics
    assert math.isnan(summary.summary.data_points[0].quantile_values[0].value)


def test_a_normalizer_failure_keeps_the_span_raw_and_logs_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No known input makes a normalizer fail any more, so the failure is injected (a fake, for
    a fault we cannot cause): the span is stored with every attribute and no call columns, the
    failure is counted per span and logged once."""

    def broken(*args: object) -> tuple[object, ...]:
        moves = args[-1]
        assert isinstance(moves, dict)
        moves["gen_ai.input.messages"] = "in"  # fails after deciding to move content
        raise RuntimeError("a shape nobody foresaw")

    monkeypatch.setattr(semconv, "normalize", broken)
    faults = InputFaults()
    monkeypatch.setattr(dispatch, "FAULTS", faults)
    messages = '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'
    request = chat_span("raw", **{"gen_ai.input.messages": messages})
    spans = request.resource_spans[0].scope_spans[0].spans
    spans.add().CopyFrom(spans[0])
    with caplog.at_level(logging.WARNING, logger="localobs.receiver"):
        batch, rejections = decode_body("traces", request.SerializeToString(), Format.PROTOBUF)
    assert rejections.count == 0 and len(batch.rows) == 2
    row = dict(zip(SPAN_COLUMNS, batch.rows[0], strict=True))
    assert row["operation"] is None and row["input_messages"] is None
    assert json.loads(row["attributes"]) == {
        "index": 0,
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": messages,
    }
    assert faults.counts() == {"GenAI normalization (semconv)": 2}
    assert len([r for r in caplog.records if "a shape nobody foresaw" in r.getMessage()]) == 1


def test_rollups_fold_token_sums_beyond_64_bits(tmp_path: Path) -> None:
    """Rows from before the receiver capped token counts may hold up to 2^63 - 1 each: their sum
    used to overflow in the fold (OverflowError), which stopped rollups and killed the writer."""
    Store(tmp_path / "old.db")  # creates the schema
    conn = connect(tmp_path / "old.db")
    applier = BatchApplier(conn)
    batch, _ = decode_body(
        "traces",
        chat_span("old", **{"gen_ai.request.model": "m"}).SerializeToString(),
        Format.PROTOBUF,
    )
    tokens = SPAN_COLUMNS.index("input_tokens")
    batch.rows = [
        (*row[:1], f"{index:016x}", *row[2:tokens], INT64_MAX, *row[tokens + 1 :])
        for index, row in enumerate(batch.rows * 2, start=1)
    ]
    conn.execute("BEGIN")
    applier.apply(batch.to_wire(1))
    conn.execute("COMMIT")
    roll_up_all(conn)
    (total,) = conn.execute(
        "SELECT sum(input_tokens) FROM call_rollup WHERE grain_s = 60"
    ).fetchone()
    conn.close()
    assert total == pytest.approx(2.0 * INT64_MAX)


def test_json_nested_to_orjsons_limit_gets_400(receiver: RunningReceiver) -> None:
    """Was: RecursionError (500) for JSON nested ~1000 deep, which orjson accepts (up to 1024):
    the id rewrite recursed, and protobuf's parser recursed describing the wrong value."""
    for body in (
        b'{"resourceSpans":' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"resourceSpans":[{"x":' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}]}",
    ):
        response = httpx.post(
            f"{receiver.url}/v1/traces", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (200, 400), response.content[:200]
    assert send(receiver, chat_span("after")).status_code == 200


def test_messages_nested_1000_deep_are_folded(receiver: RunningReceiver) -> None:
    """Was: RecursionError in the writer's idle fold (text index), which killed it for good: the
    row stayed, so a restarted writer would die on it again. orjson reads 1024 levels."""
    deep = '[{"role":"user","parts":[' + "[" * 1015 + '"deep"' + "]" * 1015 + "]}]"
    assert send(receiver, chat_span("deep", **{"gen_ai.input.messages": deep})).status_code == 200
    assert stored(receiver, "input_messages", "deep") == deep
    conn = receiver.store.reader()
    try:
        deadline = time.monotonic() + 30
        while watermark(conn) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert watermark(conn) > 0, "the writer never folded the row"
    finally:
        conn.close()
    assert send(receiver, chat_span("after-deep")).status_code == 200


def test_json_too_deep_to_write_back_is_kept_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: TypeError (orjson writes 254 levels, reads 1024) or RecursionError (str() of 1000
    levels) failing the normalizer. Now the attribute's own text is the content (or it stays an
    attribute): no failure at all."""
    faults = InputFaults()
    monkeypatch.setattr(dispatch, "FAULTS", faults)
    monkeypatch.setattr(log_events, "FAULTS", faults)
    nested = "[" * 300 + "]" * 300
    deep = '[{"role":"user","content":' + nested + "}]"
    deeper = '[{"role":"user","content":' + "[" * 1015 + "]" * 1015 + "}]"  # past recursion
    cases = {
        "semconv": {"gen_ai.operation.name": "chat", "gen_ai.input.messages": deep},
        "deeper": {"gen_ai.operation.name": "chat", "gen_ai.input.messages": deeper},
        "system": {"gen_ai.operation.name": "chat", "gen_ai.system_instructions": deep},
        "openllmetry": {"gen_ai.prompt.0.content": '[{"type":"x","a":' + nested + "}]"},
        "openinference": {
            "openinference.span.kind": "LLM",
            "input.value": '{"messages":' + deep + "}",
            "input.mime_type": "application/json",
        },
        "vercel_ai": {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.prompt.messages": deeper,
            "ai.response.text": "moved only if the whole output can be written",
            "ai.response.toolCalls": '[{"toolName":"t","input":' + "[" * 1015 + "]" * 1015 + "}]",
        },
        "vercel_ai wrapper": {"ai.operationId": "ai.generateText", "ai.prompt": deep},
    }
    for label, attributes in cases.items():
        original = dict(attributes)
        call = normalize_span(label, attributes, [], 0, 1, 0)
        assert call is not None, label
        restored = restore(attributes, *call[13:16])
        assert restored == original, label  # lossless: nothing moved that cannot come back
    legacy_events = [{"name": "gen_ai.content.prompt", "attributes": {"gen_ai.prompt": deep}}]
    call = normalize_span("chat m", {"gen_ai.system": "x"}, legacy_events, 0, 1, 0)
    assert call is not None and call[13] is not None
    details = "gen_ai.client.inference.operation.details"
    assert normalize_log_event(details, {"gen_ai.system_instructions": nested}, None) is None
    assert normalize_log_event("gen_ai.user.message", {}, deeper[1:-1]) is None
    assert faults.counts() == {}


def test_a_fold_that_fails_pauses_rollups_instead_of_ending_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No stored row is known to make the fold fail any more, so the failure is injected (a
    fake, for a fault we cannot cause): the writer's idle jobs report it and back off, the
    chunk is rolled back, nothing is raised."""
    Store(tmp_path / "fold.db")
    conn = connect(tmp_path / "fold.db")
    batch, _ = decode_body(
        "traces",
        chat_span(
            "fold",
            **{
                "gen_ai.request.model": "m",
                "gen_ai.input.messages": '[{"role": "user", "parts": [{"content": "hi"}]}]',
            },
        ).SerializeToString(),
        Format.PROTOBUF,
    )
    conn.execute("BEGIN")
    BatchApplier(conn).apply(batch.to_wire(1))
    conn.execute("COMMIT")

    def broken(*columns: object) -> str:
        raise RecursionError("a row nobody foresaw")

    monkeypatch.setattr(call_text, "message_text", broken)  # what the fold reads text with
    now = [0.0]
    reported: list[str] = []
    jobs = IdleJobs(
        [rollups.IdleRollups(conn, settle_s=0.0)],
        clock=lambda: now[0],
        on_error=lambda job, exc: reported.append(f"{job}: {type(exc).__name__}"),
    )
    for _ in range(2):
        now[0] += 100.0
        jobs.run_idle()
    assert reported == ["IdleRollups: RecursionError"] * 2
    assert not conn.in_transaction
    assert watermark(conn) == 0  # the chunk was rolled back, the rows wait
    conn.close()
