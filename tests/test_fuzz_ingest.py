"""Property-based fuzzing of decode -> normalize -> write, through the real receiver and writer.

Hostile OTLP requests (tests/otlp_hostile.py) go over OTLP/HTTP (JSON and protobuf) and OTLP/gRPC
to the receivers on loopback ports, whose store runs the real writer process. Whatever they hold,
the answer is 200, 400 or 413 (or 503 with Retry-After, when busy; over gRPC the matching codes),
never 500; every 200 committed exactly the items it did not refuse in partial_success (read back
by id or tag); no decoder or normalizer failed unforeseen (FAULTS stays empty: no item was saved
only by the last-resort catch); the receiver and writer still store a plain span after each
request; earlier rows stay intact (a canary reads back unchanged, counts never drop); the idle
writer folds every stored row into the rollups; and the stored rows still export as OTLP.

The suite runs a few dozen examples per signal (well under a minute); `bench/fuzz_ingest.py` (or
LOCALOBS_FUZZ_EXAMPLES=N) runs a long campaign.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from localobs.receiver.faults import FAULTS
from localobs.receiver.grpc_server import SERVICES, GrpcReceiver
from localobs.store.export import ExportFilter
from localobs.store.rollups import watermark
from localobs.transfer.export import requests
from tests.conftest import RunningReceiver
from tests.otlp_hostile import (
    BAD_UTF8,
    TAG,
    Expected,
    bad_utf8_only_in_span_attributes,
    expect_logs,
    expect_metrics,
    expect_traces,
    json_body,
    log_requests,
    metric_requests,
    protobuf_body,
    tag,
    trace_requests,
)
from tests.otlp_samples import gauge_request, kv, log_request, trace_request

EXAMPLES = int(os.environ.get("LOCALOBS_FUZZ_EXAMPLES", "60"))
RECURSION_LIMIT = sys.getrecursionlimit()  # the process's own, before Hypothesis raises it
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
RESPONSES = {
    "traces": (ExportTraceServiceResponse, "rejected_spans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points"),
}
EXPECT: dict[str, Callable[[dict[str, Any]], Expected]] = {
    "traces": expect_traces,
    "logs": expect_logs,
    "metrics": expect_metrics,
}
COUNTED = {"logs": "logs", "metrics": "metric_points"}
# gRPC outcomes as the HTTP statuses of the same cases; any other code (UNKNOWN, INTERNAL) fails.
GRPC_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.UNAVAILABLE: 503,
}


@dataclass
class Campaign:
    """The receiver under fuzz, its canary rows, and the checks run after every request."""

    receiver: RunningReceiver
    client: httpx.Client
    channel: grpc.Channel
    canary: tuple[Any, ...]
    faults: dict[str, int]
    numbers: Iterator[int]
    counts: tuple[int, int, int] = (0, 0, 0)

    def reader(self) -> sqlite3.Connection:
        return self.receiver.store.reader()

    def post(self, signal: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(f"{self.receiver.url}/v1/{signal}", content=body, headers=headers)

    def send(self, signal: str, document: dict[str, Any], transport: str, corrupt: bool) -> None:
        number = next(self.numbers)
        tag(signal, document, number)
        has_marker = BAD_UTF8 in json.dumps(document)
        body = protobuf_body(signal, document) if transport != "json" else None
        if body is None:
            fmt, corrupted = "json", corrupt and has_marker
            response = self.post(signal, json_body(document, corrupt), JSON)
            status, content = response.status_code, response.content
            if status == 503:
                assert response.headers.get("Retry-After"), content
        elif transport == "grpc":
            fmt, corrupted = "protobuf", has_marker
            status, content = self.export_grpc(signal, body)
        else:
            fmt, corrupted = "protobuf", has_marker
            response = self.post(signal, body, PROTOBUF)
            status, content = response.status_code, response.content
            if status == 503:
                assert response.headers.get("Retry-After"), content
        event(f"{transport} as {fmt}: {status}")
        assert status in (200, 400, 413, 503), (status, content[:300])
        if corrupted:
            # Span attributes are read span by span: invalid UTF-8 there refuses its span alone.
            alone = fmt == "protobuf" and signal == "traces"
            alone = alone and bad_utf8_only_in_span_attributes(document)
            assert status == 400 or (alone and status == 200), "invalid UTF-8 must be refused"
        if status == 200:
            self._check_committed(signal, document, content, fmt, number, corrupted)
        self.check_alive_and_intact()

    def export_grpc(self, signal: str, body: bytes) -> tuple[int, bytes]:
        """One raw Export RPC; its status code as the HTTP status OTLP maps it to."""
        call = self.channel.unary_unary(f"/{SERVICES[signal]}/Export")
        try:
            return 200, call(body, timeout=30)
        except grpc.RpcError as exc:
            code = exc.code()
            assert code in GRPC_STATUS, (code, exc.details())
            return GRPC_STATUS[code], (exc.details() or "").encode()

    def _check_committed(
        self,
        signal: str,
        document: dict[str, Any],
        content: bytes,
        fmt: str,
        number: int,
        corrupted: bool,
    ) -> None:
        message_type, rejected_field = RESPONSES[signal]
        message = message_type()
        if fmt == "json":
            json_format.Parse(content, message)
        else:
            message.ParseFromString(content)
        expected = (
            expect_traces(document, corrupted) if signal == "traces" else EXPECT[signal](document)
        )
        rejected = getattr(message.partial_success, rejected_field)
        assert rejected == expected.rejected, message.partial_success.error_message
        conn = self.reader()
        try:
            for trace_id, span_id in expected.span_ids:
                row = conn.execute(
                    "SELECT 1 FROM spans WHERE trace_id = ? AND span_id = ?", (trace_id, span_id)
                ).fetchone()
                assert row is not None, f"span {trace_id}/{span_id} answered 200 but not stored"
            if signal in COUNTED:
                stored = conn.execute(
                    f"SELECT count(*) FROM {COUNTED[signal]}"
                    f" WHERE json_extract(attributes, '$.\"{TAG}\"') = ?",
                    (number,),
                ).fetchone()[0]
                assert stored == expected.items
        finally:
            conn.close()

    def check_alive_and_intact(self) -> None:
        """A plain span is still stored, the canary is unchanged, no count dropped, no fault."""
        probe = trace_request(1, name_prefix="alive")
        response = self.post("traces", probe.SerializeToString(), PROTOBUF)
        assert response.status_code == 200, response.content
        span = probe.resource_spans[0].scope_spans[0].spans[0]
        conn = self.reader()
        try:
            assert conn.execute(
                "SELECT 1 FROM spans WHERE trace_id = ? AND span_id = ?",
                (span.trace_id.hex(), span.span_id.hex()),
            ).fetchone(), "the writer no longer stores spans"
            assert canary_rows(conn) == self.canary, "an earlier row changed"
            counts = tuple(
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("spans", "logs", "metric_points")
            )
        finally:
            conn.close()
        assert all(now >= before for now, before in zip(counts, self.counts, strict=True))
        self.counts = counts
        assert FAULTS.counts() == self.faults, "a decoder or normalizer failed unforeseen"

    def check_folded(self) -> None:
        """The idle writer folds every stored row (hostile content included) into the rollups
        and the text index, and still stores spans afterwards."""
        conn = self.reader()
        try:
            deadline = time.monotonic() + 30
            while watermark(conn) < max_rowid(conn) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert watermark(conn) >= max_rowid(conn), "the writer stopped folding rows"
        finally:
            conn.close()
        self.check_alive_and_intact()

    def check_export(self) -> None:
        """Every stored row, hostile ones included, still rebuilds as OTLP (lossless export)."""
        conn = self.reader()
        try:
            for _, request in requests(conn, ExportFilter()):
                assert request.SerializeToString()
        finally:
            conn.close()


CANARY_NAME = "canary"


def max_rowid(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()[0])


def canary_rows(conn: sqlite3.Connection) -> tuple[Any, ...]:
    span = conn.execute("SELECT * FROM spans WHERE name = ?", (CANARY_NAME,)).fetchall()
    log = conn.execute("SELECT * FROM logs WHERE severity_text = ?", (CANARY_NAME,)).fetchall()
    point = conn.execute("SELECT * FROM metric_points WHERE name = ?", (CANARY_NAME,)).fetchall()
    return (span, log, point)


@pytest.fixture
def campaign(receiver: RunningReceiver) -> Iterator[Campaign]:
    spans = trace_request(1, name_prefix="x")
    span = spans.resource_spans[0].scope_spans[0].spans[0]
    span.name = CANARY_NAME
    span.attributes.extend(
        [
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", "canary-model"),
            kv("gen_ai.usage.input_tokens", 7),
            kv(
                "gen_ai.input.messages",
                '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
            ),
        ]
    )
    logs = log_request(1)
    logs.resource_logs[0].scope_logs[0].log_records[0].severity_text = CANARY_NAME
    listener = GrpcReceiver(receiver.store, "127.0.0.1", 0, max_body=1 << 20)
    listener.start()
    with (
        httpx.Client(timeout=30) as client,
        grpc.insecure_channel(f"127.0.0.1:{listener.port}") as channel,
    ):
        for signal, message in (
            ("traces", spans),
            ("logs", logs),
            ("metrics", gauge_request([1.5], name=CANARY_NAME)),
        ):
            url = f"{receiver.url}/v1/{signal}"
            response = client.post(url, content=message.SerializeToString(), headers=PROTOBUF)
            assert response.status_code == 200
        conn = receiver.store.reader()
        canary = canary_rows(conn)
        conn.close()
        assert all(len(rows) == 1 for rows in canary)
        running = Campaign(receiver, client, channel, canary, FAULTS.counts(), itertools.count(1))
        yield running
        running.check_folded()
        running.check_export()
    listener.stop(5)


def _fuzz(campaign: Campaign, signal: str, documents: st.SearchStrategy[dict[str, Any]]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # nothing written into the tree; a failure prints its example
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        document=documents,
        transport=st.sampled_from(("json", "protobuf", "grpc")),
        corrupt=st.booleans(),
    )
    def run(document: dict[str, Any], transport: str, corrupt: bool) -> None:
        # Hypothesis raises the recursion limit while it runs an example, for the whole process:
        # the receiver must be fuzzed with the limit it really has.
        raised = sys.getrecursionlimit()
        sys.setrecursionlimit(RECURSION_LIMIT)
        try:
            campaign.send(signal, document, transport, corrupt)
        finally:
            sys.setrecursionlimit(raised)

    run()


def test_hostile_traces_never_stop_ingest(campaign: Campaign) -> None:
    _fuzz(campaign, "traces", trace_requests())


def test_hostile_logs_never_stop_ingest(campaign: Campaign) -> None:
    _fuzz(campaign, "logs", log_requests())


def test_hostile_metrics_never_stop_ingest(campaign: Campaign) -> None:
    _fuzz(campaign, "metrics", metric_requests())
