"""The egress proxy: every request a runtime's Chromium makes to the network passes through here.

Each runtime gets its own listener on 127.0.0.1 (an ephemeral port), in the runtime's own network
namespace when the engine isolates runtimes (engine/egress/netns.py: there it is the only thing
the browser can reach), and its Chromium is started with `--proxy-server` pointing at it and no
loopback bypass, so page loads, redirects, frames,
subresources, fetch/XHR, WebSockets (always tunnelled with CONNECT), service workers, downloads
and popups all arrive here. The listener knows its runtime, so a refusal becomes that runtime's
`navigation.blocked` event, and a runtime whose launch config names a proxy is chained to it
(with its credentials added here: Chromium never sees the upstream password).

Why our own asyncio proxy rather than squid, tinyproxy or proxy.py: the decision must be made on
the address actually connected to (resolve, judge every address, connect to a judged address),
per runtime (its upstream proxy, its events), inside the engine process that owns the runtime's
life. tinyproxy filters host names only; squid and proxy.py can judge resolved addresses but run
as their own daemon/worker pool with one configuration for all clients, so per-runtime chaining
and events would need a reconfigure or an authentication side channel (and Playwright's proxy
credentials turn on request interception for every request). The protocol part kept here is
small: CONNECT tunnels and absolute-form HTTP/1.1 requests, one request per client connection.

Plain-HTTP requests are forwarded one per connection with `Connection: close`, so a client cannot
reuse a connection this proxy opened for one destination to talk to another.
"""

import asyncio
import base64
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.egress import netns
from engine.egress.policy import EgressPolicy, IpAddress, Refusal, known_address

logger = logging.getLogger("engine.egress")

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 15
CHUNK = 64 * 1024
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
}
REFUSED_HEADER = "X-Bctrl-Egress-Refused"

Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (the proxy judges all of them, then connects to one)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, IpAddress] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        seen.setdefault(str(address), address)
    return list(seen.values())


@dataclass(frozen=True)
class Upstream:
    """A runtime's own proxy (its launch config's `proxy`), which this one chains to."""

    scheme: str  # http | https | socks4 | socks5
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_config(cls, proxy: dict[str, str] | None) -> "Upstream | None":
        if not proxy or not proxy.get("server"):
            return None
        server = proxy["server"]
        parts = urlsplit(server if "://" in server else f"http://{server}")
        default_port = {"http": 80, "https": 443, "socks4": 1080, "socks5": 1080}[parts.scheme]
        return cls(
            parts.scheme,
            parts.hostname or "",
            parts.port or default_port,
            proxy.get("username") or None,
            proxy.get("password") or None,
        )

    def basic_auth(self) -> str | None:
        if not self.username:
            return None
        token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return f"Basic {token}"


class UpstreamFailed(Exception):
    """The upstream proxy refused or failed the tunnel; the client gets a 502 naming it."""


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class EgressProxy:
    """One runtime's forward proxy on 127.0.0.1: judge, then connect to what was judged."""

    def __init__(
        self,
        policy: EgressPolicy,
        on_refused: Callable[[Refusal], None],
        upstream: Upstream | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.policy = policy
        self.on_refused = on_refused
        self.upstream = upstream
        self.resolver = resolver
        self.server: asyncio.Server | None = None
        self.namespace: netns.NetNamespace | None = None
        self.port = 0
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, isolated: bool = False) -> "EgressProxy":
        """Listen on 127.0.0.1: in a new network namespace of the runtime's own when `isolated`
        (engine/egress/netns.py; its `namespace` is where the browser must run), else the engine's."""
        if isolated:
            namespace, listener = await asyncio.to_thread(netns.create)
            try:
                self.server = await asyncio.start_server(self._accept, sock=listener, limit=HEAD_LIMIT)
            except BaseException:
                listener.close()
                namespace.close()
                raise
            self.namespace = namespace
        else:
            self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=HEAD_LIMIT)
            self.policy.own_ports.add(self.server.sockets[0].getsockname()[1])
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.server.wait_closed()
        if self.namespace is not None:
            self.namespace.close()
        else:
            self.policy.own_ports.discard(self.port)
        self.server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Egress proxy connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await _read_head(reader)
        if request is None:
            return
        if request.method == "CONNECT":
            host, port = _split_host_port(request.target, 443)
            url = request.target  # a tunnel (https, ws, wss) shows the proxy only host:port
        else:
            parts = urlsplit(request.target)
            if parts.scheme != "http" or not parts.hostname:
                await _answer(writer, 400, "This proxy forwards absolute http:// URLs and CONNECT only.")
                return
            host, port, url = parts.hostname, parts.port or 80, request.target
        refusal, upstream = await self._open(url, host, port)
        if refusal is not None:
            self.on_refused(refusal)
            await _answer(writer, 403, refusal.message, {REFUSED_HEADER: refusal.rule})
            return
        if upstream is None:
            await _answer(writer, 502, f"Could not connect to {host}:{port}.")
            return
        up_reader, up_writer = upstream
        try:
            if request.method == "CONNECT":
                await self._tunnel(request.target, host, port, reader, writer, up_reader, up_writer)
            else:
                await self._forward(request, reader, writer, up_reader, up_writer)
        except UpstreamFailed as exc:
            await _answer(writer, 502, str(exc))
        finally:
            up_writer.close()

    async def _open(
        self, url: str, host: str, port: int
    ) -> tuple[Refusal | None, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
        """Judge the destination and connect: (refusal, None) or (None, the connection or None)."""
        if self.upstream is not None:
            refusal = self.policy.judge_name(url, host, port)
            if refusal is not None:
                return refusal, None
            upstream_url = f"{self.upstream.scheme}://{self.upstream.host}:{self.upstream.port}"
            return await self._connect_judged(upstream_url, self.upstream.host, self.upstream.port)
        return await self._connect_judged(url, host, port)

    async def _connect_judged(
        self, url: str, host: str, port: int
    ) -> tuple[Refusal | None, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
        known = known_address(host)
        try:
            addresses = [known] if known is not None else await self.resolver(host, port)
        except OSError:
            return None, None
        refusal = self.policy.judge(url, host, port, addresses)
        if refusal is not None:
            return refusal, None
        for address in addresses:  # each one was judged above; connect to that very address
            try:
                connection = await asyncio.wait_for(
                    asyncio.open_connection(str(address), port, limit=HEAD_LIMIT), CONNECT_TIMEOUT_SECONDS
                )
            except (OSError, TimeoutError):
                continue
            if self.upstream is not None and self.upstream.scheme == "https":
                connection = await _start_tls(connection, self.upstream.host)
            return None, connection
        return None, None

    async def _tunnel(
        self,
        target: str,
        host: str,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        if self.upstream is not None:
            await self._upstream_tunnel(target, host, port, up_reader, up_writer)
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _upstream_tunnel(
        self,
        target: str,
        host: str,
        port: int,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        upstream = self.upstream
        assert upstream is not None
        if upstream.scheme.startswith("socks"):
            await _socks_connect(upstream, host, port, up_reader, up_writer)
            return
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if upstream.basic_auth():
            lines.append(f"Proxy-Authorization: {upstream.basic_auth()}")
        up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await up_writer.drain()
        answer = await _read_head(up_reader)
        status = answer.target if answer else ""
        if answer is None or status != "200":
            raise UpstreamFailed(
                f"The runtime's proxy {upstream.host}:{upstream.port} refused the tunnel to {target} ({status or 'no answer'})."
            )

    async def _forward(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        if request.header("transfer-encoding"):
            await _answer(writer, 411, "Send request bodies with a Content-Length through this proxy.")
            return
        parts = urlsplit(request.target)
        upstream = self.upstream
        if upstream is not None and upstream.scheme.startswith("socks"):
            await _socks_connect(upstream, parts.hostname or "", parts.port or 80, up_reader, up_writer)
            upstream = None
        if upstream is None:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        else:
            target = request.target
        lines = [f"{request.method} {target} {request.version}"]
        lines += [f"{k}: {v}" for k, v in request.headers if k.lower() not in HOP_BY_HOP]
        lines.append("Connection: close")
        if upstream is not None and upstream.basic_auth():
            lines.append(f"Proxy-Authorization: {upstream.basic_auth()}")
        up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        remaining = int(request.header("content-length") or 0)
        while remaining > 0:
            chunk = await reader.readexactly(min(CHUNK, remaining))
            up_writer.write(chunk)
            remaining -= len(chunk)
        await up_writer.drain()
        # One request per client connection: the answer, then both ends close.
        await _pipe(up_reader, writer)


async def _read_head(reader: asyncio.StreamReader) -> Request | None:
    """A request (or response) head: its first line split in three, and its headers."""
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SECONDS)
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0].split(" ", 2)
    if len(first) < 2:
        return None
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return Request(first[0], first[1], first[2] if len(first) > 2 else "", headers)


def _split_host_port(target: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(f"//{target}")
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port or default_port


async def _answer(
    writer: asyncio.StreamWriter, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 411: "Length Required", 502: "Bad Gateway"}[status]
    body = (message + "\n").encode()
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain; charset=utf-8"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _start_tls(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], server_hostname: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Speak TLS to an https:// upstream proxy (the tunnel inside carries the page's own TLS)."""
    reader, writer = connection
    await writer.start_tls(ssl.create_default_context(), server_hostname=server_hostname)
    return reader, writer


async def _socks_connect(
    upstream: Upstream, host: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Open `host:port` through a SOCKS upstream (names resolved by the upstream: 4a and 5 with a domain)."""
    name = host.encode("idna")
    if upstream.scheme == "socks4":
        user = (upstream.username or "").encode()
        writer.write(
            b"\x04\x01" + port.to_bytes(2, "big") + b"\x00\x00\x00\x01" + user + b"\x00" + name + b"\x00"
        )
        await writer.drain()
        reply = await reader.readexactly(8)
        if reply[1] != 0x5A:
            raise UpstreamFailed(f"The runtime's SOCKS4 proxy refused {host}:{port}.")
        return
    methods = b"\x02" if upstream.username else b"\x00"
    writer.write(b"\x05\x01" + methods)
    await writer.drain()
    version, method = await reader.readexactly(2)
    if version != 5 or method == 0xFF:
        raise UpstreamFailed("The runtime's SOCKS5 proxy accepts none of our authentication methods.")
    if method == 0x02:
        user, password = (upstream.username or "").encode(), (upstream.password or "").encode()
        writer.write(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        await writer.drain()
        if (await reader.readexactly(2))[1] != 0:
            raise UpstreamFailed("The runtime's SOCKS5 proxy refused its username and password.")
    writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
    await writer.drain()
    reply = await reader.readexactly(4)
    if reply[1] != 0:
        raise UpstreamFailed(f"The runtime's SOCKS5 proxy refused {host}:{port} (code {reply[1]}).")
    skip = {1: 4, 4: 16}.get(reply[3])
    if skip is None:
        skip = (await reader.readexactly(1))[0]
    await reader.readexactly(skip + 2)
