"""Local model servers that answer like OpenAI's and Anthropic's HTTP APIs, usage included.

Real clients (``openai``, ``anthropic``) talk to them through ``base_url``: the whole client stack,
its instrumentation and our processors run for real, only the model is canned. Streaming answers
are server-sent events in each provider's shape. Runnable as a script for subprocess tests:
``python -m tests.thirdparty.fake_models`` prints the port and serves until killed.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INPUT_TOKENS = 120
OUTPUT_TOKENS = 30
REPLY = "The answer is 42."


_ids = itertools.count(1)


def _openai_body(model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{next(_ids)}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": INPUT_TOKENS,
            "completion_tokens": OUTPUT_TOKENS,
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        },
    }


def _openai_chunks(model: str) -> list[dict[str, Any]]:
    base = {"id": f"chatcmpl-fake-{next(_ids)}", "object": "chat.completion.chunk", "created": 1_700_000_000}
    chunks: list[dict[str, Any]] = []
    for i, word in enumerate(REPLY.split(" ")):
        delta: dict[str, Any] = {"content": word if i == 0 else " " + word}
        if i == 0:
            delta["role"] = "assistant"
        chunks.append({**base, "model": model, "choices": [{"index": 0, "delta": delta}]})
    chunks.append({**base, "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {
            **base,
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": INPUT_TOKENS,
                "completion_tokens": OUTPUT_TOKENS,
                "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
            },
        }
    )
    return chunks


def _anthropic_body(model: str) -> dict[str, Any]:
    return {
        "id": f"msg_fake_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": REPLY}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
    }


def _anthropic_events(model: str) -> list[tuple[str, dict[str, Any]]]:
    message = {**_anthropic_body(model), "content": [], "stop_reason": None}
    message["usage"] = {"input_tokens": INPUT_TOKENS, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for i, word in enumerate(REPLY.split(" ")):
        text = word if i == 0 else " " + word
        events.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            )
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": OUTPUT_TOKENS},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, request))  # type: ignore[attr-defined]
        model = str(request.get("model", "gpt-4o-mini"))
        stream = bool(request.get("stream"))
        if self.path.endswith("/chat/completions"):
            if stream:
                self._sse([(None, chunk) for chunk in _openai_chunks(model)], done=True)
            else:
                self._json(_openai_body(model))
        elif self.path.endswith("/traces/ingest"):  # the OpenAI Agents SDK's trace export
            self._json({})
        elif self.path.endswith("/messages"):
            if stream:
                self._sse(list(_anthropic_events(model)), done=False)
            else:
                self._json(_anthropic_body(model))
        else:
            self._json({"error": {"message": f"no route {self.path}"}}, status=404)

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict[str, Any]]], *, done: bool) -> None:
        parts = []
        for name, payload in events:
            head = f"event: {name}\n" if name else ""
            parts.append(f"{head}data: {json.dumps(payload)}\n\n")
        if done:
            parts.append("data: [DONE]\n\n")
        data = "".join(parts).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeModelServer:
    """Both APIs on one loopback port; ``requests`` keeps (path, body) of every call."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.requests = []  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        return self._server.requests  # type: ignore[attr-defined, no-any-return]

    def start(self) -> FakeModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    server = FakeModelServer().start()
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    sys.exit(0)
