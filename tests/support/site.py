"""A tiny web site served by the test suite itself (no internet): tests/pages over HTTP.

Besides the files, `/redirect?to=<url>` answers 302 to that URL, `/api/json` answers a small JSON
object with a `Set-Cookie` (SECRET_COOKIE), `/text?bytes=<n>` answers n bytes of text; every
request path is recorded in `requests` (a "private" site on 127.0.0.2 proves that nothing
reached it).
"""

import threading
from collections.abc import Sequence
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).resolve().parents[1] / "pages"
SECRET_COOKIE = "tracker=set-cookie-secret-9f2"
JSON_BODY = b'{"answer": 42, "items": ["one", "two"]}'
TEXT_BYTES_MAX = 8 * 1024 * 1024


class _QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args: object, requests: list[str], **kwargs: object) -> None:
        self.requests = requests
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/api/json":
            self._answer(JSON_BODY, "application/json; charset=utf-8", [("Set-Cookie", SECRET_COOKIE)])
            return
        if parts.path == "/text":
            size = min(int(parse_qs(parts.query).get("bytes", ["0"])[0]), TEXT_BYTES_MAX)
            self._answer((b"0123456789abcdef" * (size // 16 + 1))[:size], "text/plain")
            return
        super().do_GET()

    def _answer(self, body: bytes, content_type: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class TestSite:
    __test__ = False  # a fixture helper, not a test class

    def __init__(self, root: Path = PAGES, host: str = "127.0.0.1") -> None:
        self.requests: list[str] = []
        handler = partial(_QuietHandler, directory=str(root), requests=self.requests)
        self.server = ThreadingHTTPServer((host, 0), handler)
        # What an engine's ENGINE_EGRESS_ALLOW names so its runtimes may browse this site.
        self.host_port = f"{host}:{self.server.server_address[1]}"
        self.url = f"http://{self.host_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "TestSite":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
