"""A throwaway HTTP mirror on 127.0.0.1, so the tests can download files without the internet."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class Reply:
    """What the mirror answers for one file name."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/gzip"
    # A Content-Length larger than the body imitates a connection that drops mid-transfer.
    claimed_length: int | None = None


NOT_FOUND = Reply(404, b"Not Found", "text/plain")


class LocalMirror:
    """Serves the files of ``folder`` by name at ``url``; ``replies`` overrides single names.

    ``requests`` lists the names asked for, in order. Use it as a context manager.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.replies: dict[str, Reply] = {}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def reply_for(self, name: str) -> Reply:
        if name in self.replies:
            return self.replies[name]
        path = self.folder / name
        return Reply(body=path.read_bytes()) if path.is_file() else NOT_FOUND

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                reply = mirror.reply_for(name)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(reply.claimed_length or len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass  # the test's output is not the place for an access log

        return Handler

    def __enter__(self) -> LocalMirror:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
