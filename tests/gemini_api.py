"""A local stand-in of the Gemini API for running the real Gemini CLI offline.

It answers `models/<m>:streamGenerateContent?alt=sse` as Gemini does (server-sent events, each a
GenerateContentResponse with `candidates[0].content.parts` and, on the last, `usageMetadata` with
cached and thought token counts): its first answer of a prompt asks for a harmless built-in tool
(listing the working directory), the next one answers in text. A prompt holding FAIL_WORD is
refused with HTTP 400, as the API refuses a bad request. `countTokens` and `generateContent`
(utility calls) get plain answers; anything else is a 404. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOL = "list_directory"
THOUGHT = "The user wants the files listed: I list the directory."
ANSWER_PIECES = ("The folder holds ", "notes.txt and nothing else.")
ANSWER = "".join(ANSWER_PIECES)
FAIL_WORD = "REFUSE-THIS"
# usageMetadata of every streamed answer.
PROMPT_TOKENS, CANDIDATE_TOKENS, CACHED_TOKENS, THOUGHT_TOKENS = 1200, 17, 800, 9


@dataclass
class Recorded:
    path: str
    body: Any


@dataclass
class GeminiStandIn:
    url: str
    requests: list[Recorded] = field(default_factory=list)


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"


def _chunks(model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer to one streamed request: a tool call unless the tool's result was sent."""
    contents = body.get("contents") or []
    answered = any(
        "functionResponse" in part for content in contents[-1:] for part in content.get("parts", [])
    )
    usage = {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": CANDIDATE_TOKENS,
        "cachedContentTokenCount": CACHED_TOKENS,
        "thoughtsTokenCount": THOUGHT_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + CANDIDATE_TOKENS + THOUGHT_TOKENS,
    }
    thought = {"content": {"role": "model", "parts": [{"text": THOUGHT, "thought": True}]}}
    first: dict[str, Any] = {"candidates": [{**thought, "index": 0}], "modelVersion": model}
    if answered:
        pieces = [{"text": piece} for piece in ANSWER_PIECES]
        middle = {"candidates": [{"content": {"role": "model", "parts": [pieces[0]]}}]}
        last_parts = [pieces[1]]
        chunks = [first, {**middle, "modelVersion": model}]
    else:
        last_parts = [{"functionCall": {"name": TOOL, "args": {"dir_path": "."}}}]
        chunks = [first]
    last = {
        "candidates": [{"content": {"role": "model", "parts": last_parts}, "finishReason": "STOP"}],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": f"stand-in-{len(contents)}",
    }
    return [*chunks, last]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return body
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.requests.append(Recorded(self.path, None))
        self._send(404, "application/json", b'{"error": {"code": 404}}')

    def do_POST(self) -> None:
        raw = self._body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("latin-1")
        self.server.requests.append(Recorded(self.path, body))
        path = self.path.split("?")[0]
        model = path.rsplit("/", 1)[-1].split(":")[0]
        if path.endswith(":streamGenerateContent") and isinstance(body, dict):
            if FAIL_WORD in json.dumps(body.get("contents")):
                error = {"code": 400, "message": "Request refused", "status": "INVALID_ARGUMENT"}
                self._send(400, "application/json", json.dumps({"error": error}).encode())
                return
            data = b"".join(_event(chunk) for chunk in _chunks(model, body))
            self._send(200, "text/event-stream", data)
        elif path.endswith(":countTokens"):
            self._send(200, "application/json", b'{"totalTokens": 42}')
        elif path.endswith(":generateContent"):
            answer = {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": "{}"}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1},
            }
            self._send(200, "application/json", json.dumps(answer).encode())
        else:
            self._send(404, "application/json", b'{"error": {"code": 404}}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []


@contextmanager
def gemini_stand_in() -> Iterator[GeminiStandIn]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield GeminiStandIn(f"http://127.0.0.1:{server.server_address[1]}", server.requests)
    finally:
        server.shutdown()
        server.server_close()
