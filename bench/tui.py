"""The live viewer's speed: open time on a 1 M-span database, commit-to-screen and key latency
while 5,000 spans/s arrive, and memory.

    .venv/bin/python bench/tui.py [--db bench/out/query.db] [--reuse] [--traces 100000]
                                  [--rate 5000] [--probes 20] [--runs 3]

1. Open: the app (headless, 120x36) on the database bench/query.py builds (~10 spans and one model
   call per trace; rollups folded and the lists' summaries kept as the idle writer does; a reused
   file from before the summaries is upgraded first), from construction to the first rows
   in the table and to the header totals; then paging down through 5,000 calls. RSS of this
   process after opening and after paging (the TUI alone: no receiver here).
2. Live: as `localobs up` does, the real receiver (uvicorn on a thread, the writer process) and
   the app in one process, while a sender process POSTs OTLP protobuf bodies at `--rate` spans/s
   (each trace of 10 an agent run of a visitor's conversation holding 9 model calls, so the calls,
   agents and conversations lists all change under the flood). A probe call is
   POSTed every half second; its latency runs from the 200 (= committed) to the moment its row is
   in the DataTable. Then keys are pressed and timed until the screen shows their result.
   Targets: open <= 1 s, probe <= 250 ms, keys <= 100 ms, RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from textual import events
from textual.screen import Screen

from bench.otlp_load import _kv, chat_span_attributes, trace_body
from bench.query_data import NOW_UNIX_NANO, build, summarize
from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.database import connect
from localobs.store.rollups import roll_up_all
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.agents import AgentsScreen
from localobs.tui.screens.call_detail import CallDetailScreen
from localobs.tui.screens.calls import CallsScreen
from localobs.tui.screens.components import ComponentsScreen
from localobs.tui.screens.conversations import ConversationsScreen
from localobs.tui.screens.search import SearchScreen
from localobs.tui.screens.trace import TraceScreen
from localobs.tui.widgets.calls_table import CallsTable
from localobs.tui.widgets.waterfall import Waterfall

SIZE = (120, 36)
_CHARACTERS = {"enter": "\r", "escape": "\x1b", "slash": "/", "down": None, "up": None}
SPANS_PER_BODY = 250


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MiB."""
    status = Path("/proc/self/status").read_text()
    now = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return now / 1024, peak / 1024


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):6.1f}  p95 {p95:6.1f}  max {ordered[-1]:6.1f} ms"


async def until(condition: Callable[[], object], timeout: float = 30.0) -> float:
    """Seconds until `condition()` holds, checked every millisecond on the app's loop."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"waited {timeout}s for {condition}")
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


def table_of(app: LocalobsApp) -> CallsTable:
    return app.screen.query_one(CallsTable)


# -- 1. open on a large database ------------------------------------------------------------------


def prepare(path: Path, traces: int, reuse: bool) -> None:
    if reuse and path.exists():
        print(f"reusing {path}")
        summarize(path)  # a file from before the summaries: upgraded and summarized now
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {traces} traces (~{traces * 10:,} spans) in {path} ...", flush=True)
    build(path, traces, progress=False)
    conn = connect(path)
    roll_up_all(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    summarize(path)


async def open_once(db: Path) -> tuple[float, float, float]:
    """Seconds to the first rows, to the totals, and to page through 5,000 calls."""
    started = time.perf_counter()
    app = LocalobsApp(Store(db), clock=lambda: NOW_UNIX_NANO, totals_window_s=None)
    async with app.run_test(size=SIZE):
        await until(lambda: isinstance(app.screen, CallsScreen) and table_of(app).row_count > 0)
        rows_s = time.perf_counter() - started
        totals = app.screen.query_one("#totals")
        await until(lambda: "calls" in str(totals.render()))
        totals_s = time.perf_counter() - started
        screen = app.screen
        assert isinstance(screen, CallsScreen)
        paging = time.perf_counter()
        for _ in range(50):
            if not screen.window.more_below:
                break
            last = screen.window.rows[-1].call_id
            press(app, "end")
            await until(
                lambda last=last: (
                    screen.window.rows[-1].call_id != last or not screen.window.more_below
                )
            )
        page_s = time.perf_counter() - paging
        assert table_of(app).row_count <= screen.window.max_rows
    return rows_s, totals_s, page_s


def import_ms() -> float:
    """Importing the viewer in a fresh interpreter: part of what `localobs up` takes to open."""
    code = (
        "import time; t = time.perf_counter(); import localobs.tui.app;"
        " print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def bench_open(db: Path, runs: int) -> None:
    print("\n== open on", db, f"({db.stat().st_size / 2**20:,.0f} MiB)")
    print(f"importing the viewer   {summary([import_ms() for _ in range(runs)])}")
    rows, totals, pages = [], [], []
    for _ in range(runs):
        row_s, totals_s, page_s = asyncio.run(open_once(db))
        rows.append(row_s * 1000)
        totals.append(totals_s * 1000)
        pages.append(page_s * 1000)
    print(f"first rows on screen   {summary(rows)}   (target <= 1000 ms)")
    print(f"header totals shown    {summary(totals)}")
    print(f"paging 5,000 calls     {summary(pages)}  (50 pages of 100, the table keeps <= 500)")
    now, peak = rss_mib()
    print(f"RSS of the viewer alone: {now:.0f} MiB now, {peak:.0f} MiB peak (target <= 200)")


# -- 2. live: probes and keys while the receiver is loaded ----------------------------------------


def sender_main(url: str, rate: int, seconds: float) -> None:
    """The load process: bodies of SPANS_PER_BODY spans, fresh ids each, at `rate` spans/s. Each
    trace of 10 is an agent run (its root, `invoke_agent`) of one of 2,000 visitors'
    conversations, holding 9 chat calls: the agents and conversations lists change under the
    flood too."""
    template = ExportTraceServiceRequest()
    template.ParseFromString(trace_body(random.Random(5), SPANS_PER_BODY))
    spans = template.resource_spans[0].scope_spans[0].spans
    conversations = []  # the conversation id value of every span, set per trace below
    for index, span in enumerate(spans):
        if index % 10 == 0:
            span.name = "invoke_agent session-recommender"
            del span.attributes[:]
            span.attributes.extend(
                [
                    _kv("gen_ai.operation.name", "invoke_agent"),
                    _kv("gen_ai.agent.name", "session-recommender"),
                ]
            )
        span.attributes.append(_kv("gen_ai.conversation.id", ""))
        conversations.append(span.attributes[-1].value)
    visitors = random.Random(6)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    sent, refused, started = 0, 0, time.monotonic()
    while time.monotonic() - started < seconds:
        base = time.time_ns() - 600 * 10**9  # ten minutes ago: in the header's window, below probes
        trace_id = os.urandom(16)
        root = b""
        for index, span in enumerate(spans):
            if index % 10 == 0:
                trace_id, root = os.urandom(16), os.urandom(8)
                conversation = f"visitor-{visitors.randrange(2000)}"
            span.trace_id, span.span_id = trace_id, root if index % 10 == 0 else os.urandom(8)
            span.parent_span_id = b"" if index % 10 == 0 else root
            conversations[index].string_value = conversation
            span.start_time_unix_nano = base + index * 1000
            span.end_time_unix_nano = span.start_time_unix_nano + 800_000_000
        conn.request(
            "POST",
            "/v1/traces",
            template.SerializeToString(),
            {"Content-Type": "application/x-protobuf"},
        )
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            sent += SPANS_PER_BODY
        else:
            refused += 1
        elapsed = time.monotonic() - started
        # Progress after every body: the bench stops this process when it is done measuring.
        print(json.dumps({"spans": sent, "seconds": elapsed, "refused": refused}), flush=True)
        delay = (sent + refused * SPANS_PER_BODY) / rate - elapsed
        if delay > 0:
            time.sleep(delay)


def probe_body(marker: str) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(_kv("service.name", "probe"))
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
    span.name = "chat probe"
    span.kind = 3
    span.start_time_unix_nano = time.time_ns() + 3600 * 10**9  # newest of all: the top row
    span.end_time_unix_nano = span.start_time_unix_nano + 300_000_000
    attributes = chat_span_attributes(random.Random(marker))
    for attribute in attributes:
        if attribute.key == "gen_ai.input.messages":
            attribute.value.string_value = json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": marker}]}]
            )
    span.attributes.extend(attributes)
    return request.SerializeToString()


def post(url: str, body: bytes) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"probe refused: HTTP {response.status}")


def shown(app: LocalobsApp, marker: str) -> bool:
    if not isinstance(app.screen, CallsScreen):
        return False
    table = table_of(app)
    return any(marker in str(table.get_row_at(i)[-1]) for i in range(min(table.row_count, 5)))


def send_probe(url: str, marker: str) -> tuple[threading.Event, list[float]]:
    """POST a probe from a thread; the event is set, with the time, once its 200 came back."""
    committed = threading.Event()
    committed_at: list[float] = []

    def send() -> None:
        post(url, probe_body(marker))
        committed_at.append(time.perf_counter())
        committed.set()

    threading.Thread(target=send, daemon=True).start()
    return committed, committed_at


async def probe_latencies(app: LocalobsApp, url: str, probes: int) -> list[float]:
    latencies = []
    for number in range(probes):
        marker = f"probe-{number}-{os.getpid()}"
        committed, committed_at = send_probe(url, marker)
        await until(lambda marker=marker: shown(app, marker), timeout=30)
        seen_at = time.perf_counter()
        await until(committed.is_set)
        # The row can be drawn before the 200 reaches us; such a probe counts as 0 ms.
        latencies.append(max(0.0, (seen_at - committed_at[0]) * 1000))
        await asyncio.sleep(0.5)
    return latencies


def waterfall_rows(app: LocalobsApp) -> int:
    if not isinstance(app.screen, TraceScreen):
        return 0
    found = app.screen.query(Waterfall)
    return found.first().row_count if found else 0


def loaded(app: LocalobsApp, screen: type[Screen[None]], title: str) -> bool:
    """The screen is in front, composed, and its first query's result is shown."""
    if not isinstance(app.screen, screen):
        return False
    found = app.screen.query(title)
    return bool(found) and "loading" not in str(found.first().render())


def press(app: LocalobsApp, key: str) -> None:
    """Deliver a key as the terminal driver does. (Pilot.press also waits until the process is
    idle, which under ingest load it never is: it would add up to two seconds to every key.)"""
    app.post_message(events.Key(key, _CHARACTERS.get(key, key if len(key) == 1 else None)))


async def key_latencies(app: LocalobsApp) -> dict[str, list[float]]:
    """Per key: ms from the key press to the screen showing its result (data included)."""
    pilot_keys: list[tuple[str, str, Callable[[], object]]] = [
        ("p", "pause", lambda: "paused" in str(app.screen.query_one("#status").render())),
        ("down", "cursor down", lambda: table_of(app).cursor_row == 1),
        ("up", "cursor up", lambda: table_of(app).cursor_row == 0),
        (
            "enter",
            "detail (transcript shown)",
            lambda: isinstance(app.screen, CallDetailScreen) and app.screen.query("#transcript"),
        ),
        ("escape", "back", lambda: isinstance(app.screen, CallsScreen)),
        ("t", "trace (waterfall shown)", lambda: waterfall_rows(app) > 0),
        ("escape", "back", lambda: isinstance(app.screen, CallsScreen)),
        ("c", "components (screen)", lambda: isinstance(app.screen, ComponentsScreen)),
        ("escape", "back", lambda: isinstance(app.screen, CallsScreen)),
        ("g", "agents (runs loaded)", lambda: loaded(app, AgentsScreen, "#agents-title")),
        ("escape", "back", lambda: isinstance(app.screen, CallsScreen)),
        (
            "o",
            "conversations (loaded)",
            lambda: loaded(app, ConversationsScreen, "#conversations-title"),
        ),
        ("escape", "back", lambda: isinstance(app.screen, CallsScreen)),
        ("slash", "search box", lambda: isinstance(app.screen, SearchScreen)),
        ("escape", "back", lambda: isinstance(app.screen, CallsScreen)),
        ("p", "resume", lambda: "live" in str(app.screen.query_one("#status").render())),
    ]
    results: dict[str, list[float]] = {}
    for _ in range(5):
        for key, label, done in pilot_keys:
            started = time.perf_counter()
            press(app, key)
            await until(done, timeout=30)
            results.setdefault(label, []).append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)
    return results


async def live_run(
    url: str, store: Store, probes: int
) -> tuple[list[float], dict[str, list[float]]]:
    app = LocalobsApp(store, endpoint_url=url, owns_process=True)  # as `localobs up` runs it
    async with app.run_test(size=SIZE):
        await until(lambda: isinstance(app.screen, CallsScreen) and table_of(app).row_count > 0)
        latencies = await probe_latencies(app, url, probes)
        keys = await key_latencies(app)
    return latencies, keys


def live_process(rate: int, probes: int, viewer_s: float | None) -> None:
    """One live run in this (fresh) process: with the viewer, or (`viewer_s` given) the receiver
    alone under the same load for as long, to tell the viewer's memory from the receiver's."""
    with tempfile.TemporaryDirectory() as workdir:
        store = Store(Path(workdir) / "live.db")
        store.start_writer()
        server = ReceiverServer(create_receiver_app(store, max_body=64 << 20), "127.0.0.1", 0)
        server.start()
        sender = subprocess.Popen(
            [sys.executable, __file__, "--send", server.url, "--rate", str(rate)]
            + ["--seconds", "600"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(2)  # let the load reach its pace
            started = time.perf_counter()
            if viewer_s is None:
                latencies, keys = asyncio.run(live_run(server.url, store, probes))
            else:
                time.sleep(viewer_s)
            measured_s = time.perf_counter() - started
        finally:
            sender.terminate()
            out, _ = sender.communicate(timeout=60)
            server.stop()
            store.close()
    load = json.loads(out.strip().splitlines()[-1])
    print(
        f"load sent: {load['spans'] / load['seconds']:,.0f} spans/s over {load['seconds']:.0f} s"
        f" ({load['refused']} bodies refused with 503); measured for {measured_s:.0f} s"
    )
    now, peak = rss_mib()
    if viewer_s is not None:
        print(f"RSS of the receiver alone: {now:.0f} MiB, peak {peak:.0f} MiB")
        return
    print(f"commit -> on screen    {summary(latencies)}   (target <= 250 ms)")
    for label, values in keys.items():
        print(f"key {label:<24}{summary(values)}")
    print(f"RSS of receiver + viewer: {now:.0f} MiB, peak {peak:.0f} MiB")
    print(f"measured_s={measured_s:.1f}")


def bench_live(rate: int, probes: int) -> None:
    print(f"\n== live: receiver + viewer in one process, {rate:,} spans/s arriving")
    print("(RSS: this process; the writer process is not counted, as it is not the viewer's)")
    command = [sys.executable, __file__, "--live", "--rate", str(rate), "--probes", str(probes)]
    with_viewer = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    print("\n".join(line for line in with_viewer.splitlines() if "measured_s=" not in line))
    seconds = re.search(r"measured_s=([\d.]+)", with_viewer).group(1)  # type: ignore[union-attr]
    alone = subprocess.run(
        [*command, "--receiver-only", seconds], capture_output=True, text=True, check=True
    ).stdout
    print(alone.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=Path("bench/out/query.db"))
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--send", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--live", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--receiver-only", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        sender_main(args.send, args.rate, args.seconds)
    elif args.live:
        live_process(args.rate, args.probes, args.receiver_only)
    else:
        prepare(args.db, args.traces, args.reuse)
        print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        bench_open(args.db, args.runs)
        bench_live(args.rate, args.probes)
        print(f"\nload average after: {os.getloadavg()[0]:.1f} (other work on the machine skews")
        print("every figure; compare runs made when it is near 0)")


if __name__ == "__main__":
    main()
