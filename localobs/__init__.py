"""localobs: a local, offline LLM observability viewer (OTLP receiver on SQLite + terminal UI)."""

__version__ = "0.1.0"
