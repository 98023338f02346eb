"""Reading the engine's update log in tests."""

import httpx


def newest_update(api: httpx.Client) -> int:
    """The sequence of the newest update so far: read after it to see only what a test causes."""
    after = 0
    while True:
        page = api.get("/updates", params={"after": after, "limit": 500}).json()
        if page["updates"]:
            after = page["updates"][-1]["id"]
        if page["nextCursor"] is None:
            return after
