"""`Server-Timing` (CONSOLE_SERVER_TIMING): where a page's time went, by layer, only when asked."""

from django.contrib.auth.models import User
from django.test import Client

from tests.console.conftest import _client_for


def _layers(header: str) -> dict[str, float]:
    return {
        name: float(duration)
        for name, _, duration in (part.partition(";dur=") for part in header.split(", "))
    }


def test_it_says_where_a_pages_time_went_when_asked(settings, vera: User) -> None:
    settings.CONSOLE_SERVER_TIMING = True
    response = _client_for(vera).get("/workspaces/")  # a new client: its middleware reads the setting
    layers = _layers(response["Server-Timing"])
    assert list(layers) == ["app", "identity", "upstream", "render"]
    # the page called the API and rendered a template, all inside the app's time
    assert layers["upstream"] > 0 and layers["render"] > 0 and layers["identity"] > 0
    assert layers["app"] >= layers["upstream"] + layers["render"]


def test_it_tells_nothing_by_default(viewer_client: Client) -> None:
    assert "Server-Timing" not in viewer_client.get("/workspaces/")
