"""The console's Prometheus series (served at /metrics by dashboard/probes.py).

Several console processes behind one port (`manage.py up --console-workers N`) each count their
own; `up` then gives them one PROMETHEUS_MULTIPROC_DIR, and any process's /metrics answers for
all of them (prometheus_client's multiprocess mode): socket counts summed over the live
processes, the relay lag the worst of theirs. Labels take fixed values only.
"""

from prometheus_client import Counter, Gauge

WEBSOCKETS = Gauge(
    "bctrl_console_websockets",
    "Open console websockets of signed-in users: `updates` (every page) and `events` (a runtime page).",
    ["kind"],
    multiprocess_mode="livesum",
)
RELAY_LAG_SECONDS = Gauge(
    "bctrl_relay_lag_seconds",
    "From an update's creation in the API to its delivery by the console's relay (the last one).",
    multiprocess_mode="livemax",
)
RELAY_CONNECTIONS = Counter(
    "bctrl_relay_upstream_connections",
    "Updates streams the console's relays opened to the API (a growing count: drops and resumes).",
)
