"""What telemetry costs the demo bot: the same questions, same seed, telemetry off and on.

Builds the bot twice in one process (one with no-op OpenTelemetry providers, one exporting over
OTLP/HTTP to a real `localobs up --headless`), asks every sample question to both, interleaved
and alternating which goes first so that a noisy machine weighs on both alike, and prints:
model load and index build times, question round times, output tokens per second of whole
rounds (every LLM call of a round, over the round's time), and the overhead, by wall clock and
by process CPU time. The flush after each question (what `python -m demo_bot` does between
questions, so that the viewer shows a trace at once) is timed apart: it waits for the receiver,
which shares the machine. On a shared machine trust the CPU-time figure and the median of
per-question pairs more than wall clock.

    .venv/bin/python bench/demo_overhead.py [--repeat 2] [--endpoint URL]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Mode:
    name: str
    round_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    flush_s: list[float] = field(default_factory=list)
    output_tokens: int = 0
    answers: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / sum(self.round_s)

    @property
    def tokens_per_cpu_s(self) -> float:
        return self.output_tokens / sum(self.cpu_s)


def start_receiver(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`localobs up --headless` on an ephemeral port; returns it and its endpoint URL.

    Its output goes to a file: a pipe nobody reads fills up and stalls the receiver.
    """
    log = workdir / "localobs-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "localobs", "up", "--headless", "--port", "0"]
            + ["--grpc-port", "0", "--db", str(workdir / "bench.db")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "OTEL_EXPORTER_OTLP_ENDPOINT=" in line:
                return process, line.split("=", 1)[1].strip()
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"localobs up printed no endpoint:\n{log.read_text()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the sample questions")
    parser.add_argument("--questions", type=int, help="only the first N sample questions")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--endpoint", help="an OTLP/HTTP receiver already running")
    args = parser.parse_args()

    receiver = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.endpoint is None:
            receiver, args.endpoint = start_receiver(Path(tmp))
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.endpoint
        try:
            return run(args)
        finally:
            if receiver is not None:
                receiver.terminate()
                receiver.wait(30)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    import llama_cpp  # noqa: F401  (timed here: the bot imports these lazily)
    import sentence_transformers  # noqa: F401

    imported_s = time.perf_counter() - started
    from demo_bot.app import build_bot
    from demo_bot.dataset import load_questions
    from demo_bot.flow import FlowConfig
    from demo_bot.llm import ModelOptions
    from demo_bot.telemetry import LOGGER_NAME, setup_telemetry

    options = ModelOptions(threads=args.threads, seed=args.seed)
    config = FlowConfig(max_tokens=args.max_tokens)
    telemetry = {
        "off": setup_telemetry(enabled=False),
        "on": setup_telemetry(enabled=True, capture_content=True),
    }
    bots = {name: build_bot(options, config, tel) for name, tel in telemetry.items()}
    modes = {name: Mode(name) for name in bots}
    questions = load_questions()[: args.questions]
    bot_logger = logging.getLogger(LOGGER_NAME)

    for turn in range(args.repeat * len(questions)):
        question = questions[turn % len(questions)]
        order = ["off", "on"] if turn % 2 == 0 else ["on", "off"]
        for name in order:
            bot = bots[name][0]
            # The "on" providers' log handler sits on the shared `demo_bot` logger: keep the
            # "off" bot's log lines out of it, as they would be in a run without telemetry.
            bot_logger.disabled = name == "off"
            began, began_cpu = time.perf_counter(), time.process_time()
            answer = bot.ask(question, lambda _text: None)
            modes[name].round_s.append(time.perf_counter() - began)
            modes[name].cpu_s.append(time.process_time() - began_cpu)
            began = time.perf_counter()
            telemetry[name].flush()
            modes[name].flush_s.append(time.perf_counter() - began)
            modes[name].output_tokens += answer.output_tokens
            modes[name].answers.append(answer.text)
    for tel in telemetry.values():
        tel.shutdown()

    times = bots["on"][1]
    off, on = modes["off"], modes["on"]
    paired = statistics.median(a / b for a, b in zip(off.round_s, on.round_s, strict=True))
    print(f"imports (llama.cpp, torch, sentence-transformers) {imported_s:6.2f} s")
    print(f"model load                                        {times.model_load_s:6.2f} s")
    print(f"embedding index build (64 sessions)               {times.index_build_s:6.2f} s")
    print(f"question rounds per mode: {len(on.round_s)}, seed {args.seed}, "
          f"identical answers: {'yes' if on.answers == off.answers else 'no'}")  # fmt: skip
    print(f"{'':34}{'telemetry off':>14}{'telemetry on':>14}")
    for label, pick in [
        ("round time median (s)", lambda m: statistics.median(m.round_s)),
        ("round time max (s)", lambda m: max(m.round_s)),
        ("flush after a round, median (ms)", lambda m: 1000 * statistics.median(m.flush_s)),
        ("output tokens per round", lambda m: m.output_tokens / len(m.round_s)),
        ("output tokens/s, wall clock", lambda m: m.tokens_per_s),
        ("output tokens/s, process CPU time", lambda m: m.tokens_per_cpu_s),
    ]:
        print(f"{label:34}{pick(off):14.2f}{pick(on):14.2f}")
    print("telemetry overhead (1 - on/off tokens/s), target <= 3 %:")
    for label, ratio in [
        ("wall clock", on.tokens_per_s / off.tokens_per_s),
        ("process CPU time", on.tokens_per_cpu_s / off.tokens_per_cpu_s),
        ("median of per-question pairs", paired),
    ]:
        print(f"  {label:32}{(1 - ratio) * 100:+7.2f} %  (ratio {ratio:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
