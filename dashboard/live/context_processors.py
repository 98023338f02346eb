from django.http import HttpRequest

from dashboard.live import fragments, relay


def live(request: HttpRequest) -> dict[str, object]:
    """`live_after`: the last update this process relayed, where the page's socket starts, so an
    update that lands between the page's render and its socket's connect is not missed.
    `live_connection`: the relay's state as the page's `#live-connection` marker, so a page drawn
    while the API is down shows the banner from its first paint."""
    running = relay.running_relay()
    down_since, reason = (running.down_since, running.last_error) if running else (None, "")
    return {
        "live_after": relay.last_relayed_id(),
        "live_connection": fragments.connection(down_since, reason, live=False),
    }
