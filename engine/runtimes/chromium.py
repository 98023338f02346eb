"""The Chromium this project runs: its default path and the flags every browser gets.

The engine's runtimes, the end-to-end tests' browser and the benches' raw-Playwright baselines
all launch Chromium with these flags, so a baseline measures the same browser the engine runs
and a flag added for the engine cannot be forgotten by a test. Pure: no Django needed.
"""

import os

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
DEFAULT_VIEWPORT = {"width": 1280, "height": 720}

# No sandbox (Chromium refuses its sandbox as root, and containers often lack user namespaces:
# isolated runtimes drop this flag, running as their own uid with the sandbox on; see
# engine/egress/launcher.py), no GPU (headless servers), and no traffic of the browser's own: no
# background updates, sync, component downloads or first-run pages. QUIC is off so every request
# is an HTTP/1-2 request the runtime can observe (and its egress proxy can judge); WebRTC may not
# send UDP around that proxy.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)


def executable() -> str:
    """CHROMIUM_PATH from the environment, as the engine's settings read it (for tests and benches)."""
    return os.environ.get("CHROMIUM_PATH", DEFAULT_EXECUTABLE)
