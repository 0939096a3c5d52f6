"""Telemetry leaving localobs: forwarding to upstreams, and export/import of what is stored."""
