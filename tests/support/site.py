"""A tiny web site served by the test suite itself (no internet): tests/pages over HTTP.

Besides the files, `/redirect?to=<url>` answers 302 to that URL, `/api/json` answers a small JSON
object with a `Set-Cookie` (SECRET_COOKIE), `/text?bytes=<n>` answers n bytes of text,
`/bytes?n=<count>` is a download of that many zero bytes (streamed, for size limits); every
request path is recorded in `requests` (a "private" site on 127.0.0.2 proves that nothing
reached it). A POST (a form a page submits) is recorded in `posts` as (path, body) and answered
with a "Welcome" page; `POST /echo` answers a page showing the form's fields (and the page then
POSTs what it shows to `/echo.json`, which answers it back as JSON): a site that echoes a password.
"""

import html
import json
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
    def __init__(
        self, *args: object, requests: list[str], posts: list[tuple[str, bytes]], **kwargs: object
    ) -> None:
        self.requests = requests
        self.posts = posts
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append(self.path)
        self.posts.append((self.path, body))
        if self.path == "/echo":
            self._answer(_echo_page(body), "text/html; charset=utf-8")
            return
        if self.path == "/echo.json":
            self._answer(json.dumps({"echo": body.decode(errors="replace")}).encode(), "application/json")
            return
        page = b'<!doctype html><html><head><title>Welcome</title></head><body><h1 id="welcome">Welcome</h1></body></html>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

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
        if parts.path == "/bytes":
            self._zeros(int(parse_qs(parts.query)["n"][0]))
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

    def _zeros(self, count: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition", f'attachment; filename="zeros-{count}.bin"')
        self.send_header("Content-Length", str(count))
        self.end_headers()
        chunk = bytes(64 * 1024)
        try:
            while count > 0:
                self.wfile.write(chunk[: min(count, len(chunk))])
                count -= len(chunk)
        except OSError:
            pass  # the browser cancelled the download

    def log_message(self, format: str, *args: object) -> None:
        pass


def _echo_page(form: bytes) -> bytes:
    fields = "".join(
        f"<li>{html.escape(name)}: <span class=value>{html.escape(value)}</span></li>"
        for name, [value, *_] in parse_qs(form.decode(errors="replace")).items()
    )
    script = (
        "const shown = [...document.querySelectorAll('.value')].map(e => e.textContent).join(' ');"
        "fetch('/echo.json', {method: 'POST', body: shown}).then(r => r.json())"
        ".then(() => { document.querySelector('#fetched').textContent = 'done'; });"
    )
    return (
        f"<!doctype html><html><head><title>Echo</title></head><body><ul>{fields}</ul>"
        f"<p id=fetched></p><script>{script}</script></body></html>"
    ).encode()


class TestSite:
    __test__ = False  # a fixture helper, not a test class

    def __init__(self, root: Path = PAGES, host: str = "127.0.0.1") -> None:
        self.requests: list[str] = []
        self.posts: list[tuple[str, bytes]] = []
        handler = partial(_QuietHandler, directory=str(root), requests=self.requests, posts=self.posts)
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
