"""Live control is the engine's: one controller per runtime, over real viewer websockets and Chromium.

Two holders, oscar and vera, take control through the API the way the console does (each names
themselves as `holder`); their sockets are raw websocket clients, so what a page does not send
(a view-only socket's input, a switched-out holder's clicks) is sent anyway.
"""

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection

from tests.support.cdp import Cdp, mint
from tests.support.engine_process import EngineProcess, eventually
from tests.support.live_viewer import BUTTON, Runtime, iframe_url, viewer_socket


def until(socket: ClientConnection, wanted: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict:
    """The first JSON message on `socket` that `wanted` accepts (frames skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = socket.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, str) and wanted(parsed := json.loads(message)):
            return parsed


def click(socket: ClientConnection, tab: str) -> None:
    for action in ("down", "up"):
        socket.send(
            json.dumps(
                {
                    "type": "mouse",
                    "action": action,
                    "x": BUTTON[0],
                    "y": BUTTON[1],
                    "button": "left",
                    "buttons": 1 if action == "down" else 0,
                    "clickCount": 1,
                    "tabId": tab,
                }
            )
        )


def control_of(runtime: Runtime) -> dict[str, Any]:
    response = runtime.api.get(f"{runtime.url}/control")
    assert response.status_code == 200, response.text
    return response.json()


def test_taking_control_ends_the_previous_holders_input_at_once(
    engine: EngineProcess, runtime: Runtime
) -> None:
    tab = runtime.api.get(runtime.url).json()["summary"]["defaultPageId"]
    oscar = iframe_url(runtime.embed(interactive=True, holder="oscar"))
    with viewer_socket(engine, oscar) as oscars:
        click(oscars, tab)
        assert eventually(lambda: runtime.read("page.textContent", "#out") == "clicked 1", timeout=15)
        assert control_of(runtime)["holder"] == "oscar" and control_of(runtime)["connected"] is True
        # Someone else asks without takeOver: told who has it, and nothing changes.
        refused = runtime.embed(interactive=True, holder="vera")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "runtime.control_taken"
        assert refused.json()["error"]["details"]["holder"] == "oscar"
        vera = iframe_url(runtime.embed(interactive=True, holder="vera", takeOver=True))
        told = until(oscars, lambda m: m["type"] == "control" and m["reason"] == "taken")
        assert told == {"type": "control", "interactive": False, "holder": "vera", "reason": "taken"}
        click(oscars, tab)  # dropped: oscar's socket is view-only now
        with viewer_socket(engine, vera) as veras:
            click(veras, tab)
            assert eventually(lambda: runtime.read("page.textContent", "#out") == "clicked 2", timeout=15)
    # Every input that reached the page is counted (never what was typed): oscar's first, vera's.
    assert eventually(lambda: sum(e["eventData"]["count"] for e in runtime.events("embed.input")) == 2)
    assert runtime.read("page.textContent", "#out") == "clicked 2"
    changes = [(e["eventData"]["holder"], e["eventData"]["reason"]) for e in runtime.events("embed.control")]
    assert changes[:2] == [("oscar", "taken"), ("vera", "taken")]


def test_a_holder_who_leaves_releases_control(engine: EngineProcess, runtime: Runtime) -> None:
    oscar = iframe_url(runtime.embed(interactive=True, holder="oscar"))
    with viewer_socket(engine, oscar):
        assert control_of(runtime)["connected"] is True
    # Gone (the socket closed): control is released shortly, and another may take it without takeOver.
    assert eventually(lambda: control_of(runtime)["holder"] is None, timeout=15)
    # Nobody took it meanwhile: oscar's view, reopened, resumes control.
    with viewer_socket(engine, oscar, first_frame=False) as oscars:
        until(oscars, lambda m: m["type"] == "control" and m["interactive"] is True)
        assert control_of(runtime)["holder"] == "oscar"
    assert eventually(lambda: control_of(runtime)["holder"] is None, timeout=15)
    assert runtime.embed(interactive=True, holder="vera").status_code == 200
    # Once someone else has taken control, oscar's old view stays view-only.
    with viewer_socket(engine, oscar, first_frame=False) as oscars:
        assert until(oscars, lambda m: m["type"] == "control")["interactive"] is False


def test_a_view_only_viewer_cannot_change_the_shown_tab(engine: EngineProcess, runtime: Runtime) -> None:
    first = runtime.api.get(runtime.url).json()["summary"]["defaultPageId"]
    with engine.client("read") as reader:
        watching = iframe_url(runtime.embed(reader))
    controller = iframe_url(runtime.embed(interactive=True, holder="oscar"))
    with viewer_socket(engine, watching) as viewer, viewer_socket(engine, controller) as oscars:
        second = runtime.execute({"call": "context.newPage", "bind": "second"})["steps"][0]["result"][
            "pageId"
        ]
        until(viewer, lambda m: m["type"] == "tabs" and len(m["tabs"]) == 2)
        viewer.send(json.dumps({"type": "tab", "tabId": second}))
        # Nothing switches: whatever arrives for a few seconds still shows the first tab.
        deadline = time.monotonic() + 3
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = viewer.recv(timeout=left)
            except TimeoutError:
                break
            if isinstance(message, str) and (parsed := json.loads(message))["type"] == "tabs":
                assert parsed["shownTabId"] == first, parsed
        # The controller's pick switches it for everyone.
        oscars.send(json.dumps({"type": "tab", "tabId": second}))
        until(viewer, lambda m: m["type"] == "tabs" and m["shownTabId"] == second)


def test_releasing_a_holder_ends_their_control_everywhere(engine: EngineProcess, runtime: Runtime) -> None:
    """What the console does when a user's role drops: every runtime they control goes view-only."""
    oscar = iframe_url(runtime.embed(interactive=True, holder="oscar"))
    with viewer_socket(engine, oscar) as oscars:
        with engine.client("admin") as other_key:  # a holder is named under its own key
            assert other_key.post("/live-control/release", json={"holder": "oscar"}).json() == {"released": 0}
        released = runtime.api.post("/live-control/release", json={"holder": "oscar"})
        assert released.status_code == 200 and released.json() == {"released": 1}
        told = until(oscars, lambda m: m["type"] == "control" and m["reason"] == "released")
        assert told["interactive"] is False and told["holder"] is None
        assert control_of(runtime)["holder"] is None
    # Released for good: the same view, reopened, does not get control back.
    with viewer_socket(engine, oscar, first_frame=False) as oscars:
        assert until(oscars, lambda m: m["type"] == "control")["interactive"] is False
    assert runtime.api.delete(f"{runtime.url}/control").status_code == 204


def test_a_cdp_client_sends_no_input_while_a_person_holds_control(
    engine: EngineProcess, runtime: Runtime
) -> None:
    """The CDP gateway's input rule reads the engine's live control (engine/live/control.py)."""
    cdp = Cdp(mint(runtime.api, runtime.url))
    try:
        session = cdp.page_session()
        press = {"type": "keyDown", "key": "a", "code": "KeyA", "text": "a"}
        with viewer_socket(engine, iframe_url(runtime.embed(interactive=True, holder="oscar"))):
            assert control_of(runtime)["holder"] == "oscar"
            refused = cdp.send("Input.dispatchKeyEvent", press, session)
            assert refused.get("error", {}).get("data") == "cdp.live_control", refused
            released = runtime.api.post("/live-control/release", json={"holder": "oscar"})
            assert released.status_code == 200, released.text
            # Handed back: the client's input goes through again.
            assert "error" not in cdp.send("Input.dispatchKeyEvent", press, session)
    finally:
        cdp.close()
    refusals = [e["eventData"]["rule"] for e in runtime.events("cdp.refused")]
    assert refusals == ["cdp.live_control"], refusals
