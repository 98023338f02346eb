"""CDP messages to and from JSON, with orjson (several times faster than the standard library).

Every CDP message a client sends and every one Chromium answers is decoded and encoded once more
by the multiplexer (its ids and session ids are rewritten), a large part of what the CDP gateway
adds to a step (bench/cdp_gateway.py). Where orjson reads less than the standard library (NaN,
Infinity) the message falls back to `json`, so nothing a client may send is refused for it; an
integer beyond 64 bits arrives as a float, the double Chromium (and JavaScript) reads it as anyway.
"""

import json
from typing import Any

import orjson


def decode(data: str | bytes) -> Any:
    """The JSON value of `data`; ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def encode(message: Any) -> bytes:
    """`message` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(message)
    except TypeError:  # an integer beyond 64 bits (a client's own number, passed through)
        return json.dumps(message, separators=(",", ":")).encode()
