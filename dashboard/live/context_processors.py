from django.http import HttpRequest

from dashboard.live import relay


def live(request: HttpRequest) -> dict[str, object]:
    """`live_after`: the last update this process relayed, where the page's socket starts, so an
    update that lands between the page's render and its socket's connect is not missed."""
    return {"live_after": relay.last_relayed_id()}
