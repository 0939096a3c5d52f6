"""One replay run's outcome, and the JSON line carrying it from `localobs replay` to a viewer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one replay of a call gave; `error` set means the run failed and has no output."""

    run: int
    temperature: float | None
    text: str
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: float
    ttft_ms: float | None
    start_unix_nano: int
    response_model: str | None = None
    error: str | None = None
    call_id: int | None = None
    """The stored replay call (its spans rowid), once it is committed."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


def event_line(event: str, **fields: Any) -> bytes:
    """One line of `localobs replay --json-lines`: `{"event": ..., ...}`."""
    return orjson.dumps({"event": event, **fields}) + b"\n"
