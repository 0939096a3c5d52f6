"""The writer process folds settled rows into rollups and the text index while idle."""

from __future__ import annotations

import json
import time

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from localobs.store.calls import CallFilter, list_calls
from localobs.store.rollups import watermark
from tests.conftest import RunningReceiver


def test_idle_writer_folds_calls_and_text_search_finds_them(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    provider = TracerProvider(resource=Resource.create({"service.name": "folding"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("t")
    for word in ("kubernetes", "mesh"):
        with tracer.start_as_current_span("chat tiny") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", "tiny")
            span.set_attribute(
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": word}]}]),
            )
    provider.shutdown()

    conn = receiver.store.reader()
    deadline = time.monotonic() + 15
    while watermark(conn) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert watermark(conn) > 0, "the idle writer never folded the settled rows"
    found = list_calls(conn, CallFilter(text="kuber"))
    assert [call.preview for call in found] == ["kubernetes"]
    indexed = conn.execute(
        "SELECT rowid FROM llm_call_text WHERE llm_call_text MATCH 'kubernetes'"
    ).fetchall()
    assert [rowid for (rowid,) in indexed] == [found[0].call_id]
