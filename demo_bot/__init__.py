"""Offline conference-session recommender that emits GenAI telemetry for localobs."""

READY_LINE = "session-bot: running"
"""Printed once the first question has been through the model. `localobs up --demo` reports the
bot as running only from then on: a bot that dies on its first decode has not got going."""
