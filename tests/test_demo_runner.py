"""The demo bot's supervisor: its states on the conditions board, and giving up on a dying bot.

The bots here are tiny `python -c` scripts standing in for `python -m demo_bot`: the real bot
cannot be made to crash on demand (on a CPU with AMX it used to, see demo_bot.extra_bufts). The
crash itself is real: the script kills itself with SIGSEGV, as llama.cpp did.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from demo_bot import READY_LINE
from localobs.conditions import Conditions
from localobs.demo_runner import DemoBot, DemoStatus, describe_exit

SEGFAULT = (
    "import os, signal; print('loading the [b]model[/b] \\x1b[31mred'); "
    "os.kill(os.getpid(), signal.SIGSEGV)"
)


def wait_for(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def supervise(
    tmp_path: Path, script: str, **options: float
) -> tuple[DemoBot, list[DemoStatus], Conditions]:
    """A DemoBot running `script` instead of the bot; the states it went through; its board."""
    seen: list[DemoStatus] = []
    board = Conditions()
    bot = DemoBot(
        "http://127.0.0.1:9",
        tmp_path / "demo-bot.log",
        board,
        command=[sys.executable, "-c", script],
        restart_delay_s=0.01,
        on_change=seen.append,
        **options,  # type: ignore[arg-type]
    )
    bot.start()
    return bot, seen, board


def test_a_bot_that_keeps_crashing_is_given_up_on_and_the_board_says_why(tmp_path: Path) -> None:
    bot, seen, board = supervise(tmp_path, SEGFAULT, max_fast_failures=3)
    try:
        wait_for(lambda: seen and seen[-1].state == "gave up")
        time.sleep(0.5)  # it would have restarted by now
        states = [status.state for status in seen]
        assert states == ["starting", "crashed"] * 2 + ["starting", "gave up"]
        levels = [status.level for status in seen]
        assert levels == ["info", "error", "warning", "error", "warning", "error"]
        log = (tmp_path / "demo-bot.log").read_text()
        assert log.count("loading the [b]model[/b]") == 3
        assert "not restarting" in log

        condition = board.get("demo")
        assert condition is not None and condition.level == "error"
        assert "gave up" in condition.message and "status -11 (SIGSEGV)" in condition.message
        assert condition.details["state"] == "gave up"
        assert condition.details["exit_status"] == -11
        assert condition.details["restarts"] == 2
        tail = condition.details["log_tail"]
        # Control characters come escaped; the fault handler's report is there.
        assert "loading the [b]model[/b] \\x1b[31mred" in tail
        assert any("Segmentation fault" in line for line in tail)
    finally:
        bot.stop()
    assert board.get("demo") is None


def test_running_means_the_bot_printed_its_ready_line_and_stopping_is_no_crash(
    tmp_path: Path,
) -> None:
    script = f"import sys, time; time.sleep(0.3); print({READY_LINE!r}); time.sleep(60)"
    bot, seen, board = supervise(tmp_path, script)
    try:
        wait_for(lambda: seen and seen[-1].state == "running")
        condition = board.get("demo")
        assert condition is not None and condition.level == "info"
        assert condition.details["pid"] == bot.pid
        assert "log_tail" not in condition.details
    finally:
        bot.stop()
    assert [status.state for status in seen] == ["starting", "running"]
    assert board.get("demo") is None


def test_a_bot_that_dies_after_running_a_while_is_restarted_for_good(tmp_path: Path) -> None:
    script = "import sys, time; time.sleep(0.4); sys.exit(3)"
    bot, seen, _ = supervise(tmp_path, script, max_fast_failures=2, fast_failure_s=0.2)
    try:
        wait_for(lambda: bot.restarts >= 3)
        crashes = [status for status in seen if status.state == "crashed"]
        assert crashes and all("status 3;" in status.message for status in crashes)
        assert "gave up" not in [status.state for status in seen]
    finally:
        bot.stop()


def test_exit_statuses_name_the_signal() -> None:
    assert describe_exit(-11) == "status -11 (SIGSEGV)"
    assert describe_exit(1) == "status 1"
