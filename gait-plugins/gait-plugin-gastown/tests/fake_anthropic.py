"""A stand-in for the Anthropic Messages API on loopback, enough to drive the real Claude Code
through one tool call (peers.md §4).

The first streamed request is answered with one `tool_use` block (tool `Bash`, the command the
test chose); any request whose history holds a `tool_result` is answered with text and
`end_turn`, so the session ends after the tool call. `count_tokens` gets a small number and a
request that does not stream gets plain text. Every request body is kept for the assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeAnthropic:
    def __init__(self, command: str) -> None:
        self.command = command
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The server-sent events for one streamed request."""
        model = body.get("model", "claude-test")
        usage = {"input_tokens": 1, "output_tokens": 1}
        start = {
            "type": "message_start",
            "message": {
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        }
        if _has_tool_result(body):
            block: dict[str, Any] = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": "done"}
            stop_reason = "end_turn"
        else:
            block = {"type": "tool_use", "id": "toolu_gastown_1", "name": "Bash", "input": {}}
            arguments = {"command": self.command, "description": "run the test command"}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
            stop_reason = "tool_use"
        return [
            ("message_start", start),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            ),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": 1},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]


def _has_tool_result(body: dict[str, Any]) -> bool:
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(block, dict) and block.get("type") == "tool_result" for block in content
        ):
            return True
    return False


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, "body": body})
            if "count_tokens" in self.path:
                self._send("application/json", json.dumps({"input_tokens": 5}).encode())
            elif not body.get("stream"):
                message = {
                    "id": "msg_plain",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", "claude-test"),
                    "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                }
                self._send("application/json", json.dumps(message).encode())
            else:
                events = fake.answer(body)
                data = b"".join(
                    f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()
                    for name, payload in events
                )
                self._send("text/event-stream", data)

        def do_GET(self) -> None:
            self._send("application/json", b"{}")

        def _send(self, content_type: str, data: bytes) -> None:
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
