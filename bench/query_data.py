"""A realistic localobs database for the query benchmark: traces of ~10 spans, one LLM call each.

Rows go in through the store's own insert path (`BatchApplier`, 512 rows a transaction), so every
index, trigger and rollup the writer maintains is built exactly as at ingest. Times are spread
over the 24 h before `NOW_UNIX_NANO`; the benchmark's clock returns that instant.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from localobs.store.batch import Batch, Signal
from localobs.store.database import connect, prepare_database
from localobs.store.ingest import BatchApplier
from localobs.store.schema import METRIC_POINT_COLUMNS, SPAN_COLUMNS
from localobs.store.summaries import summarize_all

NOW_UNIX_NANO = 1_780_000_000 * 10**9
SPAN_OF_DATA_NS = 24 * 3600 * 10**9
SPANS_PER_TRACE = 10
ROWS_PER_BATCH = 512

# (request model, provider, weight, ms per output token, ms to first token)
MODELS = [
    ("gpt-4o-mini", "openai", 40, 12.0, 350.0),
    ("claude-3-5-haiku", "anthropic", 20, 15.0, 500.0),
    ("llama-3.1-8b-instruct", "llama.cpp", 20, 25.0, 120.0),
    ("SmolLM2-135M-Instruct", "llama.cpp", 15, 4.0, 30.0),
    ("mistral-small", "mistral_ai", 5, 18.0, 400.0),
]
SERVICES = ["session-bot", "support-agent", "summarizer"]
ERROR_TYPES = ["RateLimitError", "APITimeoutError", "InternalServerError"]
SYSTEM_PROMPTS = {
    "session-bot": "You are a helpful conference assistant. Answer briefly and cite sessions by "
    "title. Never invent sessions; say so when nothing matches the question.",
    "support-agent": "You are a support agent for a cloud hosting company. Be precise, ask for "
    "the ticket number when it is missing, and escalate outages to the on-call engineer.",
    "summarizer": "Summarize the document for an engineering audience in at most five bullet "
    "points. Keep numbers and names exact.",
}

_BASE_WORDS = (  # noqa: SIM905 (a paragraph reads better than 120 quoted words)
    "the a to of and in is for on with that this it you be are as can at by from have or your "
    "what how which when where should about cluster kubernetes service mesh latency tokens model "
    "session talk speaker schedule room keynote observability tracing metrics logs database "
    "query index cache memory disk network request response error timeout retry deploy release "
    "rollback incident outage ticket customer invoice billing account password login storage "
    "bucket region zone node pod container image registry pipeline build test coverage review "
    "security certificate token secret policy role permission audit compliance backup restore "
    "snapshot replica leader follower shard partition stream queue topic consumer producer "
    "schema migration table column row transaction lock deadlock vacuum analyze plan cost"
).split()


def _vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    """Real words first, then pseudo-words; Zipf weights, as in natural text."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = list(_BASE_WORDS)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(4, 10)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    cumulative, total = [], 0.0
    for rank in range(1, size + 1):
        total += 1.0 / rank
        cumulative.append(total)
    return words, cumulative


class _Text:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._words, self._cumulative = _vocabulary(rng)

    def sentence(self, words: int) -> str:
        chosen = self._rng.choices(self._words, cum_weights=self._cumulative, k=words)
        return " ".join(chosen).capitalize() + "."


def _span_row(**values: Any) -> tuple[Any, ...]:
    return tuple(values.get(column) for column in SPAN_COLUMNS)


def _attributes(values: dict[str, Any]) -> str:
    return orjson.dumps(values).decode()


class TraceMaker:
    """Builds one trace's span rows at a time, deterministically from the seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._text = _Text(self._rng)
        self._weights = [model[2] for model in MODELS]

    def _id(self, nbytes: int) -> str:
        return self._rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def _messages(self, service: str, number: int) -> tuple[str, str, str, str]:
        rng, text = self._rng, self._text
        turns = []
        for _ in range(rng.choice([0, 0, 1, 2])):
            turns.append(
                {"role": "user", "parts": [{"type": "text", "content": text.sentence(12)}]}
            )
            turns.append(
                {"role": "assistant", "parts": [{"type": "text", "content": text.sentence(20)}]}
            )
        question = text.sentence(rng.randint(25, 50))
        if rng.random() < 0.1:
            question += f" My ticket is TCK-{number:06d}."
        turns.append({"role": "user", "parts": [{"type": "text", "content": question}]})
        output: dict[str, Any] = {"role": "assistant", "parts": [], "finish_reason": "stop"}
        if rng.random() < 0.15:
            output["parts"].append(
                {
                    "type": "tool_call",
                    "id": f"call_{self._id(6)}",
                    "name": "search_sessions",
                    "arguments": {"query": text.sentence(4)},
                }
            )
            output["finish_reason"] = "tool_call"
        else:
            output["parts"].append({"type": "text", "content": text.sentence(rng.randint(40, 80))})
        system = [{"type": "text", "content": SYSTEM_PROMPTS[service]}]
        return (
            orjson.dumps(system).decode(),
            orjson.dumps(turns).decode(),
            orjson.dumps([output]).decode(),
            output["finish_reason"],
        )

    def trace(self, number: int, start: int) -> list[tuple[Any, ...]]:
        """Ten spans: request, agent, retrieval (+db), two tools (parallel, +http), chat (+http),
        render. The chat span is the LLM call; the agent run and the call carry a conversation
        id shared by three consecutive traces (turns)."""
        rng = self._rng
        service = SERVICES[number % len(SERVICES)]
        model, provider, _, ms_per_token, ttft = rng.choices(MODELS, weights=self._weights)[0]
        trace_id = self._id(16)
        ids = [self._id(8) for _ in range(SPANS_PER_TRACE)]
        failed = rng.random() < 0.03
        ms = 1_000_000
        input_tokens = rng.randint(80, 1200)
        output_tokens = 0 if failed else rng.randint(10, 400)
        ttft_ms = ttft * rng.uniform(0.5, 2.0)
        chat_ms = 5000.0 * rng.random() if failed else ttft_ms + output_tokens * ms_per_token
        retrieval_ms = rng.uniform(5, 80)
        tool_ms = [rng.uniform(20, 400), rng.uniform(10, 300)]
        tools_ms = max(tool_ms)
        t0 = start
        t_retr = t0 + int(2 * ms)
        t_tools = t_retr + int(retrieval_ms * ms) + ms
        t_chat = t_tools + int(tools_ms * ms) + ms
        t_render = t_chat + int(chat_ms * ms) + ms
        t_end = t_render + int(rng.uniform(1, 15) * ms)
        system, messages, output, finish = self._messages(service, number)
        http_attrs = _attributes(
            {
                "http.request.method": "POST",
                "url.path": "/v1/ask",
                "http.response.status_code": 500 if failed else 200,
                "server.address": "localhost",
                "server.port": 8080,
                "user_agent.original": "python-httpx/0.28.1",
                "client.address": "127.0.0.1",
            }
        )
        common = {"trace_id": trace_id, "service_name": service, "flags": 1}
        conversation = f"conv-{number // 3:06d}"  # a question and two follow-ups

        def span(index: int, parent: int | None, name: str, begin: int, end: int, **extra: Any):
            status = 2 if extra.pop("fails", False) and failed else 0
            extra.setdefault("kind", 1)
            return _span_row(
                **common,
                span_id=ids[index],
                parent_span_id=ids[parent] if parent is not None else None,
                name=name,
                start_time_unix_nano=begin,
                end_time_unix_nano=end,
                status_code=status,
                dropped_attributes_count=0,
                dropped_events_count=0,
                dropped_links_count=0,
                **extra,
            )

        chat_attrs = _attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.request.temperature": 0.2,
                "gen_ai.request.max_tokens": 512,
                "gen_ai.response.id": f"chatcmpl-{self._id(8)}",
                "gen_ai.response.finish_reasons": [finish],
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
                "server.address": "api.example.com",
                "server.port": 443,
            }
        )
        chat_end = t_chat + int(chat_ms * ms)
        return [
            span(0, None, "POST /v1/ask", t0, t_end, kind=2, attributes=http_attrs, fails=True),
            span(
                1,
                0,
                "invoke_agent planner",
                t0 + ms,
                t_render,
                span_role="agent",
                agent_name="planner",
                conversation_id=conversation,
                attributes=_attributes(
                    {"gen_ai.agent.name": "planner", "gen_ai.conversation.id": conversation}
                ),
                fails=True,
            ),
            span(
                2,
                1,
                "retrieve sessions",
                t_retr,
                t_retr + int(retrieval_ms * ms),
                span_role="retriever",
                attributes=_attributes({"db.system.name": "sqlite", "retrieval.top_k": 5}),
            ),
            span(
                3,
                2,
                "SELECT sessions",
                t_retr + ms // 2,
                t_retr + int(retrieval_ms * 0.8 * ms),
                kind=3,
                attributes=_attributes(
                    {
                        "db.system.name": "sqlite",
                        "db.query.text": "SELECT id, title FROM sessions WHERE embedding MATCH ?",
                    }
                ),
            ),
            span(
                4,
                1,
                "execute_tool search_web",
                t_tools,
                t_tools + int(tool_ms[0] * ms),
                span_role="tool",
                tool_name="search_web",
                tool_arguments='{"q": "sessions"}',
                tool_result="3 results",
                attributes=_attributes({"gen_ai.tool.name": "search_web"}),
            ),
            span(
                5,
                4,
                "GET",
                t_tools + ms,
                t_tools + int(tool_ms[0] * 0.9 * ms),
                kind=3,
                attributes=_attributes(
                    {"http.request.method": "GET", "url.full": "https://search.example.com/q"}
                ),
            ),
            span(
                6,
                1,
                "execute_tool calculator",
                t_tools + ms // 3,
                t_tools + int(tool_ms[1] * ms),
                span_role="tool",
                tool_name="calculator",
                attributes=_attributes({"gen_ai.tool.name": "calculator"}),
            ),
            span(
                7,
                1,
                f"chat {model}",
                t_chat,
                chat_end,
                kind=3,
                attributes=chat_attrs,
                fails=True,
                span_role="llm",
                operation="chat",
                conversation_id=conversation,
                provider=provider,
                request_model=model,
                response_model=None if failed else model,
                ttft_ms=None if failed else ttft_ms,
                input_tokens=input_tokens,
                output_tokens=None if failed else output_tokens,
                temperature=0.2,
                max_tokens=512,
                finish_reasons=None if failed else orjson.dumps([finish]).decode(),
                error_type=rng.choice(ERROR_TYPES) if failed else None,
                input_messages=messages,
                output_messages=None if failed else output,
                system_instructions=system,
                dialect="semconv",
            ),
            span(
                8,
                7,
                "POST /v1/chat/completions",
                t_chat + ms // 2,
                chat_end - ms // 2,
                kind=3,
                attributes=_attributes(
                    {"http.request.method": "POST", "url.full": "https://api.example.com/v1/chat"}
                ),
                fails=True,
            ),
            span(9, 0, "render answer", t_render, t_end - ms // 4, attributes=_attributes({})),
        ]


# Explicit bounds the GenAI semantic conventions advise for each histogram.
METRIC_BOUNDS: dict[str, list[float]] = {
    "gen_ai.client.operation.duration": [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ],
    "gen_ai.client.token.usage": [
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
    ],
    "gen_ai.client.operation.time_to_first_chunk": [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ],
}  # fmt: skip


def metric_rows(seed: int, interval_s: int = 60) -> Iterator[tuple[Any, ...]]:
    """Histogram points as the SDK exports them: every service every minute, one series per
    model (and token type). The first service exports delta temporality, the others cumulative."""
    rng = random.Random(seed)
    start = NOW_UNIX_NANO - SPAN_OF_DATA_NS
    exports = SPAN_OF_DATA_NS // (interval_s * 10**9)
    state: dict[tuple[Any, ...], list[int]] = {}
    for tick in range(1, exports + 1):
        now = start + tick * interval_s * 10**9
        for number, service in enumerate(SERVICES):
            temporality = 1 if number == 0 else 2
            for name, bounds in METRIC_BOUNDS.items():
                token_types = ["input", "output"] if name.endswith("token.usage") else [None]
                for model, provider, *_ in MODELS:
                    for token_type in token_types:
                        attributes = {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.provider.name": provider,
                            "gen_ai.request.model": model,
                        }
                        if token_type:
                            attributes["gen_ai.token.type"] = token_type
                        fresh = [0] * (len(bounds) + 1)
                        for _ in range(rng.randint(0, 4)):
                            fresh[min(len(bounds), int(rng.triangular(2, len(bounds), 6)))] += 1
                        key = (service, name, model, token_type)
                        counts = fresh if temporality == 1 else state.setdefault(key, fresh)
                        if counts is not fresh:
                            counts[:] = [a + b for a, b in zip(counts, fresh, strict=True)]
                        values = {
                            "name": name,
                            "unit": "{token}" if token_type else "s",
                            "type": "histogram",
                            "service_name": service,
                            "start_time_unix_nano": now - interval_s * 10**9
                            if temporality == 1
                            else start,
                            "time_unix_nano": now,
                            "attributes": _attributes(attributes),
                            "count": sum(counts),
                            "sum": float(sum(counts)),
                            "bucket_counts": orjson.dumps(counts).decode(),
                            "explicit_bounds": orjson.dumps(bounds).decode(),
                            "aggregation_temporality": temporality,
                            "flags": 0,
                        }
                        yield tuple(values.get(column) for column in METRIC_POINT_COLUMNS)


def summarize(path: Path) -> None:
    """The agents and conversations summaries, as the idle writer keeps them; a file from
    before them is upgraded first, and the time its backlog took is printed."""
    started = time.perf_counter()
    prepare_database(path)
    migrated = time.perf_counter()
    conn = connect(path)
    waiting = conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0]
    summarize_all(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    if waiting:
        print(
            f"opened (migrated) in {migrated - started:.1f} s; summarized {waiting} traces in"
            f" {time.perf_counter() - migrated:.1f} s",
            flush=True,
        )


def build(path: Path, traces: int, seed: int = 1, progress: bool = True) -> None:
    """Create the database at `path` with `traces` traces (10 spans each) and a day of metrics."""
    prepare_database(path)
    conn = connect(path)
    applier = BatchApplier(conn)
    maker = TraceMaker(seed)
    jitter = random.Random(seed + 1)
    step = SPAN_OF_DATA_NS // traces
    first = NOW_UNIX_NANO - SPAN_OF_DATA_NS
    batch: list[tuple[Any, ...]] = []
    batch_id = 0

    def flush(signal: Signal, rows: list[tuple[Any, ...]]) -> None:
        nonlocal batch_id
        batch_id += 1
        conn.execute("BEGIN")
        applier.apply(Batch(signal, f"bench-{batch_id}", rows).to_wire(batch_id))
        conn.execute("COMMIT")

    for number in range(traces):
        batch.extend(maker.trace(number, first + number * step + jitter.randrange(step)))
        if len(batch) >= ROWS_PER_BATCH:
            flush("traces", batch)
            batch = []
            if progress and batch_id % 200 == 0:
                print(f"  {number + 1} traces", flush=True)
    if batch:
        flush("traces", batch)
    points: list[tuple[Any, ...]] = []
    for row in metric_rows(seed):
        points.append(row)
        if len(points) >= 4096:
            flush("metrics", points)
            points = []
    if points:
        flush("metrics", points)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
