"""The rules of token estimates and of what totals count, on rows stored by the real writer and
folded as the idle writer folds them: an estimate only where a count was not reported, never
added to reported sums, dropped when the count arrives late, the same from rollups as from raw
rows; estimated tokens are never priced for a cloud model. (End to end with llama.cpp's server:
test_token_estimates_llama.py.)"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson
import pytest

from localobs.store import Store, stats
from localobs.store.calls import list_calls
from localobs.store.contents import MESSAGES_SQL
from localobs.store.cost import LOCAL, PRICE_TABLE
from localobs.store.database import connect
from localobs.store.rollups import BEFORE_COLUMNS, call_changed
from localobs.store.stats import Totals, totals
from localobs.store.token_estimate import METHOD, estimate_tokens, text_tokens
from localobs.tui import format as fmt
from localobs.tui.app import LocalobsApp
from localobs.tui.widgets.calls_table import CallsTable
from tests.query_rows import MS, T0, call, fold, messages, submit
from tests.tui_pilot import wait_until

PROMPT = "What is the weather in Paris, today?"  # 9 words and marks
ANSWER = "Sunny, 21 C."  # 5
# The prompt's one message, its framing and the answer's priming: 9 + 5 + 5.
PROMPT_ESTIMATE = 19


def clock() -> int:
    return T0 + 3_600_000 * MS


def test_the_method_counts_words_and_marks_plus_each_message_framing() -> None:
    assert text_tokens(PROMPT) == 9 and text_tokens(ANSWER) == 5
    system = orjson.dumps([{"type": "text", "content": "Be terse."}]).decode()
    two = orjson.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
            {"role": "assistant", "parts": [{"type": "text", "content": ANSWER}]},
        ]
    ).decode()
    # Three messages (the system instructions count as one): 3 + 9 + 5 words, 3 x 5 + 5 framing.
    found = estimate_tokens(None, None, two, messages("assistant", ANSWER), system)
    assert found == (3 + 9 + 5 + 3 * 5 + 5, 5, METHOD)
    # A reported direction is never estimated; nothing stored, nothing estimated.
    assert estimate_tokens(12, None, two, messages("assistant", ANSWER), None) == (None, 5, METHOD)
    assert estimate_tokens(None, None, None, None, None) == (None, None, None)
    assert estimate_tokens(None, 3, two, None, None).output is None


def _calls() -> list[tuple[Any, ...]]:
    return [
        # Both counts reported: never estimated.
        call(1, 1, 0, 100, prompt=PROMPT, answer=ANSWER, input_tokens=40, output_tokens=30),
        # A stream with no usage at all.
        call(2, 2, 1000, 100, prompt=PROMPT, answer=ANSWER, input_tokens=None, output_tokens=None),
        # Input reported, output not: only the output estimated.
        call(3, 3, 2000, 100, prompt=PROMPT, answer=ANSWER, input_tokens=50, output_tokens=None),
        # No usage and no content stored: nothing to estimate from.
        call(4, 4, 3000, 100, input_tokens=None, output_tokens=None, input_messages=None,
             output_messages=None),
    ]  # fmt: skip


def _figures(found: Totals) -> tuple[int, ...]:
    return (
        found.calls,
        found.input_tokens,
        found.output_tokens,
        found.calls_with_usage,
        found.estimated_calls,
        found.input_tokens_estimate,
        found.output_tokens_estimate,
    )


def test_estimates_fill_only_what_was_not_reported_and_never_join_reported_sums(
    store: Store,
) -> None:
    submit(store, _calls())
    with store.reader() as conn:
        before = {c.call_id: c.token_estimate_method for c in list_calls(conn)}
    assert set(before.values()) == {None}  # not folded yet: "not reported", no estimate yet
    fold(store)
    with store.reader() as conn:
        calls = {c.span_id[-1]: c for c in list_calls(conn)}
        stored = conn.execute(
            "SELECT span_id, input_tokens, input_tokens_estimate, output_tokens_estimate"
            " FROM spans ORDER BY span_id"
        ).fetchall()
        found = totals(conn, clock, None)
    got = {
        key: (c.input_tokens, c.output_tokens, c.input_tokens_estimate, c.output_tokens_estimate)
        for key, c in calls.items()
    }
    assert got == {
        "1": (40, 30, None, None),
        "2": (None, None, PROMPT_ESTIMATE, 5),
        "3": (50, None, None, 5),
        "4": (None, None, None, None),
    }
    assert [c.token_estimate_method for _, c in sorted(calls.items())] == [
        None,
        METHOD,
        METHOD,
        None,
    ]
    # The reported count is kept as it came, with no estimate beside it in the row.
    assert [row[1:3] for row in stored] == [(40, None), (None, PROMPT_ESTIMATE), (50, None),
                                            (None, None)]  # fmt: skip
    # Reported sums hold only reported counts; 2 of 4 calls estimated, their estimates apart.
    assert _figures(found) == (4, 90, 30, 1, 2, PROMPT_ESTIMATE, 10)


def test_totals_from_rollups_equal_totals_from_rows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(store, _calls())
    fold(store)
    with store.reader() as conn:
        exact = totals(conn, clock, None)
        monkeypatch.setattr(stats, "EXACT_LIMIT", 1)
        rolled = totals(conn, clock, None)
    assert exact.exact_percentiles and not rolled.exact_percentiles
    assert _figures(rolled) == _figures(exact) == (4, 90, 30, 1, 2, PROMPT_ESTIMATE, 10)


def test_a_count_reported_late_wins_over_the_estimate(store: Store) -> None:
    """Usage that a log event brings after the call was folded (and estimated) replaces the
    estimate: in the row, in the call, and in the rolled-up totals."""
    submit(store, _calls()[1:2])
    fold(store)
    writer = connect(store.path)
    before = dict(
        zip(
            (*BEFORE_COLUMNS, "input_messages", "output_messages", "system_instructions"),
            writer.execute(f"SELECT {', '.join(BEFORE_COLUMNS)}, {MESSAGES_SQL} FROM spans")
            .fetchone(),
            strict=True,
        )
    )  # fmt: skip
    assert (before["input_tokens_estimate"], before["output_tokens_estimate"]) == (
        PROMPT_ESTIMATE,
        5,
    )
    # What the GenAI log-event join does: fill the columns, then report the change.
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE spans SET output_tokens = 7")
    call_changed(writer, 1, before)
    writer.execute("COMMIT")
    writer.close()
    with store.reader() as conn:
        (found,) = list_calls(conn)
        row = conn.execute("SELECT output_tokens_estimate FROM spans").fetchone()
        exact = totals(conn, clock, None)
    assert (found.output_tokens, found.output_tokens_estimate) == (7, None)
    assert not found.output_tokens_estimated and found.input_tokens_estimated
    assert row == (None,)
    assert _figures(exact) == (1, 0, 7, 1, 1, PROMPT_ESTIMATE, 0)


def test_estimated_tokens_are_never_priced_but_a_local_model_still_costs_nothing(
    store: Store,
) -> None:
    submit(
        store,
        [
            call(1, 1, 0, 100, model="gpt-4o", input_tokens=None, output_tokens=None),
            call(
                2,
                2,
                10,
                100,
                model="llama3.2",
                provider="ollama",
                input_tokens=None,
                output_tokens=None,
            ),
        ],
    )
    fold(store)
    with store.reader() as conn:
        calls = {c.model: c for c in list_calls(conn)}
        found = totals(conn, clock, None)
    assert calls["gpt-4o"].input_tokens_estimated
    assert (calls["gpt-4o"].cost_usd, calls["gpt-4o"].cost_source) == (None, None)
    assert (calls["llama3.2"].cost_usd, calls["llama3.2"].cost_source) == (0.0, LOCAL)
    per_model = {m.model: (m.cost_usd, m.cost_source, m.unpriced_calls) for m in found.per_model}
    assert per_model == {"gpt-4o": (None, None, 1), "llama3.2": (0.0, LOCAL, 0)}
    assert PRICE_TABLE not in {source for _, source, _ in per_model.values()}


def test_the_viewer_marks_an_estimate_with_a_tilde_and_never_mixes_it_with_a_count() -> None:
    assert fmt.tokens_in_out(None, None, 28, 8) == "~28→~8"
    assert fmt.tokens_in_out(40, None, 28, 8) == "40→~8"  # the reported count wins
    assert fmt.tokens_in_out(None, None) == f"{fmt.MISSING}→{fmt.MISSING}"
    assert fmt.count_or_estimate(None, 12_345) == "~12.3k"


async def test_the_calls_screen_shows_the_estimate_and_how_many_calls_have_one(
    store: Store,
) -> None:
    submit(store, _calls())
    fold(store)
    app = LocalobsApp(store, clock=clock, tz=UTC)
    async with app.run_test(size=(160, 30)) as pilot:
        screen = app.screen
        table = screen.query_one(CallsTable)
        await wait_until(pilot, lambda: table.row_count == 4)
        await wait_until(pilot, lambda: "4 calls" in str(screen.query_one("#totals").render()))
        rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(4)]
        header = str(screen.query_one("#totals").render()).splitlines()[0]
    tokens = [next(cell for cell in row if "→" in cell).strip() for row in rows]
    # Newest first: no content, output only, nothing reported, both reported.
    assert tokens == [
        f"{fmt.MISSING}→{fmt.MISSING}",
        "50→~5",
        f"~{PROMPT_ESTIMATE}→~5",
        "40→30",
    ]
    assert f"tok 90→30 +~{PROMPT_ESTIMATE}→~10 est. (2 of 4 calls estimated)" in header
