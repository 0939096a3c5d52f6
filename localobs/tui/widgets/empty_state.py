"""What an empty calls list says: the exact lines that make an app send its calls here."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from localobs.tui import format as fmt


def empty_content(endpoint_url: str | None, search: str, grpc_url: str | None = None) -> Content:
    if search:
        return Content.assemble(
            "No calls match ",
            fmt.shown(search, "b"),
            ".\n\nPress / to change the search, escape to clear it.",
        )
    if endpoint_url is None:
        return Content(
            "No model calls in this database yet.\n\n"
            "Run `localobs up` to receive them, then point your app at it."
        )
    if grpc_url is None:
        protocols = (
            "\nThe second line is for SDKs whose default is gRPC (Java, Go, .NET): localobs\n"
            "speaks OTLP over HTTP here."
        )
    else:
        protocols = (
            "\nThe second line makes any SDK use OTLP/HTTP (JavaScript and the Java agent 2.x do\n"
            f"anyway). gRPC exporters (opentelemetry-instrument, .NET, most Go) can keep their\n"
            f"protocol and use OTEL_EXPORTER_OTLP_ENDPOINT={fmt.name(grpc_url)} instead."
        )
    return Content.assemble(
        ("No model calls yet.", "b"),
        " Point your app at this receiver; paste in its shell:\n\n",
        (f"  export OTEL_EXPORTER_OTLP_ENDPOINT={fmt.name(endpoint_url)}\n", "$text-accent b"),
        ("  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n", "$text-accent b"),
        (
            protocols + " Model calls appear here as they are made: spans with\n"
            "GenAI attributes (gen_ai.operation.name, gen_ai.request.model, usage, messages).",
            "$foreground-muted",
        ),
    )


class EmptyState(Static):
    def show(self, endpoint_url: str | None, search: str, grpc_url: str | None = None) -> None:
        self.update(empty_content(endpoint_url, search, grpc_url))
