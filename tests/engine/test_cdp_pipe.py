"""The CDP pipe of a browser process (engine/cdp/process.py) and its JSON (engine/cdp/wire.py),
against a real child process that speaks the pipe's framing: messages split across reads, several
in one read, one that is not JSON, numbers beyond 64 bits, the child ending on its own."""

import asyncio
import json
import math
import sys
from typing import Any

from engine.cdp import wire
from engine.cdp.process import BrowserProcess
from tests.support.loops import in_own_loop

# A stand-in for Chromium's --remote-debugging-pipe: writes to fd 4, reads fd 3, NUL-ended JSON.
CHILD = r"""
import json, os, time
BIG = json.dumps({"id": 1, "result": {"data": "x" * 300000}}).encode() + b"\0"
os.write(4, BIG[:1000]); time.sleep(0.05)
os.write(4, BIG[1000:200000]); time.sleep(0.05)
os.write(4, BIG[200000:] + b'{"method":"A"}\0{"method":"B"')
time.sleep(0.05)
os.write(4, b'}\0not json\0{"method":"C","params":{"n":123456789012345678901234567890}}\0')
data = b""
while True:  # echo every message back until the pipe closes, then exit
    chunk = os.read(3, 65536)
    if not chunk:
        break
    data += chunk
    while b"\0" in data:
        message, data = data.split(b"\0", 1)
        os.write(4, message + b"\0")
"""


async def _until(messages: list[dict[str, Any]], count: int) -> None:
    async with asyncio.timeout(30):
        while len(messages) < count:
            await asyncio.sleep(0.01)


@in_own_loop
async def test_whole_messages_arrive_in_order_however_the_pipe_cuts_them() -> None:
    messages: list[dict[str, Any]] = []
    process = await BrowserProcess.spawn([sys.executable, "-c", CHILD], {}, messages.append)
    try:
        await _until(messages, 4)  # the line that is not JSON is passed over
        assert [m.get("method") for m in messages] == [None, "A", "B", "C"]
        assert messages[0]["result"]["data"] == "x" * 300000
        # beyond 64 bits, a number is the double Chromium (and JavaScript) reads it as anyway
        assert messages[3]["params"]["n"] == float(123456789012345678901234567890)
        process.send({"id": 7, "method": "Echo", "params": {"text": "é ✓", "n": 2**70}})
        await _until(messages, 5)
        assert messages[4] == {"id": 7, "method": "Echo", "params": {"text": "é ✓", "n": 2**70}}
        assert process.alive
    finally:
        await process.close(2)
    assert not process.alive


@in_own_loop
async def test_a_child_that_exits_on_its_own_is_noticed() -> None:
    process = await BrowserProcess.spawn([sys.executable, "-c", "pass"], {}, lambda _message: None)
    async with asyncio.timeout(30):
        await asyncio.shield(process.exited)
    assert not process.alive


def test_json_beyond_what_orjson_takes_falls_back_to_the_standard_library() -> None:
    assert wire.decode('{"n": 18446744073709551615}') == {"n": 2**64 - 1}  # exact up to 64 bits
    assert math.isnan(wire.decode('{"x": NaN}')["x"])
    assert json.loads(wire.encode({"n": 2**80, "s": "é"})) == {"n": 2**80, "s": "é"}
    assert wire.encode({"a": [1, "b"]}) == b'{"a":[1,"b"]}'
    try:
        wire.decode(b"not json")
    except ValueError:
        pass
    else:
        raise AssertionError("not JSON must raise ValueError")
