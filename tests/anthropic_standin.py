"""A small local stand-in of the Anthropic Messages API, for driving the real Claude Code CLI.

It answers `POST /v1/messages` with a streamed (SSE) answer the way the API does: message_start,
content_block_start/delta/stop per block, message_delta with the usage (cache reads and cache
creation included), message_stop. Each answer of a conversation asks for the next tool call of
`tools` (by default the `Bash` tool running `echo`), counting the tool results the request
carries; once every tool has run, it answers in text.
Requests that ask for no tools (the CLI's small side requests) get a short text answer. When
`fail_next` is set, the next main-loop request is refused with that HTTP status (the one fault
this stand-in causes on purpose: the real API's errors cannot be provoked offline).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOL_COMMAND = "echo localobs-tool-ran"
ECHO = ("Bash", {"command": TOOL_COMMAND, "description": "Print a marker"})
ANSWER = "The command printed localobs-tool-ran."
# Usage each main-loop answer reports (the CLI's api_request events should carry these).
USAGE = {
    "input_tokens": 120,
    "output_tokens": 30,
    "cache_read_input_tokens": 400,
    "cache_creation_input_tokens": 50,
}


@dataclass
class StandIn:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    fail_next: int | None = None  # HTTP status for the next main-loop request
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=lambda: [ECHO])
    lock: threading.Lock = field(default_factory=threading.Lock)


def _events(
    message_id: str, model: str, blocks: list[dict[str, Any]], stop: str
) -> Iterator[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    start_usage = {**USAGE, "output_tokens": 1}
    yield event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        },
    )
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            yield event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            yield event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": block["text"]},
                },
            )
        else:
            yield event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            yield event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps(block["input"]),
                    },
                },
            )
        yield event("content_block_stop", {"type": "content_block_stop", "index": index})
    yield event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": USAGE,
        },
    )
    yield event("message_stop", {"type": "message_stop"})


def _tool_results(request: dict[str, Any]) -> int:
    found = 0
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            found += sum(
                1
                for part in content
                if isinstance(part, dict) and part.get("type") == "tool_result"
            )
    return found


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self) -> None:
            with state.lock:
                state.paths.append(f"HEAD {self.path}")
            self._reply(200, b"")

        def do_GET(self) -> None:
            with state.lock:
                state.paths.append(f"GET {self.path}")
            self._reply(404, b'{"type":"error","error":{"type":"not_found_error","message":"no"}}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.paths.append(f"POST {self.path}")
                state.requests.append(request)
                number = len(state.requests)
                main_loop = bool(request.get("tools"))
                fail, state.fail_next = (
                    (state.fail_next, None) if main_loop else (None, state.fail_next)
                )
            if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                self._reply(200, b'{"input_tokens": 10}')
                return
            if fail is not None:
                error = {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "stand-in refused"},
                }
                self._reply(fail, json.dumps(error).encode())
                return
            ran = _tool_results(request)
            if main_loop and ran < len(state.tools):
                tool, tool_input = state.tools[ran]
                blocks: list[dict[str, Any]] = [
                    {"type": "text", "text": "Running it."},
                    {
                        "type": "tool_use",
                        "id": f"toolu_standin{number:04d}",
                        "name": tool,
                        "input": tool_input,
                    },
                ]
                stop = "tool_use"
            else:
                blocks = [{"type": "text", "text": ANSWER if main_loop else "Side answer."}]
                stop = "end_turn"
            model = str(request.get("model") or "")  # the API answers with the model asked for
            if not request.get("stream"):
                body = {
                    "id": f"msg_standin{number:04d}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": USAGE,
                }
                self._reply(200, json.dumps(body).encode())
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for chunk in _events(f"msg_standin{number:04d}", model, blocks, stop):
                self.wfile.write(chunk)
                self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def anthropic_standin() -> Iterator[StandIn]:
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
