"""Who may use the receiver, and what it shows: Host checks against DNS rebinding, the bearer
token (on /health too, scheme in any case), no endpoints beyond OTLP and /health, and forward
URLs' credentials masked everywhere they are shown."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from localobs.receiver.grpc_server import SERVICES
from tests.conftest import RunningReceiver, start_localobs
from tests.otlp_samples import trace_request
from tests.test_grpc_receiver import Listeners, listeners, target  # noqa: F401 (a fixture)
from tests.test_grpc_up import free_port
from tests.test_receiver_bounds import drain

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def spans_stored(receiver: RunningReceiver) -> int:
    return httpx.get(f"{receiver.url}/health").json()["counts"]["spans"]  # type: ignore[no-any-return]


def post_trace(url: str, host: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = trace_request(1, name_prefix=host).SerializeToString()
    return httpx.post(
        f"{url}/v1/traces", content=body, headers={**PROTOBUF, "Host": host, **(headers or {})}
    )


def test_a_page_rebound_to_loopback_is_refused_and_stores_nothing(
    receiver: RunningReceiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        response = post_trace(receiver.url, host)
        assert response.status_code == 421, host
        assert httpx.get(f"{receiver.url}/health", headers={"Host": host}).status_code == 421
    preflight = httpx.options(
        f"{receiver.url}/v1/traces",
        headers={
            "Host": "evil.example",
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert preflight.status_code == 421
    assert spans_stored(receiver) == 0
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert post_trace(receiver.url, host).status_code == 200, host
    assert spans_stored(receiver) == 4


def grpc_export(address: str, authority: str | None = None, token: str | None = None) -> None:
    options = [("grpc.default_authority", authority)] if authority else []
    metadata = [("authorization", token)] if token else None
    with grpc.insecure_channel(address, options=options) as channel:
        call = channel.unary_unary(
            f"/{SERVICES['traces']}/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        call(trace_request(1).SerializeToString(), timeout=30, metadata=metadata)


def test_grpc_with_a_foreign_authority_is_refused(listeners: Listeners) -> None:  # noqa: F811
    address = target(listeners.grpc)
    with pytest.raises(grpc.RpcError) as refused:
        grpc_export(address, authority="evil.example")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert spans_stored(listeners.http) == 0
    grpc_export(address, authority=f"localhost:{listeners.grpc.port}")
    assert spans_stored(listeners.http) == 1


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"])
def test_nothing_is_served_beyond_otlp_and_health(receiver: RunningReceiver, path: str) -> None:
    assert httpx.get(f"{receiver.url}{path}").status_code == 404


def test_token_guards_health_too_and_the_scheme_is_case_insensitive(tmp_path: Path) -> None:
    grpc_port = free_port()
    running = start_localobs(
        tmp_path / "token.db",
        "--token",
        "s3cret",
        "--allow-host",
        "my.box",
        "--grpc-port",
        str(grpc_port),
    )
    port = running.url.rsplit(":", 1)[1]
    try:
        assert httpx.get(f"{running.url}/health").status_code == 401
        lower = {"Authorization": "bearer s3cret"}
        assert httpx.get(f"{running.url}/health", headers=lower).status_code == 200
        assert post_trace(running.url, f"localhost:{port}", lower).status_code == 200
        assert post_trace(running.url, f"my.box:{port}", lower).status_code == 200
        assert post_trace(running.url, "other.box", lower).status_code == 421
        assert (
            post_trace(running.url, "localhost", {"Authorization": "Basic s3cret"}).status_code
            == 401
        )
        grpc_export(f"127.0.0.1:{grpc_port}", token="BEARER s3cret")
        with pytest.raises(grpc.RpcError) as refused:
            grpc_export(f"127.0.0.1:{grpc_port}", token="bearer wrong")
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        health = httpx.get(f"{running.url}/health", headers=lower).json()
        assert health["counts"]["spans"] == 3
    finally:
        assert running.stop() == 0


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)
    return result


def test_forward_credentials_are_masked_in_banner_info_health_and_logs(tmp_path: Path) -> None:
    db = tmp_path / "forward.db"
    upstream = f"http://user:hunter2@127.0.0.1:{free_port()}"  # nothing listens: it fails
    running = start_localobs(
        db,
        "--forward",
        upstream,
        "--forward-max-mb",
        "0.000001",  # so that the batch is dropped at once, with a warning naming the upstream
        "--forward-max-backoff",
        "0.3",
    )
    output = drain(running)
    masked = "http://user:***@127.0.0.1:"
    try:
        assert post_trace(running.url, "localhost").status_code == 200
        warning = wait_for(lambda: [line for line in output if "dropped" in line])
        assert masked in warning[0]
        health = httpx.get(f"{running.url}/health").text
        assert masked in health
        info = [
            subprocess.run(
                [sys.executable, "-m", "localobs", "info", "--db", str(db), *extra],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            for extra in ([], ["--json"])
        ]
        assert all(masked in text for text in info)
    finally:
        assert running.stop() == 0
    time.sleep(0.3)  # the drain thread reads the last lines
    banner = next(line for line in output if line.startswith("Forwarding everything"))
    assert masked in banner
    for text in [health, *info, *output]:
        assert "hunter2" not in text


def test_export_to_a_url_with_credentials_masks_them(tmp_path: Path) -> None:
    running = start_localobs(tmp_path / "export.db")
    try:
        assert post_trace(running.url, "localhost").status_code == 200
    finally:
        assert running.stop() == 0
    result = subprocess.run(
        [sys.executable, "-m", "localobs", "export", "--db", str(tmp_path / "export.db")]
        + ["--to", f"http://user:hunter2@127.0.0.1:{free_port()}"],  # nothing listens
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "http://user:***@127.0.0.1:" in result.stdout
    assert "not taken" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
