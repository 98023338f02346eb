"""Where a webhook may go: the engine's egress rule, for the console's own outbound calls.

A webhook URL is an admin's, but the console sits inside the network it serves: a rule aimed at
`http://10.0.0.5/admin` would make the console a way in. So, as the engine does for runtimes:
http(s) only; loopback, private (RFC 1918, ULA), link-local, multicast, reserved and unspecified
addresses are refused unless `ALERT_WEBHOOK_ALLOW` names them (a host, `host:port`, an address or
a CIDR, comma-separated); every address a name resolves to must pass (one public and one private
is refused); IPv4 carried in IPv6 (mapped, 6to4, NAT64) is judged as IPv4; and the call connects
to the address judged (`Destination.address`), so a DNS answer that changes between the check and
the connection cannot reach anything the check refused. Redirects are not followed.

The engine has its own copy of this rule (engine/egress/policy.py): the two projects share
nothing but the HTTP contract, and this one is small.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_SETTING = "ALERT_WEBHOOK_ALLOW"
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(ValueError):
    """A webhook target the rule refuses; the message says why and what would allow it."""


@dataclass(frozen=True)
class AllowEntry:
    host: str | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    def allows(self, host: str, address: IpAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return host == self.host
        return self.network is not None and address in self.network


def parse_allow(text: str) -> list[AllowEntry]:
    """`ALERT_WEBHOOK_ALLOW`: loud on a bad entry (the settings import it, so a typo stops the start)."""
    entries = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        host, port = raw, None
        if raw.count(":") == 1 or (raw.startswith("[") and "]:" in raw):
            host, _, port_text = raw.rpartition(":")
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"{ALLOW_SETTING}: {raw!r} has no valid port after its colon.")
            port = int(port_text)
        host = host.strip("[]").lower()
        try:
            entries.append(AllowEntry(network=ipaddress.ip_network(host, strict=False), port=port))
        except ValueError:
            if not host or "/" in host:
                raise ValueError(
                    f"{ALLOW_SETTING}: {raw!r} is neither a host, an address nor a network."
                ) from None
            entries.append(AllowEntry(host=host, port=port))
    return entries


def _as_ipv4(address: IpAddress) -> IpAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _public(address: IpAddress) -> bool:
    judged = _as_ipv4(address)
    return not (
        judged.is_private
        or judged.is_loopback
        or judged.is_link_local
        or judged.is_multicast
        or judged.is_reserved
        or judged.is_unspecified
        or not judged.is_global
    )


@dataclass(frozen=True)
class Destination:
    """A webhook URL judged: connect to `address`, say `host` in the Host header and TLS SNI."""

    url: str
    scheme: str
    host: str
    port: int
    address: IpAddress

    @property
    def pinned_url(self) -> str:
        """The URL with the judged address in place of the name (the connection goes there)."""
        parts = urlsplit(self.url)
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{shown}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL, or Refused for one that is not http(s) with a host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused("A webhook URL must start with http:// or https://.")
    if not parts.hostname:
        raise Refused("A webhook URL needs a host.")
    if parts.username or parts.password:
        raise Refused(
            "A webhook URL may not carry a user name or password; sign with the rule's secret instead."
        )
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:
        raise Refused(f"The webhook URL's port is not a number ({error}).") from None
    return scheme, parts.hostname.lower(), port


def judge(host: str, port: int, addresses: list[IpAddress], allow: list[AllowEntry]) -> IpAddress:
    """The address to connect to, if every one `host` resolves to may be reached; else Refused."""
    if not addresses:
        raise Refused(f"The webhook host {host} does not resolve to any address.")
    for address in addresses:
        if _public(address) or any(entry.allows(host, address, port) for entry in allow):
            continue
        kind = "a loopback" if _as_ipv4(address).is_loopback else "a private or reserved"
        raise Refused(
            f"The webhook host {host} resolves to {address}, {kind} address: webhooks go only to public "
            f"addresses unless {ALLOW_SETTING} names it (e.g. {ALLOW_SETTING}={host}:{port})."
        )
    return addresses[0]


async def resolve(url: str, allow: list[AllowEntry]) -> Destination:
    """Judge `url` on the addresses its host resolves to now (an address literal is not resolved)."""
    scheme, host, port = split(url)
    try:
        addresses: list[IpAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise Refused(
                f"The webhook host {host} could not be resolved ({error.strerror or error})."
            ) from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    return Destination(url.strip(), scheme, host, port, judge(host, port, addresses, allow))
