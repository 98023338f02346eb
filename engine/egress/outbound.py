"""The engine's own outbound HTTP (model providers, the AI credential `test`) under the egress policy.

A runtime's browser reaches the network only through its proxy, which judges every address a
name resolves to and connects to an address it judged. The engine's own calls follow the same
rules with the same policy object (`engine_policy()`: ENGINE_EGRESS_ALLOW, the engine's own
ports): `judged_transport()` is an httpx transport whose connections are opened by
`JudgedBackend`, which resolves the host, judges every address, and connects to one it judged.
The URL, the Host header and TLS (SNI and the certificate check) keep the name, so pinning the
address changes nothing a provider sees; a DNS answer that changes between the judgement and the
connection cannot send the request anywhere the judgement refused.

A refusal raises `Refused` before a connection is opened, so not a byte reaches a refused
address. Environment proxies (HTTP_PROXY...) are not used: an explicit transport turns them off
in httpx, and a proxy would connect on its own side of the judgement.
"""

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from engine.egress import engine_policy
from engine.egress.policy import EgressPolicy, Refusal, known_address
from engine.egress.proxy import Resolver, resolve


class Refused(Exception):
    """The egress policy refused the destination of an engine call (nothing was sent)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class JudgedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the egress policy judged."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = resolve) -> None:
        self.policy = policy
        self.resolver = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        known = known_address(host)
        try:
            addresses = [known] if known is not None else await self.resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} did not resolve.") from exc
        refusal = self.policy.judge(f"{host}:{port}", host, port, addresses)
        if refusal is not None:
            raise Refused(refusal)
        failure: Exception | None = None
        for address in addresses:  # each one judged above: connect to that very address
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("The engine's outbound calls use TCP only.")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def judged_transport(
    policy: EgressPolicy | None = None, resolver: Resolver = resolve
) -> httpx.AsyncHTTPTransport:
    """An httpx transport for the engine's own calls (see the module docstring)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no parameter for the network backend; its pool is built the same way here,
    # with ours (httpx.AsyncHTTPTransport's defaults: verified TLS, HTTP/1.1).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=JudgedBackend(policy or engine_policy(), resolver),
    )
    return transport
