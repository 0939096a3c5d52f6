"""The fictional conference program and the sample questions shipped with the bot.

The data lives in package files so that the bot runs offline from any install location.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONFERENCE = "Driftline Cloud Native Summit 2026"
DATA_DIR = Path(__file__).resolve().parent / "data"
LEVELS = ("beginner", "intermediate", "advanced")


@dataclass(frozen=True, slots=True)
class Session:
    """One talk of the program; `title` is the only name the bot may show for it."""

    id: str
    title: str
    abstract: str
    track: str
    level: str
    speaker: str
    company: str
    day: str
    start: str
    end: str
    room: str

    def embedding_text(self) -> str:
        """What the retriever embeds: the words a question is likely to share."""
        return f"{self.title}. {self.track}. {self.abstract}"

    def summary(self) -> str:
        """The abstract's first sentence: enough for the judge, half the prompt tokens."""
        return self.abstract.split(". ", 1)[0].rstrip(".") + "."

    def listing(self) -> str:
        """One line for the answer, built from the dataset only."""
        return (
            f"{self.title} ({self.track}, {self.level}) - {self.speaker}, "
            f"{self.day} {self.start}-{self.end}, {self.room}"
        )


def _data_text(name: str) -> str:
    return (DATA_DIR / name).read_text(encoding="utf-8")


def load_sessions() -> list[Session]:
    """Parse `sessions.jsonl`; raises ValueError on a malformed or duplicate entry."""
    sessions: list[Session] = []
    for number, line in enumerate(_data_text("sessions.jsonl").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            session = Session(
                id=row["id"],
                title=row["title"],
                abstract=row["abstract"],
                track=row["track"],
                level=row["level"],
                speaker=row["speaker"]["name"],
                company=row["speaker"]["company"],
                day=row["slot"]["day"],
                start=row["slot"]["start"],
                end=row["slot"]["end"],
                room=row["slot"]["room"],
            )
        except KeyError as exc:
            raise ValueError(f"sessions.jsonl line {number}: missing {exc}") from exc
        if session.level not in LEVELS:
            raise ValueError(f"sessions.jsonl line {number}: unknown level {session.level!r}")
        sessions.append(session)
    if len({s.title.casefold() for s in sessions}) != len(sessions):
        raise ValueError("sessions.jsonl: session titles must be unique")
    if len({s.id for s in sessions}) != len(sessions):
        raise ValueError("sessions.jsonl: session ids must be unique")
    return sessions


def load_topics() -> list[str]:
    """The program's topic vocabulary: the only words the keyword step may propose."""
    topics: list[str] = json.loads(_data_text("topics.json"))
    if not all(isinstance(t, str) and t == t.strip().lower() and t for t in topics):
        raise ValueError("topics.json must be a list of non-empty lowercase strings")
    return topics


def load_questions() -> list[str]:
    """The sample questions used by `--questions N` and `--loop`."""
    questions: list[str] = json.loads(_data_text("questions.json"))
    if not all(isinstance(q, str) and q.strip() for q in questions):
        raise ValueError("questions.json must be a list of non-empty strings")
    return questions
