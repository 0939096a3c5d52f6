"""Pydantic Logfire's real OpenAI instrumentation against llama.cpp's server, exporting to the real
receiver: a streamed call, which Logfire records as a request span plus a log span for the
stream, comes out as one call with the stream's answer and duration; finish reasons sent as one
JSON string come out as a list; the export gives back exactly the spans Logfire sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localobs.receiver import create_receiver_app
from localobs.receiver.anyvalue import attributes
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.calls import get_call, list_calls
from localobs.store.export import ExportFilter
from localobs.store.stats import totals
from localobs.transfer.export import requests
from tests.fixtures.genai.capture import llama_server
from tests.logfire_client import QUESTIONS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[str]]]:
    store = Store(tmp_path_factory.mktemp("store") / "localobs.db")
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store, max_body=16 << 20), "127.0.0.1", 0)
    server.start()
    refuse = "http://127.0.0.1:9"  # nothing listens: any other host fails
    env = {**os.environ, "HTTP_PROXY": refuse, "HTTPS_PROXY": refuse}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "LOGFIRE_SEND_TO_LOGFIRE": "false"}
    try:
        with llama_server(tmp_path_factory.mktemp("llama")) as llm_url:
            done = subprocess.run(
                [sys.executable, "-m", "tests.logfire_client", server.url, llm_url],
                capture_output=True,
                text=True,
                cwd=REPO,
                env=env,
                timeout=300,
            )
        assert done.returncode == 0, done.stderr[-3000:]
        yield store, json.loads(done.stdout.splitlines()[-1])["answers"]
    finally:
        server.stop()
        store.close()


def test_each_call_is_one_call_with_its_answer(sent: tuple[Store, list[str]]) -> None:
    store, answers = sent
    conn = store.reader()
    try:
        calls = sorted(list_calls(conn), key=lambda call: call.start_time_unix_nano)
        details = [get_call(conn, call.call_id) for call in calls]
        spans = conn.execute("SELECT count(*) FROM spans WHERE derived_from IS NULL").fetchone()[0]
        found = totals(conn, lambda: 2**62, None)
    finally:
        conn.close()
    # Logfire sent 6 spans: the plain call, two (request + stream log) per streamed call, and
    # the application's span; three calls come out.
    assert spans == 6
    assert [call.preview for call in calls] == list(QUESTIONS)
    assert found.calls == 3
    for detail, answer in zip(details, answers, strict=True):
        assert detail is not None
        assert detail.output_messages[0].parts[0].content == answer
        assert detail.finish_reasons and detail.finish_reasons[0] in ("stop", "length")
        assert detail.model == "smollm2"
    plain, streamed, nested = details
    assert plain is not None and streamed is not None and nested is not None
    assert plain.input_tokens is not None and plain.output_tokens is not None
    # llama.cpp's server reports no usage on streams: not reported, never counted twice.
    assert found.input_tokens == plain.input_tokens
    # The streamed call lasts as long as its stream did (Logfire's `duration`), not 0 s.
    for call in (streamed, nested):
        sent_duration = next(
            d
            for d in _log_durations(store)
            if d[0] == call.attributes.get("localobs.derived_from_span")
        )[1]
        assert call.duration_ms == pytest.approx(sent_duration * 1000, abs=0.01)
        assert call.duration_ms > 0
    # Inside an application span, the call hangs under it like the spans it came from.
    assert nested.parent_span_id is not None


def _log_durations(store: Store) -> list[tuple[str, float]]:
    conn = store.reader()
    try:
        rows = conn.execute(
            "SELECT span_id, json_extract(attributes, '$.duration') FROM spans"
            " WHERE json_extract(attributes, '$.\"logfire.span_type\"') = 'log'"
        ).fetchall()
    finally:
        conn.close()
    return [(span_id, float(duration)) for span_id, duration in rows]


def test_the_export_gives_back_logfire_s_spans_as_sent(sent: tuple[Store, list[str]]) -> None:
    store, _ = sent
    conn = store.reader()
    try:
        exported = [
            span
            for _, request in requests(conn, ExportFilter())
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
    finally:
        conn.close()
    assert len(exported) == 6  # the derived calls are not sent on
    logs = [attributes(span.attributes) for span in exported if span.start_time_unix_nano]
    finish = [a["gen_ai.response.finish_reasons"] for a in logs if "gen_ai.output.messages" in a]
    assert len(finish) == 3 and all(isinstance(value, str) for value in finish)  # as sent
