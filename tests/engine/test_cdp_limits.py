"""The CDP gateway's per-key limits (engine/gateway/limits.py) as counted: connections held, and
messages as a token bucket a key's connections share (the live refusal is in test_cdp_gateway)."""

from typing import Any

import pytest

from engine.gateway.limits import BURST_SECONDS, KeyLimits


@pytest.fixture(autouse=True)
def gateway_settings(settings: Any) -> None:
    settings.CDP_MAX_CONNECTIONS_PER_KEY = 2
    settings.CDP_MAX_MESSAGES_PER_SECOND = 2


def test_a_key_holds_its_limit_of_connections_and_no_more() -> None:
    limits = KeyLimits()
    assert limits.open("k1") and limits.open("k1")
    assert not limits.open("k1")
    assert limits.open("k2")  # another key has slots of its own
    limits.close("k1")
    assert limits.open("k1")


def test_a_keys_messages_past_its_burst_are_refused_until_it_slows_down() -> None:
    limits = KeyLimits()
    burst = int(2 * BURST_SECONDS)
    sent = [limits.message("k1") for _ in range(burst * 10)]
    # The burst passes; the rest (sent in far less than two seconds) is refused but for a refill.
    assert all(sent[:burst]) and sum(sent) <= burst + 4
    assert limits.message("k2")  # the bucket is the key's


def test_zero_means_no_limit(settings: Any) -> None:
    settings.CDP_MAX_CONNECTIONS_PER_KEY = 0
    settings.CDP_MAX_MESSAGES_PER_SECOND = 0
    limits = KeyLimits()
    assert all(limits.open("k") for _ in range(50)) and all(limits.message("k") for _ in range(5000))
