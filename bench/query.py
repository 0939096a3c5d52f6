"""Time every query function of the store on a 1 M-span / 100 k-call database.

    .venv/bin/python bench/query.py [--db PATH] [--reuse] [--traces 100000] [--runs 7] [--tail 0]

Builds the database (bench/query_data.py: ~10 spans and one LLM call per trace, ~1 KB of messages
per call, three services, five models, 3 % errors, a day of GenAI histogram metrics) through the
store's own insert path, then folds it as the idle writer would (rollups.roll_up_all), leaving the
newest `--tail` spans unfolded to measure reads while the writer is behind, and keeps the agents
and conversations summaries (summaries.summarize_all). `--reuse` keeps an existing file (one
from before the summaries is upgraded, and the time that took printed). Each query runs once on
a fresh connection (cold: SQLite's page cache empty, the OS cache warm) and `--runs` more times
(warm: the median). Target: <= 100 ms each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.query_data import NOW_UNIX_NANO, build, summarize
from localobs.store.agents import get_run, list_runs
from localobs.store.call_filter import CallFilter
from localobs.store.calls import calls_after, get_call, list_calls
from localobs.store.changes import data_version, latest_call_id
from localobs.store.conversations import (
    call_scope,
    context_change,
    get_conversation,
    list_conversations,
)
from localobs.store.database import connect
from localobs.store.metrics_query import genai_metric_summary, metric_percentiles
from localobs.store.rollups import roll_up, watermark
from localobs.store.stats import activity, component_stats, totals
from localobs.store.traces import get_trace

TARGET_MS = 100.0


def clock() -> int:
    return NOW_UNIX_NANO


def _prepare(path: Path, traces: int, reuse: bool, tail: int) -> None:
    if reuse and path.exists():
        print(f"reusing {path}")
        summarize(path)  # a file from before the summaries: upgraded and summarized now
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"building {traces} traces ({traces * 10} spans) in {path} ...", flush=True)
    build(path, traces)
    built = time.perf_counter()
    conn = connect(path)
    target = conn.execute("SELECT max(rowid) FROM spans").fetchone()[0] - tail
    reached = watermark(conn)
    while reached < target:
        reached = roll_up(conn, target)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    summarize(path)
    folded = time.perf_counter()
    print(
        f"built in {built - started:.0f} s; folded {target} spans in {folded - built:.1f} s"
        f" ({target / (folded - built):,.0f} spans/s); {path.stat().st_size / 2**20:,.0f} MiB"
    )


def _cases(conn: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    rng = random.Random(3)
    newest = latest_call_id(conn)
    some_calls = [
        row[0]
        for row in conn.execute(
            "SELECT rowid FROM spans WHERE operation IS NOT NULL AND rowid % 997 = 0"
        )
    ]
    call_id = rng.choice(some_calls)
    trace_id = conn.execute("SELECT trace_id FROM spans WHERE rowid = ?", (call_id,)).fetchone()[0]
    deep = list_calls(conn, limit=5000)[-1]
    run_id, conversation_id = conn.execute(
        "SELECT span_id, conversation_id FROM spans WHERE trace_id = ? AND span_role = 'agent'",
        (trace_id,),
    ).fetchone()
    hour, five = 3600.0, 300.0
    return [
        ("list_calls first page", lambda c: list_calls(c)),
        (
            "list_calls page 51 (keyset)",
            lambda c: list_calls(c, before=(deep.start_time_unix_nano, deep.call_id)),
        ),
        (
            "list_calls model (5 % of calls)",
            lambda c: list_calls(c, CallFilter(model="mistral-small")),
        ),
        ("list_calls errors", lambda c: list_calls(c, CallFilter(errors_only=True))),
        (
            "list_calls service+model+errors",
            lambda c: list_calls(
                c, CallFilter(model="mistral-small", service="summarizer", errors_only=True)
            ),
        ),
        ("list_calls min 20 s", lambda c: list_calls(c, CallFilter(min_duration_ms=20_000))),
        ("list_calls text common", lambda c: list_calls(c, CallFilter(text="deadlock"))),
        ("list_calls text 2 words", lambda c: list_calls(c, CallFilter(text="vacuum replica"))),
        ("list_calls text rare", lambda c: list_calls(c, CallFilter(text="TCK-012345"))),
        ("list_calls text none", lambda c: list_calls(c, CallFilter(text="zzzznothing"))),
        (
            "list_calls text+model",
            lambda c: list_calls(c, CallFilter(text="ticket", model="mistral-small")),
        ),
        ("calls_after (1000 back)", lambda c: calls_after(c, newest - 10_000)),
        ("get_call", lambda c: get_call(c, call_id)),
        ("get_trace", lambda c: get_trace(c, trace_id)),
        ("totals all time", lambda c: totals(c, clock, None)),
        ("totals 1 h", lambda c: totals(c, clock, hour)),
        ("totals 5 min", lambda c: totals(c, clock, five)),
        (
            "totals all, model",
            lambda c: totals(c, clock, None, CallFilter(model="gpt-4o-mini")),
        ),
        ("totals all, text", lambda c: totals(c, clock, None, CallFilter(text="vacuum"))),
        ("component_stats all time", lambda c: component_stats(c, clock, None)),
        ("component_stats 1 h", lambda c: component_stats(c, clock, hour)),
        ("component_stats 5 min", lambda c: component_stats(c, clock, five)),
        ("activity all time", lambda c: activity(c, clock, None)),
        ("activity 1 h", lambda c: activity(c, clock, hour)),
        (
            "metric_percentiles duration",
            lambda c: metric_percentiles(c, clock, "gen_ai.client.operation.duration"),
        ),
        (
            "metric_percentiles 1 h, attrs",
            lambda c: metric_percentiles(
                c,
                clock,
                "gen_ai.client.token.usage",
                window_s=hour,
                attributes={"gen_ai.token.type": "output"},
            ),
        ),
        ("genai_metric_summary all", lambda c: genai_metric_summary(c, clock, None)),
        ("list_runs (agents, 100)", lambda c: list_runs(c)),
        ("list_runs 1 h", lambda c: list_runs(c, since_unix_nano=NOW_UNIX_NANO - 3600 * 10**9)),
        ("get_run (tree, tools, loops)", lambda c: get_run(c, run_id)),
        ("list_conversations (100)", lambda c: list_conversations(c)),
        ("get_conversation", lambda c: get_conversation(c, conversation_id)),
        ("call_scope (run, conversation)", lambda c: call_scope(c, call_id)),
        ("context_change", lambda c: context_change(c, call_id)),
        ("data_version", lambda c: data_version(c)),
        ("latest_call_id", lambda c: latest_call_id(c)),
    ]


def _time(fn: Callable[[Any], Any], conn: Any) -> float:
    started = time.perf_counter()
    fn(conn)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("bench/out/query.db"))
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tail", type=int, default=0, help="newest spans left unfolded")
    args = parser.parse_args()
    _prepare(args.db, args.traces, args.reuse, args.tail)
    setup = connect(args.db, readonly=True)
    spans, calls = setup.execute(
        "SELECT count(*), sum(operation IS NOT NULL) FROM spans"
    ).fetchone()
    unfolded = setup.execute(
        "SELECT count(*) FROM spans WHERE rowid > ?", (watermark(setup),)
    ).fetchone()[0]
    cases = _cases(setup)
    setup.close()
    print(f"{spans:,} spans, {calls:,} calls, {unfolded:,} spans not folded yet")
    print(f"{'query':36} {'cold ms':>9} {'warm ms':>9}")
    slow = []
    for label, fn in cases:
        conn = connect(args.db, readonly=True)
        cold = _time(fn, conn)
        warm = statistics.median(_time(fn, conn) for _ in range(args.runs))
        conn.close()
        mark = "" if warm <= TARGET_MS else "  over target"
        if warm > TARGET_MS:
            slow.append(label)
        print(f"{label:36} {cold:9.1f} {warm:9.1f}{mark}", flush=True)
    print(f"{len(cases) - len(slow)}/{len(cases)} queries within {TARGET_MS:.0f} ms (warm median)")


if __name__ == "__main__":
    main()
