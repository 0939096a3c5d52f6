"""What calls cost: the bundled dated price table and the user's override file, local models at
$0, unknown models unpriced (never guessed), a cost the client reports winning; per call, per
model, in the totals, per agent run and conversation, and in the trace compare. Calls are sent by
the real OpenTelemetry SDK to the real receiver."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace import Tracer

from localobs.cli import main
from localobs.store import stats
from localobs.store.agents import get_run, list_runs
from localobs.store.calls import get_call, list_calls
from localobs.store.conversations import get_conversation
from localobs.store.cost import (
    LOCAL,
    PRICE_TABLE,
    REPORTED,
    call_cost,
    cost_text,
    find_price,
    override_path,
    price_table,
)
from localobs.store.stats import totals
from localobs.store.store import Store
from localobs.store.trace_compare import compare_traces
from localobs.tui.context import ViewerContext
from localobs.tui.refresh import ReaderPool
from localobs.tui.screens.call_detail import facts_content
from localobs.tui.widgets.totals_bar import totals_content
from tests.conftest import RunningReceiver
from tests.query_rows import MS, T0, call, fold, span, submit
from tests.tui_sdk import chat_call, sdk_tracer

AS_OF = json.loads((Path(__file__).parent.parent / "localobs/store/prices.json").read_text())[
    "as_of"
]


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config directory of the test's own (no override file unless the test writes one)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    price_table.cache_clear()
    yield tmp_path / "config" / "localobs"
    price_table.cache_clear()


def test_exact_names_and_dated_or_prefixed_names_find_their_price() -> None:
    table = price_table()
    gpt_4o = find_price("gpt-4o", table)
    assert gpt_4o is not None and (gpt_4o.input, gpt_4o.output) == (2.5, 10.0)
    for name in ("gpt-4o-2024-08-06", "GPT-4o", "openai/gpt-4o", "gpt-4o-latest"):
        assert find_price(name, table) == gpt_4o, name
    sonnet = find_price("claude-sonnet-4-5-20250929", table)
    assert sonnet == find_price("claude-sonnet-4-5", table) and sonnet is not None
    assert find_price("gpt-4o-mini-2024-07-18", table) == find_price("gpt-4o-mini", table)
    assert find_price("mistral-large-2411", table) == find_price("mistral-large", table)


def test_an_unknown_model_is_unpriced_never_guessed() -> None:
    table = price_table()
    for name in ("gpt-4o-turbo-max", "gpt-4", "my-finetune", "claude", "", None):
        assert find_price(name, table) is None, name
    assert call_cost("openai", "gpt-4o-turbo-max", 100, 100) == (None, None)
    # A known model without any token counts has no cost either.
    assert call_cost("openai", "gpt-4o", None, None) == (None, None)


def test_prices_per_million_tokens_with_cache_reads_and_writes() -> None:
    assert call_cost("openai", "gpt-4o", 1_000_000, 100_000) == pytest.approx(
        (2.5 + 1.0, PRICE_TABLE)
    )
    # Input tokens include the cache reads (the conventions' rule): 600k fresh, 400k cached.
    cached = call_cost("openai", "gpt-4o", 1_000_000, 0, cache_read=400_000)
    assert cached == pytest.approx((0.6 * 2.5 + 0.4 * 1.25, PRICE_TABLE))
    # Anthropic counts cache tokens apart: more cache than input means input is the fresh part.
    apart = call_cost("anthropic", "claude-sonnet-4-5", 1000, 0, 1_000_000, 100_000)
    assert apart == pytest.approx(
        ((1000 * 3 + 1_000_000 * 0.3 + 100_000 * 3.75) / 1e6, PRICE_TABLE)
    )


def test_local_models_cost_nothing_and_a_reported_cost_wins() -> None:
    for provider, model in (
        ("ollama", "llama3.2"),
        ("llama.cpp", "whatever"),
        ("vllm", "Qwen/Qwen2.5-7B"),
        ("lmstudio", "phi-3"),
        (None, "/models/tiny.Q4_K_M.gguf"),
        (None, "SmolLM2-135M-Instruct"),
    ):
        assert call_cost(provider, model, 10, 10) == (0.0, LOCAL), (provider, model)
    assert call_cost("openai", "gpt-4o", 10, 10, reported=0.5) == (0.5, REPORTED)
    assert call_cost(None, "nobody-knows", None, None, reported=0.02) == (0.02, REPORTED)


def test_the_override_file_adds_and_overrides_prices_and_local_models(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    assert override_path() == config_dir / "prices.json"
    override_path().write_text(
        json.dumps(
            {
                "as_of": "2030-01-02",
                "models": {
                    "gpt-4o": {"input": 1.0, "output": 2.0},
                    "acme-large": {"input": 4, "output": 8, "cache_read": 1, "cache_write": 5},
                },
                "local": ["office-box-model"],
            }
        )
    )
    table = price_table()
    assert table.as_of == AS_OF  # the bundled table's date; each price carries its own
    added, bundled = find_price("acme-large", table), find_price("gpt-4o-mini", table)
    assert added is not None and added.as_of == "2030-01-02"
    assert bundled is not None and bundled.as_of == AS_OF
    assert cost_text(3.0, PRICE_TABLE, "gpt-4o") == "$3.00 (price table, as of 2030-01-02)"
    assert cost_text(None, None, "gpt-4o") == "— (no token counts reported)"
    assert cost_text(None, None, "acme-9000") == "— (no price known for this model)"
    assert call_cost("openai", "gpt-4o-2024-08-06", 1_000_000, 1_000_000) == pytest.approx(
        (3.0, PRICE_TABLE)
    )
    assert call_cost("acme", "acme-large", 1_000_000, 0) == pytest.approx((4.0, PRICE_TABLE))
    assert call_cost("openai", "office-box-model", 5, 5) == (0.0, LOCAL)
    assert find_price("gpt-4o-mini", table) is not None  # the bundled entries stay


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '["a list"]',
        '{"models": {"gpt-4o": {"input": "cheap", "output": 1}}}',
        '{"models": {"gpt-4o": {"input": -1, "output": 1}}}',
        '{"local": "ollama"}',
    ],
)
def test_a_bad_override_file_warns_and_keeps_the_bundled_table(
    config_dir: Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    config_dir.mkdir(parents=True)
    override_path().write_text(text)
    with caplog.at_level(logging.WARNING, logger="localobs.store.cost"):
        table = price_table()
    assert table.as_of == AS_OF
    gpt_4o = find_price("gpt-4o", table)
    assert gpt_4o is not None and gpt_4o.input == 2.5
    assert any(
        str(override_path()) in record.getMessage() and "bundled prices" in record.getMessage()
        for record in caplog.records
    )


def send_calls(tracer: Tracer) -> None:
    chat_call(tracer, "priced", "a", model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    chat_call(tracer, "unknown", "b", model="acme-9000")
    chat_call(tracer, "local", "c", model="llama3.2", attributes={"gen_ai.provider.name": "ollama"})
    chat_call(
        tracer,
        "reported",
        "d",
        model="claude-sonnet-4-5-20250929",
        attributes={"gen_ai.usage.cost": 0.25},
    )


GPT_4O_MINI = (1000 * 0.15 + 500 * 0.6) / 1e6


@pytest.fixture
def priced(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("costs") as tracer:
        send_calls(tracer)
    monkeypatch.setenv("LOCALOBS_DB", str(receiver.store.path))
    return receiver.store


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_calls_json_has_the_cost_and_its_source(priced: Store) -> None:
    rows = {row["preview"]: row for row in json.loads(run("calls", "--json"))}
    got = {preview: (row["cost_usd"], row["cost_source"]) for preview, row in rows.items()}
    assert got == {
        "priced": (pytest.approx(GPT_4O_MINI), PRICE_TABLE),
        "unknown": (None, None),
        "local": (0.0, LOCAL),
        "reported": (0.25, REPORTED),
    }
    table = run("calls").splitlines()
    assert table[0].split()[9] == "cost"
    assert "$0.25" in table[1] and "—" in table[3] and "$0.00045" in table[4]


def test_the_call_detail_says_where_its_cost_came_from(priced: Store, tmp_path: Path) -> None:
    with priced.reader() as conn:
        calls = {call.preview: get_call(conn, call.call_id) for call in list_calls(conn)}
    ctx = ViewerContext(ReaderPool(priced.reader), lambda: 0, UTC, None, tmp_path, None)
    try:
        lines = {
            preview: next(
                line for line in facts_content(detail, ctx).plain.splitlines() if "cost" in line
            )
            for preview, detail in calls.items()
            if detail is not None
        }
    finally:
        ctx.readers.close()
    assert lines["priced"].split() == [
        "cost",
        "$0.00045",
        "(price",
        "table,",
        "as",
        "of",
        f"{AS_OF})",
    ]
    assert lines["local"].split() == ["cost", "$0", "(local", "model)"]
    assert lines["reported"].split() == ["cost", "$0.25", "(reported", "by", "the", "client)"]
    assert lines["unknown"].split()[:2] == ["cost", "—"]


def test_totals_and_stats_price_each_model_and_count_the_unpriced(priced: Store) -> None:
    with priced.reader() as conn:
        found = totals(conn, time.time_ns, None)
    per_model = {m.model: (m.cost_usd, m.cost_source, m.unpriced_calls) for m in found.per_model}
    assert per_model == {
        "gpt-4o-mini": (pytest.approx(GPT_4O_MINI), PRICE_TABLE, 0),
        "acme-9000": (None, None, 1),
        # Local by its provider, though its name is in no list.
        "llama3.2": (0.0, LOCAL, 0),
        # The cost the client reported wins in totals too, never priced again from its tokens.
        "claude-sonnet-4-5-20250929": (0.25, REPORTED, 0),
    }
    assert found.cost_usd == pytest.approx(GPT_4O_MINI + 0.25)
    assert found.unpriced_calls == 1
    header = totals_content(found, "all").plain.splitlines()[0]
    assert header.endswith("cost $0.25, 1 of 4 calls unpriced")
    stats = json.loads(run("stats", "--json"))["totals"]
    assert (stats["cost_usd"], stats["unpriced_calls"]) == (pytest.approx(found.cost_usd), 1)
    text = run("stats").splitlines()
    assert text[1].startswith("cost $0.25, 1 of 4 calls unpriced (list prices as of ")
    rows = {line.split()[0]: line.split() for line in text[3:8]}
    assert rows["model"][4:8] == ["cache(r/w)", "out", "estimated", "cost"]
    assert rows["acme-9000"][7] == "—" and rows["llama3.2"][7] == "$0"
    assert rows["claude-sonnet-4-5-20250929"][7] == "$0.25"


def send_run(tracer: Tracer, conversation: str, models: list[str], tokens: int = 1000) -> str:
    with tracer.start_as_current_span("invoke_agent helper") as root:
        root.set_attributes(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "helper",
                "gen_ai.conversation.id": conversation,
            }
        )
        for model in models:
            chat_call(tracer, "q", "a", model=model, input_tokens=tokens, output_tokens=tokens)
        return format(root.get_span_context().span_id, "016x")


def test_agent_runs_and_conversations_sum_known_costs_and_count_unpriced_calls(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("agent") as tracer:
        priced = send_run(tracer, "c-1", ["gpt-4o", "gpt-4o-mini"])
        partly = send_run(tracer, "c-1", ["gpt-4o", "acme-9000"])
    gpt_4o = 1000 * (2.5 + 10) / 1e6
    mini = 1000 * (0.15 + 0.6) / 1e6
    with receiver.store.reader() as conn:
        runs = {run.run_id: run for run in list_runs(conn)}
        detail = get_run(conn, partly)
        conversation = get_conversation(conn, "c-1")
    assert (runs[priced].cost_usd, runs[priced].unpriced_calls) == (pytest.approx(gpt_4o + mini), 0)
    assert (runs[partly].cost_usd, runs[partly].unpriced_calls) == (pytest.approx(gpt_4o), 1)
    assert detail is not None
    steps = [(s.model, s.cost_usd, s.cost_source) for s in detail.steps if s.call_id is not None]
    assert steps == [("gpt-4o", pytest.approx(gpt_4o), PRICE_TABLE), ("acme-9000", None, None)]
    assert conversation is not None
    summary = conversation.summary
    assert (summary.cost_usd, summary.unpriced_calls) == (pytest.approx(2 * gpt_4o + mini), 1)
    assert [turn.unpriced_calls for turn in conversation.turns] == [0, 1]
    monkeypatch.setenv("LOCALOBS_DB", str(receiver.store.path))
    listed = {run["run_id"]: run for run in json.loads(run("agents", "--json"))}
    assert (listed[partly]["cost_usd"], listed[partly]["unpriced_calls"]) == (
        pytest.approx(gpt_4o),
        1,
    )
    assert "cost $0.0125, 1 of 2 calls unpriced" in run("agent", partly)
    listed_text = next(line for line in run("agents").splitlines() if partly in line)
    assert "≥$0.0125" in listed_text.split()  # at least that: one call had no price
    conversations = run("conversations").splitlines()
    assert conversations[0].split()[8] == "cost" and "≥$0.0258" in conversations[1].split()
    found = json.loads(run("conversation", "c-1", "--json"))
    assert (found["cost_usd"], found["unpriced_calls"]) == (pytest.approx(2 * gpt_4o + mini), 1)
    assert found["turns"][0]["calls"][1]["cost_source"] == PRICE_TABLE


def test_trace_compare_shows_cost_per_step_and_the_total_delta(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("agent") as tracer:
        send_run(tracer, "c-2", ["gpt-4o"], tokens=1000)
        send_run(tracer, "c-3", ["gpt-4o"], tokens=2000)
    with receiver.store.reader() as conn:
        traces = [call.trace_id for call in reversed(list_calls(conn))]
        found = compare_traces(conn, traces[0], traces[1])
    assert found is not None
    step = next(s for s in found.steps if s.a is not None and s.a.call_id is not None)
    assert step.cost_delta_usd == pytest.approx(1000 * 12.5 / 1e6)
    assert found.cost_delta_usd == pytest.approx(1000 * 12.5 / 1e6)
    db = str(receiver.store.path)
    document: dict[str, Any] = json.loads(run("compare", "--db", db, *traces, "--json"))
    assert document["cost_delta_usd"] == pytest.approx(0.0125)
    assert (document["cost_a_usd"], document["cost_b_usd"]) == (
        pytest.approx(0.0125),
        pytest.approx(0.025),
    )
    chat = next(s for s in document["steps"] if s["a"]["call_id"] is not None)
    assert chat["a"]["cost_source"] == PRICE_TABLE and chat["cost_delta_usd"] == pytest.approx(
        0.0125
    )
    tree = run("trace", "--db", db, traces[0]).splitlines()
    assert any(line.endswith("$0.0125") and "call " in line for line in tree)
    text = run("compare", "--db", db, *traces).splitlines()
    assert text[0].endswith("cost $0.0125 → $0.025 (+$0.0125)")
    assert text[1].split()[-6:] == ["A", "$", "B", "$", "Δ", "$"]
    assert text[3].split()[-3:] == ["$0.0125", "$0.025", "+$0.0125"]


def test_every_reported_cost_key_and_cache_counts_are_read_and_bad_values_ignored(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    sent: dict[str, dict[str, str | int | float]] = {
        "semconv": {"gen_ai.usage.cost": 0.5},
        "openllmetry": {"llm.usage.cost": 0.25},
        "claude code": {"cost_usd": 0.125},
        "cached": {"gen_ai.usage.cache_read.input_tokens": 600_000},
        "cached apart": {"gen_ai.usage.cache_read_input_tokens": 2_000_000},
        "text": {"gen_ai.usage.cost": "a lot"},
        "negative": {"gen_ai.usage.cost": -3.0},
        "not a number": {"cost_usd": float("nan")},
    }
    with sdk_tracer("costs") as tracer:
        for prompt, attributes in sent.items():
            chat_call(
                tracer, prompt, "a", model="gpt-4o", input_tokens=1_000_000, output_tokens=0,
                attributes=attributes,
            )  # fmt: skip
    with receiver.store.reader() as conn:
        got = {call.preview: (call.cost_usd, call.cost_source) for call in list_calls(conn)}
    assert got == {
        "semconv": (0.5, REPORTED),
        "openllmetry": (0.25, REPORTED),
        "claude code": (0.125, REPORTED),
        "cached": (pytest.approx(0.4 * 2.5 + 0.6 * 1.25), PRICE_TABLE),
        # More cache reads than input tokens: the input counted apart from them.
        "cached apart": (pytest.approx(2.5 + 2 * 1.25), PRICE_TABLE),
        # A cost that is no cost is ignored: the call is priced from the table instead.
        "text": (2.5, PRICE_TABLE),
        "negative": (2.5, PRICE_TABLE),
        "not a number": (2.5, PRICE_TABLE),
    }


def test_no_calls_cost_nothing_rather_than_an_unknown(store: Store) -> None:
    with store.reader() as conn:
        found = totals(conn, time.time_ns, None)
    assert (found.cost_usd, found.unpriced_calls) == (0, 0)
    assert totals_content(found, "all").plain.splitlines()[0].endswith("cost $0")


def test_cache_tokens_are_counted_apart_per_source() -> None:
    """Inside the input count by the GenAI conventions (and OpenAI's, Gemini's, Codex's own
    reports); apart in Anthropic's own usage report, which a call built from Claude Code's
    events keeps; apart whatever the source when they exceed the input count."""
    inside = call_cost("anthropic", "claude-sonnet-4-5", 6000, 0, cache_read=5000)
    assert inside == pytest.approx(((1000 * 3 + 5000 * 0.3) / 1e6, PRICE_TABLE))
    apart = call_cost("anthropic", "claude-sonnet-4-5", 6000, 0, cache_read=5000, derived=True)
    assert apart == pytest.approx(((6000 * 3 + 5000 * 0.3) / 1e6, PRICE_TABLE))
    # An OpenAI call derived from Codex's events: its input count includes its cache reads.
    codex = call_cost("openai", "gpt-4o", 6000, 0, cache_read=5000, derived=True)
    assert codex == pytest.approx(((1000 * 2.5 + 5000 * 1.25) / 1e6, PRICE_TABLE))


def _cost_rows() -> list[tuple[Any, ...]]:
    return [
        # A coding agent's call: the cost it reported, tokens counted apart (Anthropic's report).
        call(1, 1, 0, 100, model="claude-sonnet-4-5", provider="anthropic", input_tokens=10,
             output_tokens=200, cache_read_tokens=40_000, cache_write_tokens=2000,
             reported_cost_usd=0.0123, derived_from="logs"),
        # The same model from a span without a reported cost: priced, cache reads included.
        call(2, 2, 10, 100, model="claude-sonnet-4-5", provider="anthropic", input_tokens=50_000,
             output_tokens=1000, cache_read_tokens=40_000),
        call(3, 3, 20, 100, model="gpt-4o", input_tokens=1_000_000, output_tokens=0,
             cache_read_tokens=600_000),
    ]  # fmt: skip


SONNET_PRICED = (10_000 * 3 + 1000 * 15 + 40_000 * 0.3) / 1e6
GPT_4O_CACHED = (400_000 * 2.5 + 600_000 * 1.25) / 1e6


def test_totals_sum_reported_costs_and_price_cache_tokens_from_rows_and_rollups(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(store, _cost_rows())
    fold(store)
    with store.reader() as conn:
        calls = {c.span_id[-1]: (c.cost_usd, c.cost_source) for c in list_calls(conn)}
        exact = totals(conn, time.time_ns, None)
        monkeypatch.setattr(stats, "EXACT_LIMIT", 1)
        rolled = totals(conn, time.time_ns, None)
    assert calls == {
        "1": (0.0123, REPORTED),
        "2": (pytest.approx(SONNET_PRICED), PRICE_TABLE),
        "3": (pytest.approx(GPT_4O_CACHED), PRICE_TABLE),
    }
    assert not rolled.exact_percentiles
    for found in (exact, rolled):
        per_model = {
            m.model: (m.cost_usd, m.cost_source, m.unpriced_calls) for m in found.per_model
        }
        assert per_model == {
            # A reported cost plus the table's price of the other call: priced by the table.
            "claude-sonnet-4-5": (pytest.approx(0.0123 + SONNET_PRICED), PRICE_TABLE, 0),
            "gpt-4o": (pytest.approx(GPT_4O_CACHED), PRICE_TABLE, 0),
        }
        assert found.cost_usd == pytest.approx(0.0123 + SONNET_PRICED + GPT_4O_CACHED)


def test_a_model_whose_every_call_reported_its_cost_is_labelled_reported(store: Store) -> None:
    """Even a model with no price in the table: the client's own figure is the cost."""
    submit(
        store,
        [
            call(1, 1, 0, 100, model="claude-next"),
            call(2, 2, 10, 100, model="claude-next", reported_cost_usd=0.5, derived_from="logs"),
            call(3, 3, 20, 100, model="claude-next", reported_cost_usd=0.25, derived_from="logs"),
        ],
    )
    with store.reader() as conn:
        found = totals(conn, time.time_ns, None)
        only_reported = totals(conn, lambda: T0 + 25 * MS, 0.02)  # the last two
    (model,) = found.per_model
    assert (model.cost_usd, model.cost_source, model.unpriced_calls) == (0.75, REPORTED, 1)
    assert found.cost_usd == 0.75 and found.unpriced_calls == 1
    (model,) = only_reported.per_model
    assert (model.calls, model.cost_usd, model.cost_source, model.unpriced_calls) == (
        2,
        0.75,
        REPORTED,
        0,
    )


def test_agent_runs_and_conversations_count_a_reported_cost_column(store: Store) -> None:
    """A coding agent's calls carry the cost it reported in their row (its event mapper fills
    `reported_cost_usd`): runs and conversations sum it beside the table's prices."""
    run = span(
        9,
        100,
        "invoke_agent coder",
        0,
        1000,
        span_role="agent",
        agent_name="coder",
        conversation_id="c-9",
    )
    submit(
        store,
        [
            run,
            call(9, 101, 10, 100, parent=100, model="claude-next", conversation_id="c-9",
                 reported_cost_usd=0.5, derived_from="logs"),
            call(9, 102, 200, 100, parent=100, model="gpt-4o", conversation_id="c-9",
                 input_tokens=1000, output_tokens=1000),
        ],
    )  # fmt: skip
    gpt_4o = 1000 * (2.5 + 10) / 1e6
    with store.reader() as conn:
        runs = list_runs(conn)
        conversation = get_conversation(conn, "c-9")
    assert [(r.cost_usd, r.unpriced_calls) for r in runs] == [(pytest.approx(0.5 + gpt_4o), 0)]
    assert conversation is not None
    assert (conversation.summary.cost_usd, conversation.summary.unpriced_calls) == (
        pytest.approx(0.5 + gpt_4o),
        0,
    )
