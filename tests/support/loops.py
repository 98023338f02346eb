"""Async tests that run after the E2E suite: the session's sync Playwright (tests/conftest.py
`browser`) keeps an event loop running in the main thread, where pytest-asyncio cannot start
one. `in_own_loop` runs such a test on a loop of its own thread."""

import asyncio
import concurrent.futures
import functools
from collections.abc import Awaitable, Callable


def in_own_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, test(*args, **kwargs)).result()  # type: ignore[arg-type]

    return run
