"""The CDP gateway: connect URLs for a runtime's browser, the websocket that relays them, its limits.

- `tokens.py`: the signed, short-lived token in a connect URL, bound to a runtime and a key;
- `consumer.py`: the websocket route (`/cdp/{runtimeId}?token=`) relaying to the runtime's CDP
  multiplexer (engine/cdp/), judged by the gateway's rules;
- `clients.py`: a judge for a caller, and loopback URLs with the same rules for in-engine
  libraries (browser-use);
- `policy.py`: what the rules ask about a runtime (downloads dir, vault sealing, live control);
- `limits.py`: connections and messages per key.
"""
