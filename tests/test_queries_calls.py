"""The calls list, live increments, one call in full, and the change checks a viewer polls."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from localobs.store import Store
from localobs.store.calls import CallFilter, Part, calls_after, get_call, list_calls
from localobs.store.changes import data_version, latest_call_id
from tests.conftest import RunningReceiver
from tests.query_rows import call, fold, messages, span, submit
from tests.tui_sdk import sdk_tracer


def _ids(calls: list) -> list[int]:
    return [found.call_id for found in calls]


def test_pages_are_disjoint_consecutive_and_newest_first(store: Store) -> None:
    rows = [call(n, n, start_ms=n * 10, duration_ms=5) for n in range(1, 24)]
    # Two calls starting at the same instant: the call_id breaks the tie, no page skips one.
    rows += [
        call(100, 100, start_ms=115, duration_ms=5),
        call(101, 101, start_ms=115, duration_ms=5),
    ]
    submit(store, rows)
    conn = store.reader()
    everything = list_calls(conn, limit=1000)
    assert len(everything) == 25
    keys = [(c.start_time_unix_nano, c.call_id) for c in everything]
    assert keys == sorted(keys, reverse=True)

    pages, before = [], None
    while True:
        page = list_calls(conn, limit=7, before=before)
        if not page:
            break
        pages.append(page)
        before = (page[-1].start_time_unix_nano, page[-1].call_id)
    assert [len(page) for page in pages] == [7, 7, 7, 4]
    assert [call_id for page in pages for call_id in _ids(page)] == _ids(everything)


def test_each_filter_narrows_the_list(store: Store) -> None:
    submit(
        store,
        [
            call(1, 1, 0, 100, prompt="1", model="gpt-4o", service="api"),
            call(2, 2, 10, 2500, prompt="2", model="gpt-4o", service="worker", status=2),
            call(3, 3, 20, 300, prompt="3", model="llama", response_model="llama-3.1-8b-q4"),
            call(4, 4, 30, 400, prompt="4", model="llama", error_type="RateLimitError"),
            call(5, 5, 40, 50, prompt="5", model="embed", operation="embeddings"),
            span(6, 6, "not a call", 50, 5000),
        ],
    )
    conn = store.reader()

    def found(**fields: object) -> set[str]:
        return {c.preview for c in list_calls(conn, CallFilter(**fields))}  # type: ignore[arg-type]

    assert found() == {"1", "2", "3", "4", "5"}
    assert found(model="GPT-4O") == {"1", "2"}
    # The requested model matches even when another one answered.
    assert found(model="llama") == {"3", "4"}
    assert found(model="llama-3.1-8b-q4") == {"3"}
    assert found(service="WORKER") == {"2"}
    assert found(service="svc") == {"3", "4", "5"}
    assert found(operation="embeddings") == {"5"}
    assert found(errors_only=True) == {"2", "4"}
    assert found(min_duration_ms=300) == {"2", "3", "4"}
    assert found(since_unix_nano=list_calls(conn)[1].start_time_unix_nano) == {"4", "5"}
    assert found(service="svc", errors_only=True, model="llama") == {"4"}


@pytest.mark.parametrize("folded", [False, True], ids=["newest-rows", "text-index"])
def test_text_search_matches_words_in_prompts_and_completions(store: Store, folded: bool) -> None:
    submit(
        store,
        [
            call(
                1, 1, 0, 10, prompt="How do I resize a Kubernetes cluster?", answer="Use kubectl."
            ),
            call(2, 2, 10, 10, prompt="Where is the café?", answer="Downstairs, next to room B"),
            call(
                3,
                3,
                20,
                10,
                prompt="weather",
                output_messages=json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [
                                {
                                    "type": "tool_call",
                                    "id": "call_1",
                                    "name": "get_weather",
                                    "arguments": {"city": "Lisbon"},
                                }
                            ],
                        }
                    ]
                ),
            ),
            call(4, 4, 30, 10, prompt="user", answer="assistant", system_instructions=None),
        ],
    )
    if folded:
        fold(store)
    conn = store.reader()

    def found(text: str) -> list[str]:
        return sorted(c.preview for c in list_calls(conn, CallFilter(text=text)))

    assert found("kubernetes") == ["How do I resize a Kubernetes cluster?"]
    assert found("KUBERN") == ["How do I resize a Kubernetes cluster?"]  # a word prefix
    assert found("cluster kubectl") == ["How do I resize a Kubernetes cluster?"]  # every word
    assert found("cluster downstairs") == []
    assert found("cafe") == ["Where is the café?"]  # accents ignored
    assert found("room b") == ["Where is the café?"]
    assert found("lisbon") == ["weather"]  # tool call arguments are searched
    assert found("ubernetes") == []  # words match from their start
    # Role names are structure, not content: only the call that says them matches.
    assert found("assistant") == ["user"]
    assert found("resize cluster") == found("resize, cluster!")


def test_text_search_finds_calls_on_both_sides_of_the_watermark(store: Store) -> None:
    submit(store, [call(1, 1, 0, 10, prompt="deploy the canary")])
    fold(store)
    submit(store, [call(2, 2, 10, 10, prompt="deploy to production")])
    conn = store.reader()
    assert [c.preview for c in list_calls(conn, CallFilter(text="deploy"))] == [
        "deploy to production",
        "deploy the canary",
    ]
    assert len(list_calls(conn, CallFilter(text="canary"))) == 1


def test_calls_after_returns_newer_calls_oldest_first(store: Store) -> None:
    submit(store, [call(n, n, n, 5, model="a" if n % 2 else "b") for n in range(1, 6)])
    conn = store.reader()
    first = latest_call_id(conn)
    submit(store, [call(n, n, n, 5, model="a" if n % 2 else "b") for n in range(6, 12)])
    newer = calls_after(conn, first)
    assert [c.start_time_unix_nano for c in newer] == sorted(c.start_time_unix_nano for c in newer)
    assert len(newer) == 6 and all(c.call_id > first for c in newer)
    assert len(calls_after(conn, first, limit=4)) == 4
    assert {c.model for c in calls_after(conn, first, CallFilter(model="a"))} == {"a"}
    assert calls_after(conn, latest_call_id(conn)) == []


def test_get_call_returns_messages_parts_parameters_and_timings(store: Store) -> None:
    tool_turns = json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Lisbon?"}]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": "c1",
                        "name": "get_weather",
                        "arguments": {"city": "Lisbon"},
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "c1", "response": "21 C, sunny"}],
            },
        ]
    )
    submit(
        store,
        [
            call(
                1,
                1,
                0,
                1000,
                ttft_ms=200.0,
                output_tokens=40,
                temperature=0.2,
                top_p=0.9,
                max_tokens=256,
                finish_reasons='["stop"]',
                input_messages=tool_turns,
                output_messages=messages("assistant", "It is sunny, 21 C.", "stop"),
                system_instructions='[{"type": "text", "content": "Be brief."}]',
                attributes={
                    "llama_cpp.prompt_tokens_per_s": 812.5,
                    "gen_ai.response.id": "x",
                    "localobs.moved": {"gen_ai.input.messages": "in"},
                },
            ),
            span(1, 2, "parent", 0, 2000),
        ],
    )
    conn = store.reader()
    (summary,) = list_calls(conn)
    detail = get_call(conn, summary.call_id)
    assert detail is not None
    assert detail.preview == summary.preview == "Weather in Lisbon?"
    assert detail.duration_ms == 1000 and detail.ttft_ms == 200
    assert detail.output_tokens_per_s == pytest.approx(40 / 0.8)
    assert (detail.temperature, detail.top_p, detail.max_tokens) == (0.2, 0.9, 256)
    assert detail.finish_reasons == ["stop"]
    assert [m.role for m in detail.input_messages] == ["user", "assistant", "tool"]
    assert detail.input_messages[1].parts == (
        Part("tool_call", name="get_weather", id="c1", arguments='{"city":"Lisbon"}'),
    )
    assert detail.input_messages[2].parts == (Part("tool_call_response", "21 C, sunny", id="c1"),)
    assert detail.output_messages[0].finish_reason == "stop"
    assert detail.output_messages[0].parts[0].content == "It is sunny, 21 C."
    assert detail.system_instructions == [Part("text", "Be brief.")]
    assert "localobs.moved" not in detail.attributes
    assert detail.attributes["gen_ai.response.id"] == "x"
    assert detail.extra_timings == {"llama_cpp.prompt_tokens_per_s": 812.5}
    assert get_call(conn, summary.call_id + 1) is None  # the plain span is no call


def test_latest_call_id_and_data_version_see_new_commits(store: Store) -> None:
    conn = store.reader()
    assert latest_call_id(conn) == 0
    version = data_version(conn)
    submit(store, [call(1, 1, 0, 5)])
    assert data_version(conn) != version
    first = latest_call_id(conn)
    assert first > 0
    # Far more plain spans than the recent rows looked at first: still found.
    submit(store, [span(2, n, "step", n, 1) for n in range(2, 1500)])
    assert latest_call_id(conn) == first
    submit(store, [call(3, 3, 0, 5)])
    assert latest_call_id(conn) > first


@pytest.fixture
def sdk(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> RunningReceiver:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    return receiver


def test_calls_from_the_sdk_are_listed_searched_and_shown(sdk: RunningReceiver) -> None:
    with sdk_tracer("shop") as tracer:
        for prompt, model, fails in [
            ("Which sessions cover service meshes?", "llama-3.1-8b", False),
            ("Summarize the keynote", "gpt-4o-mini", True),
        ]:
            with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as chat:
                chat.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": model,
                        "gen_ai.usage.input_tokens": 31,
                        "gen_ai.input.messages": messages("user", prompt),
                    }
                )
                if fails:
                    chat.set_attribute("error.type", "RateLimitError")
                    chat.set_status(StatusCode.ERROR)
                else:
                    chat.set_attributes(
                        {
                            "gen_ai.response.model": model,
                            "gen_ai.usage.output_tokens": 9,
                            "gen_ai.output.messages": messages("assistant", "Two talks.", "stop"),
                        }
                    )
    conn = sdk.store.reader()
    listed = list_calls(conn)
    assert [c.preview for c in listed] == [
        "Summarize the keynote",
        "Which sessions cover service meshes?",
    ]
    failed, ok = listed
    assert (failed.service_name, failed.model, failed.error_type) == (
        "shop",
        "gpt-4o-mini",
        "RateLimitError",
    )
    assert (ok.input_tokens, ok.output_tokens, ok.operation) == (31, 9, "chat")
    assert _ids(list_calls(conn, CallFilter(text="meshes"))) == [ok.call_id]
    assert _ids(list_calls(conn, CallFilter(errors_only=True))) == [failed.call_id]
    detail = get_call(conn, ok.call_id)
    assert detail is not None
    assert detail.output_messages[0].parts[0].content == "Two talks."
    assert detail.resource_attributes["service.name"] == "shop"
