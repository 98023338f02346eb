"""A run's network events as the engine's API gives them (every page of `/v1/runtimes/{id}/events`)."""

from typing import Any

import httpx

NETWORK_TYPES = "network.request,network.response,network.finished,network.failed"


def network(client: httpx.Client, runtime_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            f"/runtimes/{runtime_id}/events",
            params={"eventTypes": NETWORK_TYPES, "limit": 500, "cursor": cursor},
        ).json()
        events += page["events"]
        cursor = page["nextCursor"]
        if cursor is None:
            return events
