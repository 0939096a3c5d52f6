"""Requests to show another screen: screens post them, the app pushes the screen.

So no screen imports another: a run's step opens its call, a call opens its run or its
conversation, whichever screen they are on.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from textual.message import Message
from textual.screen import Screen

from localobs.store.conversations import call_scope
from localobs.tui.context import ViewerContext


@dataclass
class OpenCall(Message):
    call_id: int


@dataclass
class OpenRun(Message):
    run_id: str


@dataclass
class OpenConversation(Message):
    conversation_id: str


def open_scope_of(
    screen: Screen[Any], ctx: ViewerContext, call_id: int, target: Literal["run", "conversation"]
) -> None:
    """Find the call's agent run or conversation (a worker's query), then ask the app to show
    it, or say that the call has none."""

    def find() -> None:
        try:
            with ctx.readers.connection() as conn:
                scope = call_scope(conn, call_id)
        except sqlite3.Error as exc:
            screen.app.call_from_thread(screen.notify, f"reading failed: {exc}", severity="error")
            return
        if target == "run" and scope is not None and scope.run_id:
            screen.app.call_from_thread(screen.post_message, OpenRun(scope.run_id))
        elif target == "conversation" and scope is not None and scope.conversation_id:
            screen.app.call_from_thread(
                screen.post_message, OpenConversation(scope.conversation_id)
            )
        else:
            note = f"This call belongs to no {'agent run' if target == 'run' else target}."
            screen.app.call_from_thread(screen.notify, note, timeout=3)

    screen.run_worker(find, thread=True, group="open-scope", exclusive=True)
