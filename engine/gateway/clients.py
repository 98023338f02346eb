"""Guarded clients of a runtime's browser: the gateway's connections and the engine's own agents.

Both get a judge (engine/cdp/rules.py) with the runtime's policy (`policy.py`), and every refusal
becomes a `cdp.refused` runtime event. Libraries that run in the engine and need a CDP URL
(browser-use) get a single-use loopback URL with the same rules (`offer`): they go through the
gateway's judge, not around it.
"""

from typing import Any

from engine.cdp.listener import listener
from engine.cdp.mux import Client
from engine.cdp.rules import Judge, Refused
from engine.gateway.policy import SessionPolicy
from engine.runtimes.session import RuntimeSession


def judge_for(session: RuntimeSession, raw_reads: bool) -> Judge:
    """A judge of this runtime's rules for one caller (and the refusal events wired)."""
    assert session.browser is not None
    mux = session.browser.mux
    if mux.on_refused is None:

        def refused(client: Client, refusal: Refused, target_id: str | None) -> None:
            session.emit(
                "cdp.refused",
                {
                    "clientId": client.id,
                    "method": refusal.method,
                    "rule": refusal.rule.code,
                    "targetId": target_id,
                },
            )

        mux.on_refused = refused
    return Judge(SessionPolicy(session, raw_reads))


async def offer(session: RuntimeSession, info: dict[str, Any]) -> str:
    """A single-use loopback ws:// URL to this runtime's browser, judged like a gateway client
    without raw reads (for a library the engine runs, such as browser-use)."""
    assert session.browser is not None
    return await listener.offer(session.browser.mux, judge_for(session, raw_reads=False), info)
