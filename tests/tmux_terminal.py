"""A real terminal for the viewer's tests: tmux, driven by keys and read back with capture-pane."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class Tmux:
    def __init__(self, session: str) -> None:
        self.session = session

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def screen_with_styles(self) -> str:
        """The screen with its cells' styles as SGR sequences (how tmux stored what it was sent)."""
        return self.run("capture-pane", "-p", "-e", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if condition(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the terminal shows:\n{shown}")
            time.sleep(0.1)


def exit_code(exit_file: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return exit_file.read_text().strip()
