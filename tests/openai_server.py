"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests of the connected mode.

It speaks enough of the protocol for the real ``openai`` client: ``POST /v1/chat/completions``
(plain and streamed), ``POST /v1/embeddings`` (``word_vector``, plain or base64) and
``GET /v1/models``. What the "model" replies is decided by the test
through ``reply(messages) -> str``; every request body is recorded. ``fail_with`` makes it
answer with an HTTP error instead.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[list[dict[str, Any]]], str]


def word_vector(text: str, dim: int) -> list[float]:
    """The fake embedding model: signed hashing of the text's lower-cased words (texts that
    share words are close; deterministic; no weights)."""
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        h = zlib.crc32(word.encode())
        vec[h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    return vec if any(vec) else [1.0] + [0.0] * (dim - 1)


class FakeModel:
    def __init__(self, reply: Reply, model: str = "fake-model") -> None:
        self.reply = reply
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.fail_message = "injected failure"
        self.fail_first = 0  # fail this many requests with fail_first_status, then answer
        self.fail_first_status = 503
        self.base_url = ""
        self.embed_dim = 64
        self.embedded: list[str] = []  # every text sent to /embeddings


def _handler(fake: FakeModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # the client may have given up (a timeout test)

        def _embeddings(self, body: dict[str, Any]) -> None:
            texts = body.get("input", [])
            texts = [texts] if isinstance(texts, str) else texts
            fake.embedded.extend(texts)
            rows = []
            for i, text in enumerate(texts):
                vec = word_vector(text, fake.embed_dim)
                if body.get("encoding_format") == "base64":
                    packed: Any = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
                else:
                    packed = vec
                rows.append({"object": "embedding", "index": i, "embedding": packed})
            self._send(
                200,
                {
                    "object": "list",
                    "data": rows,
                    "model": body.get("model", ""),
                    "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
                },
            )

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(body)
            if fake.fail_first > 0:
                fake.fail_first -= 1
                self._send(fake.fail_first_status, {"error": {"message": "try again"}})
                return
            if fake.fail_with is not None:
                self._send(fake.fail_with, {"error": {"message": fake.fail_message}})
                return
            if self.path.rstrip("/").endswith("/embeddings"):
                self._embeddings(body)
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": "not found"}})
                return
            text = fake.reply(body.get("messages", []))
            created = int(time.time())
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in [text[i : i + 8] for i in range(0, len(text), 8)] or [""]:
                    chunk = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": body.get("model", fake.model),
                        "choices": [{"index": 0, "delta": {"content": piece}}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                return
            self._send(
                200,
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": created,
                    "model": body.get("model", fake.model),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )

    return Handler


@contextmanager
def serve(reply: Reply, model: str = "fake-model") -> Iterator[FakeModel]:
    """Run a fake model on a free loopback port for the duration of the block."""
    fake = FakeModel(reply, model)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
