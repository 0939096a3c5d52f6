"""Offline conference-session recommender that emits GenAI telemetry for localobs."""
