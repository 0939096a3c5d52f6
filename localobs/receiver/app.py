"""The OTLP/HTTP receiver as an ASGI app: POST /v1/traces, /v1/metrics, /v1/logs and GET /health."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from localobs import __version__
from localobs.receiver.bodies import BodyError, Format, content_format, read_body
from localobs.receiver.pipeline import decode_body, export_response
from localobs.receiver.responses import error_response, success_response
from localobs.store import Signal, Store, StoreBusy, StoreUnavailable
from localobs.store.outbox import forwarding_status
from localobs.store.queries import row_counts
from localobs.store.retention import retention_status

DEFAULT_MAX_BODY = 64 << 20
RETRY_AFTER_S = "1"
_LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}


class _BearerToken:
    """Refuses requests without `Authorization: Bearer <token>`.

    CORS preflights carry no credentials by design, and /health stays open for liveness probes.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS" and scope["path"] != "/health":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                fmt = (
                    Format.JSON
                    if b"json" in dict(scope["headers"]).get(b"content-type", b"")
                    else Format.PROTOBUF
                )
                response = error_response(
                    401, "missing or wrong bearer token", fmt, {"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _export_handler(
    store: Store, signal: Signal, max_body: int
) -> Callable[[Request], Awaitable[Response]]:
    async def export(request: Request) -> Response:
        try:
            fmt = content_format(request.headers.get("content-type"))
        except BodyError as exc:
            return error_response(exc.status, exc.message, Format.PROTOBUF)
        try:
            body = await read_body(
                request.stream(), request.headers.get("content-encoding"), max_body
            )
            batch, rejections = decode_body(signal, body, fmt)
        except BodyError as exc:
            return error_response(exc.status, exc.message, fmt)
        if batch.rows or batch.resources:
            try:
                await asyncio.wrap_future(store.submit(batch))
            except (StoreBusy, StoreUnavailable) as exc:
                return error_response(503, str(exc), fmt, {"Retry-After": RETRY_AFTER_S})
        return success_response(export_response(signal, rejections), fmt)

    return export


def create_receiver_app(
    store: Store, *, max_body: int = DEFAULT_MAX_BODY, token: str | None = None
) -> ASGIApp:
    """The receiver for `store` (whose writer must be started). `token` turns on bearer auth."""
    app = FastAPI(title="localobs receiver", version=__version__, docs_url=None, redoc_url=None)
    for path, signal in _PATHS.items():
        app.add_api_route(path, _export_handler(store, signal, max_body), methods=["POST"])

    async def health() -> JSONResponse:
        conn = store.reader()
        try:
            counts = row_counts(conn)
            forwarding = forwarding_status(conn)
            retention = retention_status(conn, store.path)
        finally:
            conn.close()
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "counts": {
                    "spans": counts.spans,
                    "logs": counts.logs,
                    "metric_points": counts.metric_points,
                },
                "pending_bytes": store.pending_bytes,
                "forwarding": [asdict(each) | {"failing": each.failing} for each in forwarding],
                "retention": asdict(retention) | {"pruning": retention.pruning},
            }
        )

    app.add_api_route("/health", health, methods=["GET"])
    wrapped: ASGIApp = app
    if token:
        wrapped = _BearerToken(wrapped, token)
    return CORSMiddleware(
        wrapped,
        allow_origin_regex=_LOCAL_ORIGINS,
        allow_methods=["POST", "GET", "OPTIONS"],
        allow_headers=["*"],
        max_age=600,
    )
