"""What an empty calls list says: the exact lines that make an app send its calls here, or,
while something is wrong (the demo bot crashed, the writer is down), what is wrong instead."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from localobs.conditions import Condition
from localobs.tui import format as fmt
from localobs.tui.widgets.conditions_bar import condition_line, log_tail

EMPTY_TAIL_LINES = 8


def empty_content(
    endpoint_url: str | None,
    search: str,
    grpc_url: str | None = None,
    conditions: Sequence[Condition] = (),
) -> Content:
    if search:
        return Content.assemble(
            "No calls match ",
            fmt.shown(search, "b"),
            ".\n\nPress / to change the search, escape to clear it.",
        )
    errors = [condition for condition in conditions if condition.level == "error"]
    if errors:
        problems = Content("\n\n").join(
            _with_tail(Content.styled(condition.message, "$text-error b"), condition)
            for condition in errors
        )
        if endpoint_url is None:
            return problems
        return Content.assemble(
            problems, "\n\nOther apps can still send their calls here; paste in their shell:\n\n"
        ) + _instructions(endpoint_url, grpc_url)
    if endpoint_url is None:
        return Content(
            "No model calls in this database yet.\n\n"
            "Run `localobs up` to receive them, then point your app at it."
        )
    if not conditions:
        return Content.assemble(
            ("No model calls yet.", "b"),
            " Point your app at this receiver; paste in its shell:\n\n",
        ) + _instructions(endpoint_url, grpc_url)
    # Nothing wrong now, but worth knowing (e.g. the demo bot starting again): said first.
    return Content("\n").join(
        [
            Content.styled("No model calls yet.", "b"),
            *(_with_tail(condition_line(condition), condition) for condition in conditions),
            Content("\nPoint your app at this receiver; paste in its shell:\n\n")
            + _instructions(endpoint_url, grpc_url),
        ]
    )


def _with_tail(heading: Content, condition: Condition) -> Content:
    """`heading`, then the last lines of output the condition carries, shown literally."""
    lines = [heading]
    if tail := log_tail(condition)[-EMPTY_TAIL_LINES:]:
        lines.append(Content.styled("Its last lines:", "$foreground-muted"))
        lines.extend(Content.styled(f"  {line}", "$foreground-muted") for line in tail)
    return Content("\n").join(lines)


def _instructions(endpoint_url: str, grpc_url: str | None) -> Content:
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
        (f"  export OTEL_EXPORTER_OTLP_ENDPOINT={fmt.name(endpoint_url)}\n", "$text-accent b"),
        ("  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n", "$text-accent b"),
        (
            protocols + " Model calls appear here as they are made: spans with\n"
            "GenAI attributes (gen_ai.operation.name, gen_ai.request.model, usage, messages).",
            "$foreground-muted",
        ),
    )


class EmptyState(Static):
    """Redrawn when the screen shows it and when `app.conditions` (the board) changes."""

    _shown: tuple[str | None, str, str | None] | None = None
    _conditions: Sequence[Condition] = ()

    def on_mount(self) -> None:
        self.watch(self.app, "conditions", self._conditions_changed)

    def show(self, endpoint_url: str | None, search: str, grpc_url: str | None = None) -> None:
        self._shown = (endpoint_url, search, grpc_url)
        self._redraw()

    def _conditions_changed(self, conditions: Sequence[Condition] | None) -> None:
        self._conditions = conditions or ()
        self._redraw()

    def _redraw(self) -> None:
        if self._shown is not None:
            self.update(empty_content(*self._shown, conditions=self._conditions))
