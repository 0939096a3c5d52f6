"""Totals, latency percentiles, slow components and activity, on data with hand-computed answers,
read from raw rows and from the rollups the idle writer folds them into."""

from __future__ import annotations

import pytest

from localobs.store import Store, stats
from localobs.store.call_filter import CallFilter
from localobs.store.calls import list_calls
from localobs.store.components import component_stats
from localobs.store.contents import MESSAGES_SQL
from localobs.store.database import connect
from localobs.store.histogram import BUCKETS_PER_DOUBLING, bucket_percentile, exact_percentile
from localobs.store.rollups import BEFORE_COLUMNS, IdleRollups, call_changed, watermark
from localobs.store.stats import activity, totals
from tests.query_rows import MS, T0, call, fold, messages, span, submit

# One bucket of the rollups is 2^(1/8) wide: an interpolated percentile is within that ratio.
BUCKET_RATIO = 2 ** (1 / BUCKETS_PER_DOUBLING)


def clock() -> int:
    return T0 + 3_600_000 * MS  # one hour after the data starts


def _calls() -> list[tuple]:
    """model-a: 100..400 ms, TTFT 10..40 ms, 90 output tokens each; model-b: one failed call."""
    rows = [
        call(n, n, start_ms=n * 1000, duration_ms=100 * n, model="model-a", ttft_ms=10.0 * n,
             input_tokens=100 * n, output_tokens=90)
        for n in range(1, 5)
    ]  # fmt: skip
    rows.append(
        call(5, 5, 5000, 1000, model="model-b", output_tokens=None, status=2, error_type="Timeout")
    )
    return rows


def test_totals_are_exact_on_known_calls(store: Store) -> None:
    submit(store, _calls())
    result = totals(store.reader(), clock, None)
    assert (result.calls, result.errors) == (5, 1)
    assert (result.input_tokens, result.output_tokens) == (1000 + 10, 360)
    assert result.calls_with_usage == 4 and result.exact_percentiles
    # Durations 100, 200, 300, 400, 1000: p50 is the middle one, p95 at rank 3.8.
    assert result.duration_p50_ms == 300
    assert result.duration_p95_ms == pytest.approx(400 + 0.8 * 600)
    assert result.ttft_p50_ms == 25  # 10, 20, 30, 40
    speeds = sorted(90 * 1000 / (100 * n - 10 * n) for n in range(1, 5))
    assert result.tokens_per_s_p50 == pytest.approx((speeds[1] + speeds[2]) / 2)
    a, b = result.per_model
    assert (a.model, a.calls, a.errors, a.input_tokens, a.output_tokens) == (
        "model-a",
        4,
        0,
        1000,
        360,
    )
    assert (a.duration_p50_ms, a.duration_p95_ms) == (250, pytest.approx(385))
    assert (a.ttft_p50_ms, a.ttft_p95_ms) == (25, pytest.approx(38.5))
    assert (b.model, b.calls, b.errors, b.ttft_p50_ms, b.tokens_per_s_p50) == (
        "model-b",
        1,
        1,
        None,
        None,
    )


def test_totals_honour_the_window_and_the_filter(store: Store) -> None:
    submit(store, _calls())
    conn = store.reader()
    # The last hour before clock() starts at T0: a 3.5 s shorter window drops calls 1-3.
    window = 3600 - 3.5
    assert totals(conn, clock, window).calls == 2
    assert totals(conn, clock, None, CallFilter(model="model-b")).calls == 1
    assert totals(conn, clock, None, CallFilter(errors_only=True)).errors == 1
    slow = totals(conn, clock, None, CallFilter(min_duration_ms=300))
    assert (slow.calls, slow.duration_p50_ms) == (3, 400)
    assert totals(conn, clock, None, CallFilter(text="nothing-like-this")).calls == 0


def test_totals_from_rollups_match_the_raw_rows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        call(n, n, n * 10, 50 + 7 * n, model=f"m{n % 3}", ttft_ms=5.0 + n, output_tokens=n,
             input_tokens=2 * n, error_type="E" if n % 10 == 0 else None)
        for n in range(1, 201)
    ]  # fmt: skip
    submit(store, rows[:150])
    exact = totals(store.reader(), clock, None)
    fold(store)
    submit(store, rows[150:])  # stored after the fold: read raw, merged with the rollups
    # Force the rollup path on this small data (past the limit it is taken on its own).
    monkeypatch.setattr(stats, "EXACT_LIMIT", 10)
    conn = store.reader()
    rolled = totals(conn, clock, None)
    assert not rolled.exact_percentiles
    assert (rolled.calls, rolled.errors) == (200, 20)
    assert (rolled.input_tokens, rolled.output_tokens) == (2 * 20100, 20100)
    full = totals(conn, clock, None, CallFilter(min_duration_ms=0))  # needs rows: exact
    assert full.exact_percentiles and full.calls == 200
    for name in ("duration_p50_ms", "duration_p95_ms", "ttft_p50_ms", "tokens_per_s_p50"):
        assert getattr(full, name) / BUCKET_RATIO <= getattr(rolled, name)
        assert getattr(rolled, name) <= getattr(full, name) * BUCKET_RATIO
    assert [(m.model, m.calls) for m in rolled.per_model] == [
        (m.model, m.calls) for m in full.per_model
    ]
    assert exact.calls == 150


def test_bucket_percentiles_interpolate_inside_the_bucket() -> None:
    assert exact_percentile([1, 2, 3, 4], 0.5) == 2.5
    assert exact_percentile([], 0.5) is None
    # 8 equal values: all in one bucket, the percentile stays within it.
    index = 8 * 3  # [8, 8 * 2^(1/8))
    for q in (0.0, 0.5, 1.0):
        value = bucket_percentile({index: 8}, q)
        assert value is not None and 8 <= value < 8 * BUCKET_RATIO
    top = bucket_percentile({0: 1, 80: 1}, 1.0)
    assert top is not None and top > 900  # the upper bucket starts at 2^10


def _tree(trace: int, first: int, offset_ms: float = 0) -> list[tuple]:
    """request 0-100 ms: lookup 10-40 (with db 15-25) and llm 30-70 in parallel, render 80-95."""
    return [
        span(trace, first, "request", offset_ms, 100),
        span(trace, first + 1, "lookup", offset_ms + 10, 30, parent=first),
        span(trace, first + 2, "db", offset_ms + 15, 10, parent=first + 1),
        span(trace, first + 3, "llm", offset_ms + 30, 40, parent=first),
        span(trace, first + 4, "render", offset_ms + 80, 15, parent=first),
    ]


EXPECTED_SELF = {"request": 25, "lookup": 20, "db": 10, "llm": 40, "render": 15}
EXPECTED_TOTAL = {"request": 100, "lookup": 30, "db": 10, "llm": 40, "render": 15}


def _components(store: Store, window_s: float | None = None) -> dict[str, stats.ComponentStats]:
    return {c.name: c for c in component_stats(store.reader(), clock, window_s)}


@pytest.mark.parametrize("folded", [False, True], ids=["raw-rows", "rollups"])
def test_components_have_count_total_self_time_and_shares(store: Store, folded: bool) -> None:
    submit(store, _tree(1, 10) + _tree(2, 20, offset_ms=500))
    if folded:
        fold(store)
    found = component_stats(store.reader(), clock, None)
    assert [c.name for c in found] == ["llm", "request", "lookup", "render", "db"]
    by_name = {c.name: c for c in found}
    for name, self_ms in EXPECTED_SELF.items():
        component = by_name[name]
        assert component.count == 2
        assert component.total_ms == pytest.approx(2 * EXPECTED_TOTAL[name])
        assert component.self_ms == pytest.approx(2 * self_ms)
        assert component.share_of_total == pytest.approx(EXPECTED_TOTAL[name] / 195)
        assert component.share_of_self == pytest.approx(self_ms / 110)
        duration = EXPECTED_TOTAL[name]
        if folded:
            assert component.p50_ms is not None
            assert duration / BUCKET_RATIO <= component.p50_ms <= duration * BUCKET_RATIO
        else:
            assert component.p50_ms == component.p95_ms == duration


def test_a_child_stored_after_its_parent_was_folded_lowers_the_parent_self_time(
    store: Store,
) -> None:
    tree = _tree(1, 10)
    submit(store, [row for row in tree if row[5] != "llm"])
    fold(store)
    assert _components(store)["request"].self_ms == pytest.approx(25 + 40 - 10)  # 10-40 covered
    submit(store, [row for row in tree if row[5] == "llm"])
    assert _components(store)["request"].self_ms == pytest.approx(25)  # read from the tail
    fold(store)
    assert _components(store)["request"].self_ms == pytest.approx(25)  # and folded


def test_components_honour_the_window(store: Store) -> None:
    submit(store, _tree(1, 10) + _tree(2, 20, offset_ms=3_500_000))
    fold(store)
    submit(store, _tree(3, 30, offset_ms=3_550_000))
    recent = _components(store, window_s=120)  # starts 3 480 000 ms after T0: trees 2 and 3
    assert recent["request"].count == 2


def test_activity_counts_calls_tokens_and_errors_per_bucket(store: Store) -> None:
    submit(store, _calls())
    result = activity(store.reader(), clock, 3600, buckets=60)
    assert result.start_unix_nano == T0 and result.bucket_s == 60
    assert result.calls[0] == 5 and result.calls[1:] == (0,) * 59  # 1-5 s after T0
    assert (result.tokens[0], result.errors[0]) == (1010 + 360, 1)
    late = activity(store.reader(), lambda: T0 + 6_000 * MS, 6, buckets=6)
    assert late.calls == (0, 1, 1, 1, 1, 1) and late.errors == (0, 0, 0, 0, 0, 1)
    everything = activity(store.reader(), lambda: T0 + 6_000 * MS, None, buckets=5)
    assert sum(everything.calls) == 5 and everything.start_unix_nano == T0 + 1000 * MS


def test_a_call_whose_content_arrives_after_folding_is_refolded(store: Store) -> None:
    submit(store, [call(1, 1, 0, 100, prompt="first words", output_tokens=None)])
    fold(store)
    writer = connect(store.path)
    (rowid,) = writer.execute("SELECT rowid FROM spans").fetchone()
    before = dict(
        zip(
            (*BEFORE_COLUMNS, "input_messages", "output_messages", "system_instructions"),
            writer.execute(
                f"SELECT {', '.join(BEFORE_COLUMNS)}, {MESSAGES_SQL} FROM spans"
            ).fetchone(),
            strict=True,
        )
    )  # fmt: skip
    # What the GenAI log-event join does: rewrite the columns, then report the change.
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "UPDATE spans SET output_tokens = 7, input_messages = ? WHERE rowid = ?",
        (messages("user", "second thoughts"), rowid),
    )
    call_changed(writer, rowid, before)
    writer.execute("COMMIT")
    writer.close()
    conn = store.reader()
    assert list_calls(conn, CallFilter(text="first")) == []
    assert len(list_calls(conn, CallFilter(text="second thoughts"))) == 1
    result = totals(conn, clock, None)
    assert (result.calls, result.output_tokens, result.calls_with_usage) == (1, 7, 1)


def test_idle_rollups_wait_for_rows_to_settle(store: Store) -> None:
    now = [0.0]
    writer = connect(store.path)
    rollups = IdleRollups(writer, settle_s=5, clock=lambda: now[0])
    assert rollups.idle_timeout() is None  # nothing stored: nothing to wait for
    submit(store, _tree(1, 10))
    assert rollups.idle_timeout() == pytest.approx(5)  # the new rows settle in 5 s
    assert not rollups.step() and watermark(writer) == 0
    now[0] = 5.0
    assert rollups.idle_timeout() == IdleRollups.IDLE_S
    assert not rollups.overdue()
    rollups.MAX_BACKLOG = 4  # 5 settled rows wait
    assert rollups.overdue()
    assert not rollups.step()  # all settled rows folded in one chunk
    assert watermark(writer) == 5 and rollups.idle_timeout() is None
    writer.close()
