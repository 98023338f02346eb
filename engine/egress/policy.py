"""The egress policy of runtimes: which URLs a browser may open and which addresses it may reach.

This module is the one home of the rules; everything else asks it:

- the step guard (`page.goto` refuses a scheme before the browser sees it),
- Chromium's own URL policy (`engine/egress/launcher.py` writes `SCHEMES_BLOCKED` as a managed
  `URLBlocklist`, so reloads, history, popups, redirects and extensions are refused too),
- the forward proxy every runtime's Chromium is pointed at (`engine/egress/proxy.py`), which
  judges each destination on the addresses it resolved and then connects to the address it judged.

Destinations: loopback, private (RFC 1918, ULA), link-local, unspecified, multicast and other
non-public addresses are refused unless `ENGINE_EGRESS_ALLOW` names them. Every address a name
resolves to must pass (a name that resolves to one public and one private address is refused),
and the proxy connects to an address it checked, so a DNS answer that changes between the check
and the connection (rebinding) cannot reach anything the check refused. An IPv6 address that
carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, IPv4-translated
`::ffff:0:a.b.c.d`, the NAT64 well-known prefix `64:ff9b::/96`, 6to4 `2002::/16`, Teredo's client)
is judged as that IPv4 address, allow list included: a relay or a translator would deliver it
there. The deprecated site-local `fec0::/10` and the local-use NAT64 prefix `64:ff9b:1::/48` are
private. The engine's own listening ports (its API and the proxies) are never reachable on a
local address, whatever the allow list says.

Pure rules: no Django, no I/O beyond the local-address probe, so tests can use it directly.
"""

import ipaddress
import socket
from dataclasses import dataclass, field

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "ENGINE_EGRESS_ALLOW"
# Top-level schemes a runtime may open. Chromium needs chrome-extension: for loaded extensions'
# own pages; steps may not open those either (see `scheme_refusal`).
NAVIGABLE_SCHEMES = ("http", "https")
NAVIGABLE_URLS = ("about:blank",)
# Schemes Chromium must refuse whoever asks (a step, a reload, a popup, a redirect, an extension).
# data: is refused as a document only (Chromium already refuses page-initiated top-level data:
# navigations; this also covers data: frames); data: images and fonts are not navigations.
SCHEMES_BLOCKED = ("file", "chrome", "view-source", "devtools", "data", "filesystem", "chrome-untrusted")


@dataclass(frozen=True)
class Refusal:
    """Why a URL or destination was refused: `rule` is stable (events, step errors), `message` says what to do."""

    url: str
    rule: str
    message: str

    def as_event(self) -> dict[str, str]:
        return {"url": self.url, "rule": self.rule}


def scheme_refusal(url: str) -> Refusal | None:
    """A URL a step may not open because of its scheme; None when http(s) or about:blank."""
    scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
    if scheme in NAVIGABLE_SCHEMES or url.strip().lower() in NAVIGABLE_URLS:
        return None
    shown = url[:200]
    return Refusal(
        shown,
        f"scheme:{scheme or 'none'}",
        f"Runtimes may open only http(s) URLs and about:blank; '{shown}' uses "
        f"{'the ' + scheme + ': scheme' if scheme else 'no scheme'}.",
    )


@dataclass(frozen=True)
class AllowEntry:
    """One `ENGINE_EGRESS_ALLOW` entry: a host name, an address or a network, and maybe a port."""

    text: str
    host: str | None = None
    network: IpNetwork | None = None
    port: int | None = None

    def allows(self, host: str, address: IpAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return normal_host(host) == self.host
        return self.network is not None and address in self.network


def parse_allow(text: str) -> list[AllowEntry]:
    """`ENGINE_EGRESS_ALLOW`: comma-separated `host`, `host:port`, `address[:port]` or CIDR entries.

    IPv6 addresses with a port are bracketed (`[::1]:8080`). Raises ValueError naming the bad
    entry, so a typo stops the engine at start instead of silently allowing nothing.
    """
    entries = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        entries.append(_parse_entry(item))
    return entries


def _parse_entry(item: str) -> AllowEntry:
    port: int | None = None
    host = item
    if item.startswith("["):
        inside, _, rest = item[1:].partition("]")
        host = inside
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{ALLOW_SETTING}: cannot read '{item}'.")
            port = _port(rest[1:], item)
    elif item.count(":") == 1:
        host, _, port_text = item.partition(":")
        port = _port(port_text, item)
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        network = None
    if network is not None:
        return AllowEntry(item, network=network, port=port)
    if "/" in host or not host or not all(part for part in normal_host(host).split(".")):
        raise ValueError(f"{ALLOW_SETTING}: '{item}' is neither a host name, an address nor a CIDR network.")
    return AllowEntry(item, host=normal_host(host), port=port)


def _port(text: str, item: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{ALLOW_SETTING}: the port in '{item}' is not a number from 1 to 65535.")
    return int(text)


def normal_host(host: str) -> str:
    """Host names compare without case, brackets or the root's trailing dot (`localhost.`)."""
    return host.strip().strip("[]").rstrip(".").lower()


def literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(normal_host(host))
    except ValueError:
        return None


# IPv6 prefixes whose last 32 bits are an IPv4 address a translator delivers to.
_IPV4_IN_LAST_32 = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated); :: and ::1 are kept as IPv6
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, the well-known prefix
)
_PRIVATE_IPV6 = (
    ipaddress.IPv6Network("fec0::/10"),  # site-local: deprecated, still routed inside some sites
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 for local use (RFC 8215)
)


def embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (see the module docstring), or None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address, where the relay delivers
    if int(address) > 1 and any(address in network for network in _IPV4_IN_LAST_32):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def effective(address: IpAddress) -> IpAddress:
    """The address a connection really reaches: ::ffff:127.0.0.1, ::127.0.0.1, 64:ff9b::7f00:1,
    2002:7f00:1:: (and the others `embedded_ipv4` knows) are 127.0.0.1."""
    return embedded_ipv4(address) or address


def address_kind(address: IpAddress) -> str | None:
    """The reason an address is not public (the rule's name), or None for a public address."""
    address = effective(address)
    if isinstance(address, ipaddress.IPv6Address) and any(address in net for net in _PRIVATE_IPV6):
        return "private"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def is_local_address(address: IpAddress) -> bool:
    """Whether this host owns `address` (loopback, unspecified, or one of its interfaces)."""
    address = effective(address)
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if isinstance(address, ipaddress.IPv6Address) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))  # only an address of this host can be bound
        except OSError:
            return False
    return True


@dataclass
class EgressPolicy:
    """The destination rules of one engine: its allow list and the ports of its own listeners."""

    allow: list[AllowEntry] = field(default_factory=list)
    own_ports: set[int] = field(default_factory=set)

    @classmethod
    def from_setting(cls, text: str) -> "EgressPolicy":
        return cls(parse_allow(text))

    def allowed_by_list(self, host: str, address: IpAddress, port: int) -> bool:
        return any(entry.allows(host, effective(address), port) for entry in self.allow)

    def judge(self, url: str, host: str, port: int, addresses: list[IpAddress]) -> Refusal | None:
        """Judge a connection to `host:port` that would use `addresses` (all of them must pass)."""
        if not addresses:
            return Refusal(url, "destination:unresolved", f"'{host}' did not resolve to any address.")
        for address in addresses:
            refusal = self._judge_one(url, host, port, address)
            if refusal is not None:
                return refusal
        return None

    def _judge_one(self, url: str, host: str, port: int, address: IpAddress) -> Refusal | None:
        if port in self.own_ports and is_local_address(address):
            return Refusal(
                url,
                "destination:engine",
                f"{host}:{port} is the engine itself; runtimes can never reach it, whatever {ALLOW_SETTING} says.",
            )
        kind = address_kind(address)
        if kind is None or self.allowed_by_list(host, address, port):
            return None
        shown = normal_host(host)
        entry = f"[{shown}]:{port}" if ":" in shown else f"{shown}:{port}"
        return Refusal(
            url,
            f"destination:{kind}",
            f"{host}:{port} resolves to {effective(address)}, a {kind} address, which runtimes may not reach "
            f"by default. To allow it, set {ALLOW_SETTING}={entry} (comma-separated host, host:port "
            "or CIDR entries) in the engine's environment and restart it.",
        )

    def judge_name(self, url: str, host: str, port: int) -> Refusal | None:
        """What can be judged without resolving (a destination reached through an upstream proxy).

        The upstream proxy resolves the name in its own network; here only literal addresses and
        `localhost` names can be judged, so those are refused as they would be without it.
        """
        address = known_address(host)
        if address is None:
            return None
        return self._judge_one(url, host, port, address)


def known_address(host: str) -> IpAddress | None:
    """The address a host stands for without asking DNS: a literal, or loopback for `localhost`
    names (RFC 6761: `localhost.` and `*.localhost` are loopback whatever a resolver says)."""
    address = literal_address(host)
    name = normal_host(host)
    if address is None and (name == "localhost" or name.endswith(".localhost")):
        address = ipaddress.ip_address("127.0.0.1")
    return address
