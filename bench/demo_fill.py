"""How soon `localobs up --demo` fills the agents and conversations screens, as a user starts it.

    .venv/bin/python bench/demo_fill.py [--runs 3]

Each run starts `localobs up --demo --headless` on a fresh database (the bot loads the bundled
model and asks its first question, then follow-ups in the same conversation) and prints the
seconds from the command's start to: the receiver answering, the first model call stored, the
first agent run (the agents screen's first row), and the first conversation with a follow-up
turn (the conversations screen showing a conversation, not a single question). It reads through
the same query functions the screens use. The machine may be shared: the model's speed is most
of it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import start_localobs
from localobs.store import Store
from localobs.store.agents import list_runs
from localobs.store.calls import list_calls
from localobs.store.conversations import list_conversations

LIMIT_S = 180.0


def _first(condition: Callable[[], object], started: float) -> float:
    """Seconds from `started` until `condition()` holds (polled every 50 ms), or inf."""
    while time.perf_counter() - started < LIMIT_S:
        if condition():
            return time.perf_counter() - started
        time.sleep(0.05)
    return float("inf")


def one_run(workdir: Path) -> dict[str, float]:
    db = workdir / "demo.db"
    started = time.perf_counter()
    process, _url = start_localobs(db, "--demo")
    listening = time.perf_counter() - started
    try:
        conn = Store(db).reader()
        figures = {"receiver up": listening}
        figures["first call"] = _first(lambda: list_calls(conn), started)
        figures["first agent run"] = _first(lambda: list_runs(conn), started)
        figures["first conversation"] = _first(lambda: list_conversations(conn), started)
        figures["conversation with a follow-up"] = _first(
            lambda: any(each.turns >= 2 for each in list_conversations(conn)), started
        )
        conn.close()
    finally:
        process.terminate()
        process.wait(60)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as workdir:
            figures = one_run(Path(workdir))
        runs.append(figures)
        print(
            f"run {run}: " + ", ".join(f"{name} {value:.1f} s" for name, value in figures.items())
        )
    for name in runs[0]:
        values = [figures[name] for figures in runs]
        print(
            f"{name}: median {statistics.median(values):.1f} s"
            f" (range {min(values):.1f}-{max(values):.1f})"
        )


if __name__ == "__main__":
    main()
