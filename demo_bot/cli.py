"""Command line: interactive chat, N sample questions, or an endless loop for `localobs up --demo`.

SIGTERM (how `localobs up --demo` stops the bot) exits at once with status 0: the question in
progress stops (its spans end with `error.type` SystemExit) and the telemetry is flushed first.
Ctrl-C does the same in the batch modes; in the chat it only interrupts the current answer.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType

from demo_bot import READY_LINE, extra_bufts
from demo_bot.app import build_bot
from demo_bot.dataset import CONFERENCE, load_questions
from demo_bot.flow import FOLLOW_UPS, Conversation, FlowConfig, SessionBot
from demo_bot.llm import ModelOptions
from demo_bot.telemetry import Telemetry, capture_content_enabled, setup_telemetry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo_bot",
        description=f"Offline session recommender for {CONFERENCE}, traced with OpenTelemetry.",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", type=Path, help="a chat GGUF (default: bundled SmolLM2-135M)")
    model.add_argument("--n-gpu-layers", type=int, default=0, help="layers to offload (-1: all)")
    model.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    model.add_argument("--seed", type=int, default=42, help="sampling seed (default: 42)")
    model.add_argument(extra_bufts.FLAG, action="store_true", help=extra_bufts.FLAG_HELP)
    model.add_argument(
        "--max-tokens", type=int, default=64, help="budget of the recommendation (default: 64)"
    )
    model.add_argument(
        "--temperature",
        type=float,
        default=0.7,
        help="sampling temperature of the streamed answer; the JSON steps stay at 0 "
        "(default: 0.7, so replaying an answer shows how it varies)",
    )
    flow = parser.add_argument_group("flow")
    flow.add_argument(
        "--threshold", type=float, default=0.75, help="judge score that is enough (default: 0.75)"
    )
    parser.add_argument(
        "--no-content", action="store_true", help="send no prompt or answer text in telemetry"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--questions", type=int, metavar="N", help="ask N questions (follow-ups count), exit"
    )
    mode.add_argument("--loop", action="store_true", help="ask the sample questions forever")
    parser.add_argument(
        "--pause", type=float, default=2.0, help="seconds between looped questions (default: 2)"
    )
    return parser


def _exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def visits(questions: Iterable[str]) -> Iterator[tuple[str, Conversation]]:
    """Each sample question starts a visitor's conversation; one or two follow-ups come next."""
    for number, question in enumerate(questions):
        conversation = Conversation()
        yield question, conversation
        first = number % len(FOLLOW_UPS)
        for follow_up in FOLLOW_UPS[first : first + 1 + number % 2]:
            yield follow_up, conversation


def _ask(bot: SessionBot, telemetry: Telemetry, question: str, conversation: Conversation) -> bool:
    _write(f"\n> {question}\n")
    try:
        bot.ask(question, _write, conversation)
    except Exception as exc:  # one failed question must not end a demo loop
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    finally:
        telemetry.flush()
    return True


def _run_batch(
    bot: SessionBot,
    telemetry: Telemetry,
    questions: Iterable[tuple[str, Conversation]],
    pause: float,
) -> int:
    failures = 0
    try:
        for number, (question, conversation) in enumerate(questions):
            if number:
                time.sleep(pause)
            started = time.perf_counter()
            answered = _ask(bot, telemetry, question, conversation)
            failures += not answered
            if number == 0:
                outcome = "answered" if answered else "failed"
                took = time.perf_counter() - started
                print(f"\n{READY_LINE} (first question {outcome} in {took:.1f} s)", file=sys.stderr)
    except KeyboardInterrupt:
        print("\n(stopped)", file=sys.stderr)
    return 1 if failures else 0


def _run_interactive(bot: SessionBot, telemetry: Telemetry) -> int:
    print(f"Ask about the {CONFERENCE} program. An empty line or Ctrl-D quits.")
    conversation = Conversation()
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            bot.ask(question, _write, conversation)
        except KeyboardInterrupt:
            print("\n(interrupted)")
        finally:
            telemetry.flush()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit)
    telemetry = setup_telemetry(capture_content=capture_content_enabled(args.no_content))
    try:
        bot, times = build_bot(
            ModelOptions(
                path=args.model,
                n_gpu_layers=args.n_gpu_layers,
                threads=args.threads,
                seed=args.seed,
                extra_bufts=args.extra_bufts,
            ),
            FlowConfig(
                threshold=args.threshold,
                max_tokens=args.max_tokens,
                answer_temperature=args.temperature,
            ),
            telemetry,
        )
        print(
            f"session-bot: model loaded in {times.model_load_s:.2f} s, "
            f"index built in {times.index_build_s:.2f} s",
            file=sys.stderr,
        )
        print(f"session-bot: {times.backend}", file=sys.stderr)
        samples = load_questions()
        if args.loop:
            return _run_batch(bot, telemetry, visits(itertools.cycle(samples)), args.pause)
        if args.questions is not None:
            chosen = itertools.islice(visits(itertools.cycle(samples)), args.questions)
            return _run_batch(bot, telemetry, chosen, 0.0)
        return _run_interactive(bot, telemetry)
    finally:
        telemetry.shutdown()
