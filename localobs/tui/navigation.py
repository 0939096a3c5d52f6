"""Requests to show another screen: screens post them, the app pushes the screen.

So no screen imports another: a run's step opens its call, a call opens its run or its
conversation, whichever screen they are on.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class OpenCall(Message):
    call_id: int


@dataclass
class OpenRun(Message):
    run_id: str


@dataclass
class OpenConversation(Message):
    conversation_id: str
