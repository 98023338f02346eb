"""The egress rules and the proxy in-process: allow-list syntax, address kinds, every address judged, chaining.

The proxy runs here without an engine, against servers on loopback addresses and a resolver the
test controls (so DNS answers, rebinding included, are what the test says, and no name is ever
looked up). Public addresses appear only as values to judge: nothing connects to them.
"""

import asyncio
import base64
import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from engine.egress.policy import EgressPolicy, address_kind, parse_allow, scheme_refusal
from engine.egress.proxy import EgressProxy, Upstream
from tests.support.loops import in_own_loop
from tests.support.site import TestSite as Site

SECRET = "Hello from the test site"


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "non-public"),
        # IPv6 forms that carry an IPv4 address are judged by that address
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::10.0.0.1", "private"),
        ("::ffff:0:127.0.0.1", "loopback"),  # IPv4-translated
        ("::ffff:0:a9fe:a9fe", "link-local"),
        ("64:ff9b::127.0.0.1", "loopback"),  # NAT64 well-known prefix
        ("64:ff9b::192.168.0.1", "private"),
        ("64:ff9b:1::1", "private"),  # NAT64 local-use prefix
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("fec0::1", "private"),  # site-local
        ("64:ff9b::93.184.216.34", None),
        ("2002:5db8:d822::1", None),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_it_names_what_kind_of_address_is_refused(address: str, kind: str | None) -> None:
    assert address_kind(ip(address)) == kind


def test_an_allow_entry_for_an_ipv4_address_covers_its_ipv6_forms() -> None:
    policy = EgressPolicy.from_setting("127.0.0.1:8080")
    for form in ("::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"):
        assert policy.judge("http://x/", "x", 8080, [ip(form)]) is None, form
        refusal = policy.judge("http://x/", "x", 8081, [ip(form)])
        assert refusal is not None and refusal.rule == "destination:loopback", form


def test_it_reads_the_allow_list() -> None:
    entries = parse_allow(" 127.0.0.1 , localhost:3000, 10.0.0.0/8, [::1]:8080, intranet.example. ,")
    assert [e.text for e in entries] == [
        "127.0.0.1",
        "localhost:3000",
        "10.0.0.0/8",
        "[::1]:8080",
        "intranet.example.",
    ]
    policy = EgressPolicy(entries)
    assert policy.allowed_by_list("x", ip("127.0.0.1"), 1)
    assert policy.allowed_by_list("LOCALHOST.", ip("127.0.0.1"), 3000)
    assert not policy.allowed_by_list("localhost", ip("127.0.0.5"), 3001)
    assert policy.allowed_by_list("db", ip("10.9.8.7"), 5432)
    assert policy.allowed_by_list("x", ip("::1"), 8080) and not policy.allowed_by_list("x", ip("::1"), 80)
    assert policy.allowed_by_list("intranet.example", ip("192.168.0.9"), 443)


@pytest.mark.parametrize("bad", ["http://example.com", "host:99999", "a/b", "x:y", "[::1]x"])
def test_it_refuses_an_allow_list_it_cannot_read(bad: str) -> None:
    with pytest.raises(ValueError, match="ENGINE_EGRESS_ALLOW"):
        parse_allow(bad)


def test_every_address_a_name_resolves_to_must_pass() -> None:
    policy = EgressPolicy()
    assert policy.judge("u", "public.example", 443, [ip("93.184.216.34")]) is None
    refusal = policy.judge("u", "rebind.example", 443, [ip("93.184.216.34"), ip("127.0.0.1")])
    assert refusal is not None and refusal.rule == "destination:loopback"
    assert "ENGINE_EGRESS_ALLOW=rebind.example:443" in refusal.message


def test_the_engines_own_ports_are_never_allowed() -> None:
    policy = EgressPolicy(parse_allow("127.0.0.0/8,localhost"), own_ports={8787})
    assert policy.judge("u", "127.0.0.1", 8788, [ip("127.0.0.1")]) is None
    for host, address in (
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("x", "0.0.0.0"),
        ("x", "::1"),
    ):
        refusal = policy.judge("u", host, 8787, [ip(address)])
        assert refusal is not None and refusal.rule == "destination:engine"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("file:///etc/passwd", "scheme:file"),
        ("FILE:///etc/passwd", "scheme:file"),
        (" view-source:http://x/", "scheme:view-source"),
        ("chrome-extension://abc/page.html", "scheme:chrome-extension"),
        ("//no-scheme", "scheme:none"),
    ],
)
def test_it_refuses_every_scheme_but_http_and_about_blank(url: str, rule: str) -> None:
    refusal = scheme_refusal(url)
    assert refusal is not None and refusal.rule == rule
    assert scheme_refusal("https://x/") is None and scheme_refusal("about:blank") is None


@pytest.fixture
def allowed_site() -> Iterator[Site]:
    served = Site().start()
    yield served
    served.stop()


@pytest.fixture
def refused_site() -> Iterator[Site]:
    served = Site(host="127.0.0.3").start()
    yield served
    served.stop()


class Answers:
    """A resolver whose answers the test scripts, and which counts its calls."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list:
        self.calls += 1
        return [ip(a) for a in self.answers[min(self.calls, len(self.answers)) - 1]]


async def started(
    policy: EgressPolicy, resolver: Answers, upstream: Upstream | None = None
) -> tuple[EgressProxy, list]:
    refusals: list = []
    proxy = await EgressProxy(policy, refusals.append, upstream, resolver).start()
    return proxy, refusals


@in_own_loop
async def test_it_connects_to_the_address_it_judged(allowed_site: Site, refused_site: Site) -> None:
    port = allowed_site.server.server_address[1]
    policy = EgressPolicy(parse_allow(allowed_site.host_port))
    # A rebinding name: allowed at the first lookup, the refused host afterwards. The proxy asks
    # once per request and connects to what it judged, so the second answer never matters.
    resolver = Answers(["127.0.0.1"], ["127.0.0.3"])
    proxy, refusals = await started(policy, resolver)
    try:
        async with httpx.AsyncClient(proxy=proxy.url) as client:
            response = await client.get(f"http://rebind.test:{port}/index.html")
        assert response.status_code == 200 and SECRET in response.text
        assert resolver.calls == 1 and refusals == [] and refused_site.requests == []
    finally:
        await proxy.close()


@in_own_loop
async def test_it_refuses_a_name_with_any_refused_address(allowed_site: Site, refused_site: Site) -> None:
    port = allowed_site.server.server_address[1]
    policy = EgressPolicy(parse_allow(allowed_site.host_port))
    proxy, refusals = await started(policy, Answers(["127.0.0.1", "127.0.0.3"]))
    try:
        async with httpx.AsyncClient(proxy=proxy.url) as client:
            response = await client.get(f"http://mixed.test:{port}/index.html")
        assert response.status_code == 403 and SECRET not in response.text
        assert response.headers["x-bctrl-egress-refused"] == "destination:loopback"
        assert [r.rule for r in refusals] == ["destination:loopback"]
        assert allowed_site.requests == [] and refused_site.requests == []
    finally:
        await proxy.close()


@in_own_loop
async def test_its_own_port_is_refused_even_when_allowed() -> None:
    policy = EgressPolicy(parse_allow("127.0.0.1"))
    proxy, refusals = await started(policy, Answers())
    try:
        async with httpx.AsyncClient(proxy=proxy.url) as client:
            response = await client.get(f"http://127.0.0.1:{proxy.port}/")
        assert response.status_code == 403 and [r.rule for r in refusals] == ["destination:engine"]
    finally:
        await proxy.close()
    assert proxy.port not in policy.own_ports


class RecordingUpstream:
    """An upstream HTTP proxy on 127.0.0.4 that records request heads and opens every tunnel (to itself)."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.4", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.heads.append((await reader.readuntil(b"\r\n\r\n")).decode())
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        writer.write(await reader.read(100))  # echo what comes through the tunnel
        await writer.drain()
        writer.close()


@in_own_loop
async def test_it_chains_to_the_runtimes_own_proxy_with_its_credentials() -> None:
    upstream = RecordingUpstream()
    port = await upstream.start()
    policy = EgressPolicy(parse_allow(f"127.0.0.4:{port}"))
    chained = Upstream("http", "127.0.0.4", port, "proxy-user", "proxy-pass")
    # Names go to the upstream unresolved: it resolves them in its own network.
    proxy, refusals = await started(policy, Answers(), chained)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"CONNECT shop.example:443 HTTP/1.1\r\nHost: shop.example:443\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(b"ping")
        assert await reader.read(100) == b"ping"
        writer.close()
        token = base64.b64encode(b"proxy-user:proxy-pass").decode()
        assert upstream.heads[0].startswith("CONNECT shop.example:443 ")
        assert f"Proxy-Authorization: Basic {token}" in upstream.heads[0]
        # A literal refused address is refused here, before the upstream hears of it.
        async with httpx.AsyncClient(proxy=proxy.url) as client:
            response = await client.get("http://127.0.0.2/")
        assert response.status_code == 403 and len(upstream.heads) == 1
        assert [r.rule for r in refusals] == ["destination:loopback"]
    finally:
        await proxy.close()
        assert upstream.server is not None
        upstream.server.close()
