"""How far the agents and conversations summaries lag behind the commits, under a flood.

    .venv/bin/python bench/summary_lag.py [--rate 5000] [--seconds 20]

The real receiver and writer (as `localobs up` runs them, no viewer) take bench/tui.py's load:
`--rate` spans/s, every trace of 10 an agent run of one of 2,000 conversations. A reader polls
`summary_dirty` every 2 ms: a trace's lag is from the first poll that sees it named (its batch
committed) to the first that no longer does (the writer's idle job refreshed it). Also printed:
how many traces wait at a poll, and the writer process's CPU. The lists read the waiting traces
themselves, so the lag costs them time, never correctness. Target: well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import cpu_seconds
from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store

POLL_S = 0.002


def _ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    tui = Path(__file__).resolve().parent / "tui.py"
    with tempfile.TemporaryDirectory() as workdir:
        store = Store(Path(workdir) / "lag.db")
        store.start_writer()
        server = ReceiverServer(create_receiver_app(store, max_body=64 << 20), "127.0.0.1", 0)
        server.start()
        writer = store.writer_pid
        sender = subprocess.Popen(
            [sys.executable, str(tui), "--send", server.url, "--rate", str(args.rate)]
            + ["--seconds", str(args.seconds + 2)],
            stdout=subprocess.PIPE,
            text=True,
        )
        conn = store.reader()
        first_seen: dict[str, float] = {}
        lags: list[float] = []
        waiting: list[int] = []
        try:
            time.sleep(2)  # let the load reach its pace
            cpu_before = cpu_seconds(writer) if writer else 0.0
            started = time.monotonic()
            while (now := time.monotonic()) - started < args.seconds:
                named = {t for (t,) in conn.execute("SELECT trace_id FROM summary_dirty")}
                waiting.append(len(named))
                for trace_id in named:
                    first_seen.setdefault(trace_id, now)
                for trace_id in [t for t in first_seen if t not in named]:
                    lags.append(now - first_seen.pop(trace_id))
                time.sleep(POLL_S)
            cpu = (cpu_seconds(writer) - cpu_before) if writer else float("nan")
            measured = time.monotonic() - started
        finally:
            conn.close()
            sender.terminate()
            out, _ = sender.communicate(timeout=60)
            server.stop()
            store.close()
    load = json.loads(out.strip().splitlines()[-1])
    print(f"load sent: {load['spans'] / load['seconds']:,.0f} spans/s; measured {measured:.0f} s")
    print(
        f"summary lag (commit seen -> refreshed), {len(lags)} traces: median {_ms(lags, 0.5):.0f}"
        f"  p95 {_ms(lags, 0.95):.0f}  p99 {_ms(lags, 0.99):.0f}  max {max(lags) * 1000:.0f} ms"
        f"  (polled every {POLL_S * 1000:.0f} ms)"
    )
    print(
        f"traces waiting at a poll: median {statistics.median(waiting):.0f}"
        f"  max {max(waiting)}; still waiting at the end: {len(first_seen)}"
    )
    print(f"writer process CPU: {cpu / measured:.0%} of a core")
    print(f"load average: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
