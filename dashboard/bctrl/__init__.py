"""The BCTRL v1 API client: the only module of the console that speaks HTTP (httpx).

Resource modules (workspaces.py, runtimes.py, ...) turn contract JSON into typed results;
client.py owns the pooled connection, timeouts, retries and the error family.
"""

from dashboard.bctrl.client import BctrlClient, get_client
from dashboard.bctrl.errors import BctrlError

__all__ = ["BctrlClient", "BctrlError", "get_client"]
