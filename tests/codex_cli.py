"""The real Codex CLI, run offline: its config, its run, and a capture of what it exports.

Codex is pointed at a local Responses API stand-in (tests/responses_standin.py) and exports its
logs, traces and metrics over OTLP/HTTP to a loopback receiver; every outbound feature is off and
an HTTP(S) proxy refuses (and records) anything else it tries to reach.

`python -m tests.codex_cli` re-captures tests/fixtures/codex/exec_logs.json and
exec_websocket_logs.json (the log export of one run over each transport, as OTLP JSON) for the
fast mapper tests. Rerun it after bumping CODEX_VERSION.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.node_clients import bin_path, install
from tests.refusing_proxy import proxy_env, refusing_proxy
from tests.responses_standin import MODEL, Recorded, responses_standin

# Pinned: the current release when written (its npm package ships a native binary for Linux x64).
CODEX_VERSION = "0.171.0"
PROMPT = "Run echo hi and tell me what it printed."
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "codex"
TRANSPORTS = {"http": False, "websocket": True}  # fixture suffix and run_codex's `websocket`


def fixture_path(transport: str) -> Path:
    return FIXTURES / ("exec_logs.json" if transport == "http" else f"exec_{transport}_logs.json")


def codex_config(model_url: str, otlp_url: str, websocket: bool = False) -> str:
    """CODEX_HOME/config.toml: the stand-in as provider (over the Responses API's WebSocket
    transport when `websocket`, as OpenAI's provider is; else HTTP and SSE), nothing else
    reached, OTLP to us."""
    exporter = '{{ otlp-http = {{ endpoint = "{}/v1/{}", protocol = "binary" }} }}'
    return f"""\
model = "{MODEL}"
model_provider = "standin"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.standin]
name = "Stand-in"
base_url = "{model_url}"
wire_api = "responses"
supports_websockets = {str(websocket).lower()}

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
apps = false

[otel]
log_user_prompt = true
exporter = {exporter.format(otlp_url, "logs")}
trace_exporter = {exporter.format(otlp_url, "traces")}
metrics_exporter = {exporter.format(otlp_url, "metrics")}
"""


@dataclass(frozen=True)
class CodexRun:
    completed: subprocess.CompletedProcess[str]
    model: Recorded  # what the stand-in was sent
    outbound: list[str]  # what the refusing proxy was asked for (must stay empty)


def run_codex(
    tmp: Path, otlp_url: str, prompt: str = PROMPT, *command: str, websocket: bool = False
) -> CodexRun:
    """`codex exec [COMMAND...] PROMPT` once, with a temp HOME, TMPDIR and CODEX_HOME under `tmp`
    (the same `tmp` again: the same Codex home, so `resume --last` continues its session)."""
    codex = bin_path(install({"@openai/codex": CODEX_VERSION}), "codex")
    home, codex_home, work, temp = (tmp / name for name in ("home", "codex", "work", "tmp"))
    for path in (home, codex_home, work, temp):
        path.mkdir(parents=True, exist_ok=True)
    with responses_standin() as (model_url, recorded), refusing_proxy() as (proxy, attempts):
        (codex_home / "config.toml").write_text(codex_config(model_url, otlp_url, websocket))
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "TMPDIR": str(temp),
            "CODEX_HOME": str(codex_home),
            **proxy_env(proxy),
        }
        completed = subprocess.run(
            [str(codex), "exec", *command, "--skip-git-repo-check", prompt],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return CodexRun(completed, recorded, list(attempts))


class _Recorder(BaseHTTPRequestHandler):
    """An OTLP/HTTP sink that keeps each request body by path (for the capture only)."""

    server: _RecordingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.bodies: list[tuple[str, bytes]] = []


@contextmanager
def _recording_sink() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    server = _RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.bodies
    finally:
        server.shutdown()
        server.server_close()


def capture(tmp: Path, transport: str) -> None:
    """Run Codex once and write the log requests it exported to its fixture (OTLP JSON)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    with _recording_sink() as (url, bodies):
        run = run_codex(tmp, url, websocket=TRANSPORTS[transport])
    if run.completed.returncode != 0 or run.outbound:
        raise SystemExit(f"codex failed or reached out: {run.completed.stderr} {run.outbound}")
    logs = []
    for path, body in bodies:
        if path == "/v1/logs":
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            logs.append(MessageToDict(request))
    path = fixture_path(transport)
    path.write_text(json.dumps({"codex": CODEX_VERSION, "logs": logs}, indent=1) + "\n")


if __name__ == "__main__":
    import tempfile

    for name in TRANSPORTS:
        with tempfile.TemporaryDirectory() as scratch:
            capture(Path(scratch), name)
