"""Viewer input → CDP commands (engine/live/input.py): positions scale to the page, bad input is dropped.

A pure function, tested directly: the browser tests (test_live_viewer.py) show the same commands
land on a real page; these pin the edges a browser test would take minutes to walk.
"""

from engine.live.input import commands


def test_it_scales_fractions_to_the_pages_viewport() -> None:
    [command] = commands(
        {
            "type": "mouse",
            "action": "down",
            "x": 0.25,
            "y": 0.5,
            "button": "left",
            "buttons": 1,
            "clickCount": 2,
        },
        1280,
        720,
    )
    assert command.method == "Input.dispatchMouseEvent" and command.counts
    assert command.params == {
        "type": "mousePressed",
        "x": 320.0,
        "y": 360.0,
        "button": "left",
        "buttons": 1,
        "modifiers": 0,
        "clickCount": 2,
    }


def test_moves_and_releases_are_not_counted_as_input() -> None:
    move = commands({"type": "mouse", "action": "move", "x": 0.1, "y": 0.1}, 100, 100)
    up = commands(
        {"type": "mouse", "action": "up", "x": 0.1, "y": 0.1, "button": "left", "clickCount": 1}, 100, 100
    )
    assert not move[0].counts and not up[0].counts and move[0].params["type"] == "mouseMoved"


def test_printable_keys_type_and_shortcuts_do_not() -> None:
    [typed] = commands({"type": "key", "action": "down", "key": "a", "code": "KeyA", "keyCode": 65}, 1, 1)
    assert typed.params["type"] == "keyDown" and typed.params["text"] == "a"
    [shortcut] = commands(
        {"type": "key", "action": "down", "key": "a", "code": "KeyA", "keyCode": 65, "modifiers": 2}, 1, 1
    )
    assert shortcut.params["type"] == "rawKeyDown" and "text" not in shortcut.params
    [enter] = commands(
        {"type": "key", "action": "down", "key": "Enter", "code": "Enter", "keyCode": 13}, 1, 1
    )
    assert enter.params["text"] == "\r"
    [arrow] = commands(
        {"type": "key", "action": "down", "key": "ArrowLeft", "code": "ArrowLeft", "keyCode": 37}, 1, 1
    )
    assert arrow.params["type"] == "rawKeyDown" and arrow.params["windowsVirtualKeyCode"] == 37
    [release] = commands({"type": "key", "action": "up", "key": "a", "code": "KeyA", "keyCode": 65}, 1, 1)
    assert release.params["type"] == "keyUp" and not release.counts


def test_paste_inserts_text_and_wheel_deltas_are_bounded() -> None:
    [paste] = commands({"type": "paste", "text": "hello"}, 1, 1)
    assert (paste.method, paste.params) == ("Input.insertText", {"text": "hello"})
    [wheel] = commands({"type": "wheel", "x": 0.5, "y": 0.5, "dx": 0, "dy": 1e9}, 800, 600)
    assert wheel.params["deltaY"] == 10_000 and wheel.params["x"] == 400


def test_anything_else_is_dropped() -> None:
    bad = [
        {"type": "mouse", "action": "down", "x": 1.5, "y": 0.5},  # off the picture
        {"type": "mouse", "action": "down", "x": "nan", "y": 0.5},
        {"type": "mouse", "action": "hover", "x": 0.5, "y": 0.5},
        {"type": "mouse", "action": "down", "x": 0.5, "y": 0.5, "button": "fourth"},
        {"type": "mouse", "action": "down", "x": 0.5, "y": 0.5, "clickCount": True},
        {"type": "key", "action": "down", "key": "", "code": "KeyA"},
        {"type": "key", "action": "down", "key": "x" * 100},
        {"type": "key", "action": "press", "key": "a"},
        {"type": "key", "action": "down", "key": "a", "keyCode": 999},
        {"type": "paste", "text": ""},
        {"type": "paste", "text": "x" * 100_001},
        {"type": "wheel", "x": 0.5, "y": 0.5, "dy": "inf"},
        {"type": "evaluate", "expression": "alert(1)"},
        {},
    ]
    for message in bad:
        assert commands(message, 1280, 720) == [], message
