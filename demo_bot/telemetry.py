"""OpenTelemetry SDK set-up for the bot: traces, metrics and logs over OTLP/HTTP protobuf.

Exporters read the standard variables themselves (`OTEL_EXPORTER_OTLP_ENDPOINT`, default
http://localhost:4318, headers, timeouts). Providers are handed to the components explicitly
instead of being installed globally, so a benchmark can run with and without telemetry in one
process.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry._logs import Logger, SeverityNumber

from demo_bot.genai import GenAIMetrics

SERVICE_NAME = "session-bot"
LOGGER_NAME = "demo_bot"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# Explicit bucket boundaries advised by the GenAI semantic conventions.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)  # fmt: skip
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92)  # fmt: skip
TIME_PER_OUTPUT_TOKEN_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
                                 1.0, 2.5)  # fmt: skip
HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    "gen_ai.client.token.usage": TOKEN_BUCKETS,
    "gen_ai.client.operation.duration": DURATION_BUCKETS,
    "gen_ai.client.operation.time_to_first_chunk": DURATION_BUCKETS,
    "gen_ai.server.time_per_output_token": TIME_PER_OUTPUT_TOKEN_BUCKETS,
}

# Metrics reach the viewer every few seconds unless the user sets the standard variable.
DEFAULT_METRIC_INTERVAL_MS = 5000
# Spans and log records leave within half a second of ending (the SDK's default waits up to 5 s):
# the viewer is live, and a question's run should show as soon as it is answered.
DEFAULT_EXPORT_DELAY_MS = 500

_OFF_VALUES = {"false", "0", "no", "off", "none", "no_content"}
_SEVERITY = {
    logging.DEBUG: SeverityNumber.DEBUG,
    logging.INFO: SeverityNumber.INFO,
    logging.WARNING: SeverityNumber.WARN,
    logging.ERROR: SeverityNumber.ERROR,
    logging.CRITICAL: SeverityNumber.FATAL,
}


class _Provider(Protocol):
    def force_flush(self, timeout_millis: int = ...) -> bool: ...
    def shutdown(self) -> object: ...


def capture_content_enabled(no_content_flag: bool) -> bool:
    """Content is captured unless `--no-content` or the standard variable turns it off."""
    if no_content_flag:
        return False
    return os.environ.get(CAPTURE_CONTENT_ENV, "true").strip().lower() not in _OFF_VALUES


class OtlpLogHandler(logging.Handler):
    """Sends `logging` records through the OTel Logs API with the active span's context.

    A dozen lines of our own instead of the SDK's LoggingHandler, which is deprecated in
    favour of a contrib package this project does not install.
    """

    def __init__(self, logger: Logger) -> None:
        super().__init__(level=logging.INFO)
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        level = max((lvl for lvl in _SEVERITY if lvl <= record.levelno), default=logging.DEBUG)
        self._logger.emit(
            timestamp=int(record.created * 1e9),
            observed_timestamp=time.time_ns(),
            context=otel_context.get_current(),
            severity_number=_SEVERITY[level],
            severity_text=record.levelname,
            body=record.getMessage(),
            attributes={"code.function.name": record.funcName, "code.line.number": record.lineno},
        )


@dataclass
class Telemetry:
    """What the bot's components instrument themselves with, plus flush and shutdown."""

    tracer: trace.Tracer
    meter: metrics.Meter
    capture_content: bool
    _providers: list[_Provider] = field(default_factory=list)
    _handler: logging.Handler | None = None
    genai_metrics: GenAIMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.genai_metrics = GenAIMetrics(self.meter)

    def flush(self) -> None:
        """Export finished spans, logs and metrics now: the viewer shows a question as it ends."""
        for provider in self._providers:
            provider.force_flush()

    def shutdown(self) -> None:
        """Export everything still buffered (metrics included) and stop the exporters."""
        if self._handler is not None:
            logging.getLogger(LOGGER_NAME).removeHandler(self._handler)
            self._handler = None
        for provider in self._providers:
            provider.shutdown()
        self._providers.clear()


def setup_telemetry(*, enabled: bool = True, capture_content: bool = True) -> Telemetry:
    """Build providers exporting over OTLP/HTTP, or no-op ones when `enabled` is False.

    `OTEL_SDK_DISABLED=true` disables telemetry as it does for any OTel SDK user.
    """
    enabled = enabled and os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"
    if not enabled:
        return Telemetry(
            tracer=trace.NoOpTracer(),
            meter=metrics.NoOpMeter(LOGGER_NAME),
            capture_content=capture_content,
        )

    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": SERVICE_NAME})

    tracer_provider = TracerProvider(resource=resource)
    span_delay = None if "OTEL_BSP_SCHEDULE_DELAY" in os.environ else DEFAULT_EXPORT_DELAY_MS
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=span_delay)
    )

    interval = None if "OTEL_METRIC_EXPORT_INTERVAL" in os.environ else DEFAULT_METRIC_INTERVAL_MS
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=[
            PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=interval)
        ],
        views=[
            View(
                instrument_name=name,
                aggregation=ExplicitBucketHistogramAggregation(boundaries=buckets),
            )
            for name, buckets in HISTOGRAM_BUCKETS.items()
        ],
    )

    logger_provider = LoggerProvider(resource=resource)
    log_delay = None if "OTEL_BLRP_SCHEDULE_DELAY" in os.environ else DEFAULT_EXPORT_DELAY_MS
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(), schedule_delay_millis=log_delay)
    )
    handler = OtlpLogHandler(logger_provider.get_logger(LOGGER_NAME))
    bot_logger = logging.getLogger(LOGGER_NAME)
    bot_logger.addHandler(handler)
    bot_logger.setLevel(logging.INFO)

    return Telemetry(
        tracer=tracer_provider.get_tracer(LOGGER_NAME),
        meter=meter_provider.get_meter(LOGGER_NAME),
        capture_content=capture_content,
        _providers=[tracer_provider, logger_provider, meter_provider],
        _handler=handler,
    )
