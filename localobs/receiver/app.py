"""The OTLP/HTTP receiver as an ASGI app: POST /v1/traces, /v1/metrics, /v1/logs and GET /health."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from localobs import __version__
from localobs.conditions import degraded
from localobs.credentials import masked_status
from localobs.receiver.bodies import BodyError, Format, content_format, read_body
from localobs.receiver.budget import MemoryBudget
from localobs.receiver.envelope import Rejections
from localobs.receiver.guards import AllowedHosts, bearer_matches
from localobs.receiver.pipeline import decode_body, export_response
from localobs.receiver.responses import error_response, success_response
from localobs.store import Batch, BatchRejected, Signal, Store, StoreBusy, StoreUnavailable
from localobs.store.outbox import forwarding_status
from localobs.store.queries import row_counts
from localobs.store.retention import retention_status

DEFAULT_MAX_BODY = 64 << 20
RETRY_AFTER_S = "1"
_LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}


def _request_format(scope: Scope) -> Format:
    """The format to refuse a request in, before its Content-Type was checked."""
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    return Format.JSON if b"json" in content_type else Format.PROTOBUF


class _BearerToken:
    """Refuses requests without `Authorization: Bearer <token>`, /health included (it tells
    what is stored and where it is forwarded). CORS preflights carry no credentials by design."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS":
            given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            if not bearer_matches(given, self._token):
                response = error_response(
                    401,
                    "missing or wrong bearer token",
                    _request_format(scope),
                    {"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


class _HostCheck:
    """Refuses (421) requests whose `Host` is not a name the receiver answers to: the defence
    against DNS rebinding, before anything else (CORS included) looks at the request."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self._app = app
        self._allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self._allowed.allows(host):
                response = error_response(421, self._allowed.refusal(host), _request_format(scope))
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _export_handler(
    store: Store, signal: Signal, max_body: int, budget: MemoryBudget, redact: bool
) -> Callable[[Request], Awaitable[Response]]:
    async def decoded(request: Request, fmt: Format) -> tuple[Batch, Rejections]:
        """The body read and decoded, holding its share of the budget until it is decoded."""
        with budget.hold() as hold:
            body = await read_body(
                request.stream(), request.headers.get("content-encoding"), max_body, hold
            )
            return decode_body(signal, body, fmt, redact=redact)

    async def export(request: Request) -> Response:
        try:
            fmt = content_format(request.headers.get("content-type"))
        except BodyError as exc:
            return error_response(exc.status, exc.message, Format.PROTOBUF)
        try:
            batch, rejections = await decoded(request, fmt)
        except BodyError as exc:
            retry = {"Retry-After": RETRY_AFTER_S} if exc.status == 503 else None
            return error_response(exc.status, exc.message, fmt, retry)
        except ClientDisconnect:  # gone mid-body (or closed for stalling): nobody to answer
            return error_response(400, "the client went away before sending the whole body", fmt)
        if batch.rows or batch.resources:
            try:
                await asyncio.wrap_future(store.submit(batch))
            except (StoreBusy, StoreUnavailable) as exc:
                return error_response(503, str(exc), fmt, {"Retry-After": RETRY_AFTER_S})
            except BatchRejected as exc:
                return error_response(400, str(exc), fmt)
        return success_response(export_response(signal, rejections), fmt)

    return export


def create_receiver_app(
    store: Store,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    token: str | None = None,
    budget: MemoryBudget | None = None,
    allowed_hosts: AllowedHosts | None = None,
    redact: bool = True,
) -> ASGIApp:
    """The receiver for `store` (whose writer must be started). `token` turns on bearer auth;
    `budget` (shared with the gRPC receiver) bounds the memory of bodies in flight;
    `allowed_hosts` are the names it answers to (loopback only by default); `redact` replaces
    credentials in telemetry before it is stored."""
    # Only the OTLP paths and /health: no OpenAPI schema or docs pages.
    app = FastAPI(title="localobs receiver", docs_url=None, redoc_url=None, openapi_url=None)
    budget = budget or MemoryBudget()
    for path, signal in _PATHS.items():
        app.add_api_route(
            path, _export_handler(store, signal, max_body, budget, redact), methods=["POST"]
        )

    async def health() -> JSONResponse:
        conn = store.reader()
        try:
            counts = row_counts(conn)
            forwarding = forwarding_status(conn)
            retention = retention_status(conn, store.path)
        finally:
            conn.close()
        conditions = store.conditions.snapshot()
        return JSONResponse(
            {
                "status": "degraded" if degraded(conditions) else "ok",
                "conditions": [asdict(each) for each in conditions],
                "version": __version__,
                "counts": {
                    "spans": counts.spans,
                    "logs": counts.logs,
                    "metric_points": counts.metric_points,
                },
                "pending_bytes": store.pending_bytes,
                "forwarding": [masked_status(each) for each in forwarding],
                "retention": asdict(retention) | {"pruning": retention.pruning},
            }
        )

    app.add_api_route("/health", health, methods=["GET"])
    wrapped: ASGIApp = app
    if token:
        wrapped = _BearerToken(wrapped, token)
    wrapped = CORSMiddleware(
        wrapped,
        allow_origin_regex=_LOCAL_ORIGINS,
        allow_methods=["POST", "GET", "OPTIONS"],
        allow_headers=["*"],
        max_age=600,
    )
    return _HostCheck(wrapped, allowed_hosts or AllowedHosts("127.0.0.1"))
