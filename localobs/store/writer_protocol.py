"""What the writer process sends back to the front, as marshal-able plain values.

Two kinds of frame travel from the writer: a list of acks (one per batch of a committed or failed
group) and a status report (a dict) that sets or clears a condition, or asks the front to log a
line (the writer never prints: a viewer may be drawing on the terminal).
"""

from __future__ import annotations

from typing import Any, Literal

FailureKind = Literal["retry", "reject"]
# ("retry", why): nothing was stored, the same batch may be stored later (HTTP 503).
# ("reject", why): this batch can never be stored (HTTP 400).
Failure = tuple[str, str]
Ack = tuple[int, Failure | None]
# {"set": source, "level", "message", "details"} | {"clear": source} | {"log": line}
StatusReport = dict[str, Any]
