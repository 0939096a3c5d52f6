"""Lossless export and import: a varied corpus sent to A comes out of A as the very OTLP that went
in, and A exported to B (over HTTP and over gRPC) and to a file imported into C leaves the four
stores holding the same telemetry, column for column."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf.message import Message

from localobs.receiver import create_receiver_app
from localobs.receiver.anyvalue import attributes
from localobs.receiver.grpc_server import GrpcReceiver
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.contents import MESSAGE_COLUMNS, attributes_sql, expand_sql
from localobs.store.export import ExportFilter
from localobs.store.schema import (
    LOG_COLUMNS,
    METRIC_POINT_COLUMNS,
    RESOURCE_COLUMNS,
    SCOPE_COLUMNS,
    SPAN_COLUMNS,
)
from localobs.transfer.export import requests
from tests.conftest import RunningReceiver
from tests.otlp_corpus import corpus
from tests.otlp_samples import trace_request

TABLES = {
    "spans": SPAN_COLUMNS,
    "logs": LOG_COLUMNS,
    "metric_points": METRIC_POINT_COLUMNS,
    "resources": RESOURCE_COLUMNS,
    "scopes": SCOPE_COLUMNS,
}


def localobs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localobs", *args], capture_output=True, text=True, timeout=120
    )


def telemetry(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored column of every telemetry table, as a sorted list of rows (message columns
    as their text: each store numbers its content-addressed messages its own way)."""
    conn = sqlite3.connect(db)
    try:
        return {
            table: sorted(
                conn.execute(
                    "SELECT "
                    + ", ".join(
                        expand_sql(c)
                        if c in MESSAGE_COLUMNS
                        else attributes_sql()
                        if (table, c) == ("spans", "attributes")
                        else c
                        for c in columns
                    )
                    + f" FROM {table}"
                ),
                key=repr,
            )
            for table, columns in TABLES.items()
        }
    finally:
        conn.close()


@pytest.fixture
def source(receiver: RunningReceiver) -> RunningReceiver:
    """A: the corpus sent over OTLP/HTTP, as an application would."""
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for signal, message in corpus():
            body = message.SerializeToString()
            assert client.post(f"{receiver.url}/v1/{signal}", content=body).status_code == 200
    return receiver


@pytest.fixture
def destination(tmp_path: Path) -> Iterator[tuple[Store, ReceiverServer, GrpcReceiver]]:
    store = Store(tmp_path / "b.db")
    store.start_writer()
    http = ReceiverServer(create_receiver_app(store), "127.0.0.1", 0)
    http.start()
    grpc = GrpcReceiver(store, "127.0.0.1", 0, max_body=64 << 20)
    grpc.start()
    yield store, http, grpc
    grpc.stop(5)
    http.stop()
    store.close()


def test_the_store_gives_back_the_otlp_that_was_sent(source: RunningReceiver) -> None:
    """Checked on the OTLP itself, item by item (span attributes as maps: OTLP does not order
    them): resource, scope and every field, GenAI message content moved by normalization
    included."""
    sent: dict[str, list[tuple[Message, ...]]] = {"traces": [], "logs": [], "metrics": []}
    for signal, message in corpus():
        sent[signal] += _items(signal, message)
    conn = source.store.reader()
    rebuilt: dict[str, list[tuple[Message, ...]]] = {"traces": [], "logs": [], "metrics": []}
    for page, request in requests(conn, ExportFilter()):
        rebuilt[page.signal] += _items(page.signal, request)
    for signal in sent:
        assert len(rebuilt[signal]) == len(sent[signal]) > 0
        key = _span_key if signal == "traces" else repr
        assert sorted(map(key, rebuilt[signal])) == sorted(map(key, sent[signal])), signal


def _span_key(item: tuple[Message, ...]) -> str:
    *envelope, span = item
    copy = type(span)()
    copy.CopyFrom(span)
    span_attributes = attributes(copy.attributes)
    del copy.attributes[:]
    return repr((*envelope, copy, sorted(span_attributes.items(), key=repr)))


def _items(signal: str, request: Message) -> list[tuple[Message, ...]]:
    """(resource, resource schema, scope, scope schema, item[, metric]) per span, log record or
    data point; the metric with its other points cleared."""
    items: list[tuple[Message, ...]] = []
    resource_field, scope_field = {
        "traces": ("resource_spans", "scope_spans"),
        "logs": ("resource_logs", "scope_logs"),
        "metrics": ("resource_metrics", "scope_metrics"),
    }[signal]
    for envelope in getattr(request, resource_field):
        for scoped in getattr(envelope, scope_field):
            head = (envelope.resource, envelope.schema_url, scoped.scope, scoped.schema_url)
            if signal == "traces":
                items += [(*head, span) for span in scoped.spans]
            elif signal == "logs":
                items += [(*head, record) for record in scoped.log_records]
            else:
                for metric in scoped.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        shell = type(metric)()
                        shell.CopyFrom(metric)
                        del getattr(shell, kind).data_points[:]
                        items.append((*head, shell, point))
    return items


def test_export_over_http_and_grpc_and_through_a_file_is_lossless(
    source: RunningReceiver,
    destination: tuple[Store, ReceiverServer, GrpcReceiver],
    tmp_path: Path,
) -> None:
    a = source.store.path
    expected = telemetry(a)
    assert all(expected.values())
    b_store, http, grpc = destination

    over_http = localobs("export", "--db", str(a), "--to", http.url)
    assert over_http.returncode == 0, over_http.stderr
    assert "exported 19 spans, 16 logs and 8 metric points" in over_http.stdout
    assert telemetry(b_store.path) == expected

    # The same again over gRPC into a second empty store.
    b_store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{b_store.path}{suffix}").unlink(missing_ok=True)
    b_store.__init__(b_store.path)  # type: ignore[misc]
    b_store.start_writer()
    over_grpc = localobs("export", "--db", str(a), "--to", grpc.url, "--protocol", "grpc")
    assert over_grpc.returncode == 0, over_grpc.stderr
    assert telemetry(b_store.path) == expected

    out = tmp_path / "out.jsonl"
    to_file = localobs("export", "--db", str(a), "--file", str(out))
    assert to_file.returncode == 0, to_file.stderr
    imported = localobs("import", str(out), "--db", str(tmp_path / "c.db"))
    assert imported.returncode == 0, imported.stderr
    assert "imported 19 spans, 16 logs and 8 metric points" in imported.stdout
    assert telemetry(tmp_path / "c.db") == expected


def test_the_file_has_the_collector_file_exporter_shape(
    source: RunningReceiver, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    assert localobs("export", "--db", str(source.store.path), "--file", str(out)).returncode == 0
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [next(iter(line)) for line in lines] == [
        "resourceSpans",
        "resourceLogs",
        "resourceMetrics",
    ]
    span = lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
    assert len(span["spanId"]) == 16
    assert isinstance(span["startTimeUnixNano"], str)  # int64 as a string
    assert span["kind"] == 2  # enums as numbers
    big = next(kv for kv in span["attributes"] if kv["key"] == "int.big")
    assert big["value"] == {"intValue": str(2**62 + 1)}


COLLECTOR_LINE = (
    b'{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":'
    b'"collector-svc"}}]},"scopeSpans":[{"scope":{"name":"otelcol"},"spans":[{"traceId":'
    b'"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"",'
    b'"name":"op","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":'
    b'"1544712661000000000","attributes":[{"key":"n","value":{"intValue":"5"}}],"status":{}}]}]}'
    b"]}\n"
    b'{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[{"timeUnixNano":'
    b'"1544712660300000000","severityNumber":9,"body":{"stringValue":"hello"},"traceId":'
    b'"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}\n'
)


def test_import_reads_the_collector_file_exporter_output(tmp_path: Path) -> None:
    path = tmp_path / "collector.jsonl"
    path.write_bytes(COLLECTOR_LINE + b"\n" + b"not json at all\n")
    result = localobs("import", str(path), "--db", str(tmp_path / "c.db"))
    assert result.returncode == 1  # one line was unreadable, and it says which
    assert "line 4" in result.stderr
    conn = sqlite3.connect(tmp_path / "c.db")
    assert conn.execute(
        "SELECT trace_id, span_id, service_name, kind, attributes FROM spans"
    ).fetchall() == [
        ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "collector-svc", 2, '{"n":5}')
    ]
    assert conn.execute("SELECT body, trace_id FROM logs").fetchall() == [
        ('"hello"', "5b8efff798038103d269b633813fc60c")
    ]


def _exported_spans(db: Path, tmp_path: Path, *selection: str) -> list[str]:
    out = tmp_path / "selected.jsonl"
    result = localobs("export", "--db", str(db), "--file", str(out), *selection)
    assert result.returncode == 0, result.stderr
    names = []
    for line in out.read_bytes().splitlines():
        for envelope in orjson.loads(line).get("resourceSpans", []):
            for scoped in envelope["scopeSpans"]:
                names += [span["name"] for span in scoped["spans"]]
    return sorted(names)


def test_export_selects_by_trace_service_and_age(source: RunningReceiver, tmp_path: Path) -> None:
    fresh = trace_request(2, name_prefix="fresh", service="new-svc", start_ns=time.time_ns())
    response = httpx.post(
        f"{source.url}/v1/traces",
        content=fresh.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    db = source.store.path
    trace_id = fresh.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert _exported_spans(db, tmp_path, "--trace-id", trace_id) == ["fresh-0", "fresh-1"]
    assert _exported_spans(db, tmp_path, "--service", "b") == ["child", "root"]
    recent = _exported_spans(db, tmp_path, "--since", "1h")  # (the GenAI captures may be recent)
    assert {"fresh-0", "fresh-1"} <= set(recent) and not {"root", "child"} & set(recent)
    assert len(_exported_spans(db, tmp_path)) == 21
