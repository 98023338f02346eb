"""Viewer input → CDP `Input.*` commands for the page the viewer sees.

Viewers send positions as fractions of the frame they show (0..1 across, 0..1 down), so a click
lands on the same spot of the page whatever the size of the viewer; here they become CSS pixels
of the page's viewport (the frame's `deviceWidth`/`deviceHeight`). Everything a viewer sends is
checked: a message that is not exactly one of these shapes is dropped.
"""

import math
from dataclasses import dataclass
from typing import Any

MOUSE_TYPES = {"move": "mouseMoved", "down": "mousePressed", "up": "mouseReleased"}
BUTTONS = ("none", "left", "middle", "right", "back", "forward")
MAX_PASTE_CHARS = 100_000
MAX_WHEEL_DELTA = 10_000
CTRL, META = 2, 4  # CDP modifier bits: Alt=1, Ctrl=2, Meta=4, Shift=8


@dataclass(frozen=True)
class Command:
    method: str
    params: dict[str, Any]
    # Counted for `embed.input` (clicks, key presses, wheel turns, pastes); moves and releases are not.
    counts: bool


def commands(message: dict[str, Any], width: int, height: int) -> list[Command]:
    """The CDP commands for one viewer message, [] if it is not valid input."""
    kind = message.get("type")
    try:
        if kind == "mouse":
            return [_mouse(message, width, height)]
        if kind == "wheel":
            return [_wheel(message, width, height)]
        if kind == "key":
            return [_key(message)]
        if kind == "paste":
            text = message.get("text")
            if isinstance(text, str) and 0 < len(text) <= MAX_PASTE_CHARS:
                return [Command("Input.insertText", {"text": text}, counts=True)]
    except (KeyError, TypeError, ValueError):
        pass
    return []


def _fraction(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise ValueError("not a fraction")
    return number


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError("out of range")
    return value


def _position(message: dict[str, Any], width: int, height: int) -> dict[str, float]:
    return {"x": _fraction(message["x"]) * width, "y": _fraction(message["y"]) * height}


def _mouse(message: dict[str, Any], width: int, height: int) -> Command:
    action = MOUSE_TYPES[message["action"]]
    button = message.get("button", "none")
    if button not in BUTTONS:
        raise ValueError("unknown button")
    params = {
        "type": action,
        **_position(message, width, height),
        "button": button,
        "buttons": _int(message.get("buttons", 0), 0, 31),
        "modifiers": _int(message.get("modifiers", 0), 0, 15),
        "clickCount": _int(message.get("clickCount", 0), 0, 3),
    }
    return Command("Input.dispatchMouseEvent", params, counts=action == "mousePressed")


def _wheel(message: dict[str, Any], width: int, height: int) -> Command:
    deltas = {}
    for name in ("dx", "dy"):
        delta = float(message.get(name, 0))
        if not math.isfinite(delta):
            raise ValueError("not a number")
        deltas[name] = max(-MAX_WHEEL_DELTA, min(MAX_WHEEL_DELTA, delta))
    params = {
        "type": "mouseWheel",
        **_position(message, width, height),
        "deltaX": deltas["dx"],
        "deltaY": deltas["dy"],
        "modifiers": _int(message.get("modifiers", 0), 0, 15),
    }
    return Command("Input.dispatchMouseEvent", params, counts=True)


def _key(message: dict[str, Any]) -> Command:
    action = message["action"]
    key, code = message.get("key"), message.get("code", "")
    if action not in ("down", "up") or not isinstance(key, str) or not isinstance(code, str):
        raise ValueError("not a key event")
    if not 0 < len(key) <= 32 or len(code) > 32:
        raise ValueError("not a key name")
    modifiers = _int(message.get("modifiers", 0), 0, 15)
    key_code = _int(message.get("keyCode", 0), 0, 255)
    params: dict[str, Any] = {
        "key": key,
        "code": code,
        "windowsVirtualKeyCode": key_code,
        "nativeVirtualKeyCode": key_code,
        "modifiers": modifiers,
        "autoRepeat": bool(message.get("repeat", False)),
    }
    if action == "up":
        return Command("Input.dispatchKeyEvent", {"type": "keyUp", **params}, counts=False)
    # A printable key types its character, unless Ctrl/Meta make it a shortcut (Ctrl+A selects
    # all: the page gets the key without text, as in a real browser). Enter types a newline.
    text = key if len(key) == 1 else "\r" if key == "Enter" else ""
    if text and not modifiers & (CTRL | META):
        return Command("Input.dispatchKeyEvent", {"type": "keyDown", "text": text, **params}, counts=True)
    return Command("Input.dispatchKeyEvent", {"type": "rawKeyDown", **params}, counts=True)
