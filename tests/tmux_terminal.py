"""A real terminal for the viewer's tests: tmux, driven by keys and read back with capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


class Tmux:
    """One session on a tmux server of its own (`-S`): a server whose last session was just killed
    exits while a new client may still reach it, and tmux then fails that client's `new-session`
    (seen once in CI, between two tests)."""

    def __init__(self, session: str) -> None:
        self.session = session
        self._home = Path(tempfile.mkdtemp(prefix="localobs-tmux-"))

    def run(self, *args: str) -> str:
        command = ["tmux", "-S", str(self._home / "socket"), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def close(self) -> None:
        """Stop the session and its server, and remove the server's socket."""
        subprocess.run(
            ["tmux", "-S", str(self._home / "socket"), "kill-server"], capture_output=True
        )
        shutil.rmtree(self._home, ignore_errors=True)

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
