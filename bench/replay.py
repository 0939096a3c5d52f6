"""What the replay machinery costs: 10 replays of a demo judge call against 10 direct llama.cpp
calls of the same request, in the same run.

The original is a judge call as the demo bot makes it (five candidate sessions, temperature 0,
JSON output), sent over OTLP to a real `localobs up --headless`. Then, alternately:
- direct: this process loads the bundled model once and makes N streamed
  `create_chat_completion` calls with exactly what a replay sends (same messages, JSON
  response format, max_tokens, temperature 0, so the outputs are the same);
- replay: `localobs replay CALL_ID -n N` as a user runs it: a new CLI process, the model worker
  process and its model load, N runs, each stored through the receiver's decode path.
Prints each, the median ratio replay / direct (target <= 1.5), and where the replay's time went
(process start-up and model load versus the runs).

    .venv/bin/python bench/replay.py [--runs 10] [--repeat 3]
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
from typing import Any

from bench.harness import start_localobs


def judge_request() -> tuple[list[dict[str, str]], int]:
    from demo_bot import prompts
    from demo_bot.dataset import load_sessions

    sessions = load_sessions()[:5]
    question = "Which talks cover eBPF for network observability?"
    return prompts.judge_messages(question, sessions), prompts.judge_max_tokens(len(sessions))


def send_original(endpoint: str, messages: list[dict[str, str]], max_tokens: int) -> None:
    """One judge call span, with the attributes the demo bot sets (OTel SDK, OTLP/HTTP)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    from demo_bot.genai import input_messages_json, output_messages_json, system_instructions_json

    provider = TracerProvider(resource=Resource.create({"service.name": "session-bot"}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench.replay")
    with tracer.start_as_current_span("chat SmolLM2", kind=SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "llama.cpp",
                "gen_ai.request.model": "SmolLM2-135M-Instruct.Q4_1",
                "gen_ai.request.max_tokens": max_tokens,
                "gen_ai.request.temperature": 0.0,
                "gen_ai.request.seed": 42,
                "gen_ai.output.type": "json",
                "gen_ai.system_instructions": system_instructions_json(messages) or "[]",
                "gen_ai.input.messages": input_messages_json(messages),
                "gen_ai.output.messages": output_messages_json('{"verdicts": []}', "stop"),
            }
        )
    provider.shutdown()


def direct_calls(llm: Any, messages: list[dict[str, str]], max_tokens: int, runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        for _chunk in llm.create_chat_completion(
            messages=messages,
            max_tokens=max_tokens,
            temperature=0.0,
            response_format={"type": "json_object"},
            stream=True,
        ):
            pass
    return time.perf_counter() - started


def replay_calls(db: Path, runs: int) -> tuple[float, float]:
    """Wall time of `localobs replay`, and the sum of its runs' own durations."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "localobs", "replay", "1", "--db", str(db), "-n", str(runs)]
        + ["--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    report = json.loads(done.stdout)
    return wall, sum(run["duration_ms"] for run in report["runs"]) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from llama_cpp import Llama

    from demo_bot.extra_bufts import extra_buffer_types
    from demo_bot.llm import default_model_path, default_threads

    messages, max_tokens = judge_request()
    with tempfile.TemporaryDirectory() as workdir:
        db = Path(workdir) / "bench.db"
        process, endpoint = start_localobs(db)
        try:
            send_original(endpoint, messages, max_tokens)
        finally:
            process.terminate()
            process.wait(30)
        threads = default_threads()
        with extra_buffer_types(False):
            llm = Llama(
                model_path=str(default_model_path()),
                n_ctx=2048,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        ratios = []
        for repeat in range(args.repeat):
            direct = direct_calls(llm, messages, max_tokens, args.runs)
            wall, in_runs = replay_calls(db, args.runs)
            ratios.append(wall / direct)
            print(
                f"round {repeat + 1}: {args.runs} direct calls {direct:.2f} s; "
                f"localobs replay -n {args.runs} {wall:.2f} s (runs {in_runs:.2f} s, start-up, "
                f"model load and storing {wall - in_runs:.2f} s); ratio {wall / direct:.2f}"
            )
    print(f"replay / direct, median of {args.repeat}: {statistics.median(ratios):.2f} "
          "(target <= 1.5)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
