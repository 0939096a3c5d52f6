"""GenAI normalization: every dialect of LLM telemetry becomes the same LLM-call columns.

`normalize_span` runs per span on the ingest hot path and returns the tail of `SPAN_COLUMNS`
(`CALL_FIELDS`) or None; `normalize_log_event` turns GenAI log events into patches that
`localobs.store.genai_join` merges into their span's row. `restore` rebuilds the attributes that
normalization moved into the message columns (see `moved`). Dialect modules: `semconv` (1, 3),
`log_events` (2), `openllmetry` (4), `openinference` (5), `vercel_ai` (6); `ttft` reads a call's
time to first token for all of them.
"""

from localobs.receiver.genai.dispatch import normalize_span
from localobs.receiver.genai.log_events import normalize_log_event
from localobs.receiver.genai.moved import MOVED_KEY, restore
from localobs.receiver.genai.record import CALL_FIELDS

__all__ = ["CALL_FIELDS", "MOVED_KEY", "normalize_log_event", "normalize_span", "restore"]
