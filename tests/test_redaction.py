"""Credentials in telemetry are replaced at ingest: real SDK exporters over HTTP and gRPC, a real
`localobs up` with and without --no-redact, `info`, and exports that say what was redacted."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from localobs.receiver.grpc_server import GrpcReceiver
from localobs.receiver.redact import FORMATS, redact_text
from localobs.store.database import connect
from localobs.store.rollups import roll_up_all
from tests.conftest import RunningReceiver, start_localobs
from tests.test_grpc_up import free_port

# Built from parts so that this file holds no credential-shaped string a scanner would flag.
SECRETS: dict[str, str] = {
    "anthropic-key": "sk-" + "ant-api03-" + "Zq9" * 30 + "AA",
    "openrouter-key": "sk-" + "or-v1-" + "0f3a" * 16,
    "openai-key": "sk-" + "proj-" + "Xk2_" * 30 + "T3Blbk" + "FJ",
    "google-api-key": "AI" + "zaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    "groq-key": "gs" + "k_" + "W4q" * 18,
    "xai-key": "xa" + "i-" + "Pp7" * 26,
    "huggingface-token": "h" + "f_" + "aBcD" * 9,
    "stripe-key": "sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "github-token": "gh" + "p_" + "R2d2" * 9,
    "slack-token": "xo" + "xb-" + "1234567890-1234567890123-" + "abcd" * 6,
    "aws-access-key-id": "AK" + "IA" + "IOSFODNN7EXAMPL2",
    "aws-secret-key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
    "private-key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn\n"
    + "kZ+4Hb1Xk0bVHd7==\n-----END RSA PRIVATE KEY-----",
    "bearer-token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlMTIz",
    "url-password": "hunter2-Pa55",
}
KINDS = tuple(each.kind for each in FORMATS)
RESOURCE = Resource.create({"service.name": "agent", "deploy.webhook": SECRETS["slack-token"]})


def test_every_format_has_a_sample() -> None:
    assert set(SECRETS) == set(KINDS)


def emit(span_exporter: SpanExporter, log_exporter: LogExporter) -> None:
    """What a coding agent sends: a chat span whose prompt quotes a .env file, tool results in
    events, credentials in attributes, and log records quoting keys."""
    env_file = (
        f"OPENAI_API_KEY={SECRETS['openai-key']}\n"
        f"ANTHROPIC_API_KEY={SECRETS['anthropic-key']}\n"
        f"aws_secret_access_key = {SECRETS['aws-secret-key']}\n"
        f"DATABASE_URL=postgres://app:{SECRETS['url-password']}@db.internal:5432/app\n"
    )
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute(
            "gen_ai.input.messages",
            json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "Fix it:\n" + env_file}]}]
            ),
        )
        span.set_attribute(
            "gen_ai.output.messages",
            json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": "Found " + SECRETS["private-key"]}],
                        "finish_reason": "stop",
                    }
                ]
            ),
        )
        authorization = f"Bearer {SECRETS['bearer-token']}"
        span.set_attribute("http.request.header.authorization", [authorization])
        span.set_attribute("tool.env", [f"HF_TOKEN={SECRETS['huggingface-token']}", "DEBUG=1"])
        span.add_event("tool.result", {"output": f"key id {SECRETS['aws-access-key-id']} found"})
        span.add_event("tool.result", {"output": f"GROQ_API_KEY={SECRETS['groq-key']}"})
    provider.shutdown()

    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logging.getLogger("redaction-test")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    logger.addHandler(handler)
    try:
        logger.warning("retrying with %s", SECRETS["google-api-key"])
        logger.warning("user pasted: %s", SECRETS["xai-key"], extra={"key": SECRETS["stripe-key"]})
        logger.info("clone https://x:%s@github.com/o/r", SECRETS["github-token"])
        logger.info("OPENROUTER_API_KEY=%s", SECRETS["openrouter-key"])
    finally:
        logger.removeHandler(handler)
        logger_provider.shutdown()


def stored_text(db: Path) -> str:
    """Every value of every table (the full-text index's own tables included), as text."""
    conn = sqlite3.connect(db)
    try:
        tables = conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        ).fetchall()
        return "\n".join(
            value.decode("latin-1") if isinstance(value, bytes) else str(value)
            for (table,) in tables
            for row in conn.execute(f'SELECT * FROM "{table}"')
            for value in row
        )
    finally:
        conn.close()


def stored_as_is(kind: str, text: str) -> bool:
    """Whether the secret is in `text`, as it is or as JSON text (once or twice encoded)."""
    once = json.dumps(SECRETS[kind])[1:-1]
    return any(form in text for form in (SECRETS[kind], once, json.dumps(once)[1:-1]))


def localobs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localobs", *args], capture_output=True, text=True, timeout=120
    )


def info_json(db: Path) -> dict[str, Any]:
    result = localobs("info", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def grpc_url(receiver: RunningReceiver) -> Iterator[str]:
    server = GrpcReceiver(receiver.store, "127.0.0.1", 0, max_body=1 << 20)
    server.start()
    yield server.url
    server.stop(5)


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_credentials_are_replaced_by_a_mark_before_anything_is_stored(
    receiver: RunningReceiver, grpc_url: str, transport: str
) -> None:
    if transport == "http":
        emit(
            OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"),
            OTLPLogExporter(endpoint=f"{receiver.url}/v1/logs"),
        )
    else:
        emit(
            GrpcSpanExporter(endpoint=grpc_url, insecure=True),
            GrpcLogExporter(endpoint=grpc_url, insecure=True),
        )
    text = stored_text(receiver.store.path)
    assert [kind for kind in KINDS if stored_as_is(kind, text)] == []
    assert [kind for kind in KINDS if f"[redacted:{kind}]" not in text] == []
    # The context around a secret stays: what it was, where it was.
    assert "postgres://app:[redacted:url-password]@db.internal" in text
    assert "Bearer [redacted:bearer-token]" in text
    # Moved message content too: the call's columns hold the marks.
    conn = receiver.store.reader()
    (prompt,) = conn.execute("SELECT input_messages FROM llm_calls").fetchone()
    assert "OPENAI_API_KEY=[redacted:openai-key]\\n" in prompt

    # Counted as received: the resource's token came with each of the 5 requests (1 span, 4 logs).
    info = info_json(receiver.store.path)["redaction"]
    assert info["by_kind"] == dict.fromkeys(KINDS, 1) | {"slack-token": 5}
    assert info["credentials_redacted"] == len(KINDS) + 4
    assert info["unredacted_batches"] == 0
    text_info = localobs("info", "--db", str(receiver.store.path)).stdout
    replaced = f"on; {len(KINDS) + 4} credentials replaced (5 slack-token, 1 "
    assert f"redaction       {replaced}" in text_info


@pytest.mark.parametrize("how", ["--no-redact", "LOCALOBS_NO_REDACT"])
def test_no_redact_stores_credentials_as_sent_and_says_so(tmp_path: Path, how: str) -> None:
    db = tmp_path / "raw.db"
    grpc_port = free_port()
    listen = ("--grpc-port", str(grpc_port))
    if how == "--no-redact":
        running = start_localobs(db, *listen, "--no-redact")
    else:
        running = start_localobs(db, *listen, env={"LOCALOBS_NO_REDACT": "1"})
    try:
        emit(  # spans over HTTP, logs over gRPC: both listeners take the setting
            OTLPSpanExporter(endpoint=f"{running.url}/v1/traces"),
            GrpcLogExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True),
        )
        live = info_json(db)["redaction"]
        assert live["live_receiver_redacts"] is False
    finally:
        assert running.stop() == 0
    assert running.process.stdout is not None
    assert "redaction off (--no-redact)" in running.process.stdout.read()
    text = stored_text(db)
    assert [kind for kind in KINDS if not stored_as_is(kind, text)] == []
    assert "[redacted:" not in text
    info = info_json(db)["redaction"]
    assert info["credentials_redacted"] == 0
    assert info["unredacted_batches"] >= 2  # the spans' batch and the logs' batches
    assert "may hold credentials" in localobs("info", "--db", str(db)).stdout

    out = tmp_path / "raw.jsonl"
    exported = localobs("export", "--db", str(db), "--file", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "content NOT fully redacted" in exported.stdout
    for line in out.read_bytes().splitlines():
        assert json.loads(line)["localobs"]["contentRedacted"] is False
    # Importing goes through the same redaction, unless told otherwise.
    if how == "--no-redact":
        redacted, kept = tmp_path / "redacted.db", tmp_path / "kept.db"
        assert localobs("import", str(out), "--db", str(redacted)).returncode == 0
        assert localobs("import", str(out), "--db", str(kept), "--no-redact").returncode == 0
        assert [kind for kind in KINDS if stored_as_is(kind, stored_text(redacted))] == []
        assert [kind for kind in KINDS if not stored_as_is(kind, stored_text(kept))] == []


def test_exports_say_the_content_was_redacted_and_import_back_unchanged(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    emit(
        OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"),
        OTLPLogExporter(endpoint=f"{receiver.url}/v1/logs"),
    )
    out = tmp_path / "out.jsonl"
    exported = localobs("export", "--db", str(receiver.store.path), "--file", str(out))
    assert exported.returncode == 0, exported.stderr
    total = len(KINDS) + 4  # the resource's token counted with each request
    assert f"content redacted at ingest ({total} credentials replaced)" in exported.stdout
    lines = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert lines and all(
        line["localobs"] == {"contentRedacted": True, "credentialsRedacted": total}
        for line in lines
    )
    # The note is an unknown field to OTLP readers: importing stores the same rows, and the
    # marks match no format, so nothing is redacted (or counted) twice.
    again = tmp_path / "again.db"
    imported = localobs("import", str(out), "--db", str(again))
    assert imported.returncode == 0, imported.stderr
    assert info_json(again)["redaction"]["credentials_redacted"] == 0
    # Token estimates are filled by the rollups once rows settle (seconds): in both files now,
    # not in whichever the idle writer got to first.
    for path in (receiver.store.path, again):
        with contextlib.closing(connect(path)) as conn:
            roll_up_all(conn)
    for table in ("spans", "logs", "resources"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        original = sqlite3.connect(receiver.store.path).execute(query).fetchall()
        assert sqlite3.connect(again).execute(query).fetchall() == original


def test_escaped_json_is_redacted_and_a_retried_body_counts_once(
    receiver: RunningReceiver,
) -> None:
    # "sk-..." spelled with a \u escape: no literal in the body, still a key once decoded.
    escaped = "\\u0073" + SECRETS["openai-key"][1:]
    body = (
        '{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[{"body":'
        '{"stringValue":"key ' + escaped + '"}}]}]}]}'
    ).encode()
    for _ in range(2):
        response = httpx.post(
            f"{receiver.url}/v1/logs", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200
    conn = receiver.store.reader()
    assert conn.execute("SELECT body FROM logs").fetchall() == [('"key [redacted:openai-key]"',)]
    assert info_json(receiver.store.path)["redaction"]["by_kind"] == {"openai-key": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_each_format_is_found_in_plain_and_in_json_text(kind: str) -> None:
    """The stored columns are often JSON text (once or twice encoded): a mark replaces the same
    secret there and the text stays valid JSON."""
    text = f"config:\n{_in_context(kind)}\nend"
    counts: Counter[str] = Counter()
    plain = redact_text(text, counts)
    assert SECRETS[kind] not in plain and f"[redacted:{kind}]" in plain
    assert counts == {kind: 1}
    for encoded in (json.dumps(text), json.dumps(json.dumps({"content": text}))):
        redacted = redact_text(encoded, Counter())
        decoded = json.loads(redacted)
        if encoded.startswith('"{'):
            decoded = json.loads(decoded)["content"]
        assert decoded == plain
    assert redact_text(plain, counts) == plain and counts == {kind: 1}  # marks stay as they are


def _in_context(kind: str) -> str:
    secret = SECRETS[kind]
    if kind == "aws-secret-key":
        return f'{{"SecretAccessKey": "{secret}"}}'
    if kind == "bearer-token":
        return f"Authorization: Bearer {secret}"
    if kind == "url-password":
        return f"redis://default:{secret}@cache:6379/0"
    return secret


ORDINARY = [
    "Which sessions should I attend about service meshes and zero-trust networking?",
    "task-management-and-scheduling-overview-for-distributed-teams",  # "sk-" inside a word
    "trace 5b8efff798038103d269b633813fc60c span eee19b7ec3c1b174",
    "request 123e4567-e89b-12d3-a456-426614174000 and chatcmpl-0123456789abcdef",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "https://example.com:8443/search?q=a@b and mailto bob@example.com",
    "see https://docs.python.org/3/library/re.html#re.sub",
    "the bearer of bad news; Bearer authentication is described in RFC 6750",
    "ASIA PACIFIC REGION; AKIA is a prefix; sk-learn; xoxo; hf_hub_download",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
    '{"gen_ai.usage.input_tokens": 412, "secret_access_key_rotation": "every 90 days"}',
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_ids_and_uuids_are_left_alone(text: str) -> None:
    counts: Counter[str] = Counter()
    assert redact_text(text, counts) == text
    assert not counts
