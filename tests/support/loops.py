"""Tests that run after the E2E suite: the session's sync Playwright (tests/conftest.py `browser`)
keeps an event loop running in the main thread, where pytest-asyncio, `asyncio.run` and another
sync Playwright cannot start. These run such work in a thread of its own."""

import asyncio
import concurrent.futures
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def in_own_thread(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a thread of its own, its result (or its exception) here."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine on a loop of its own thread."""
    return in_own_thread(asyncio.run, coroutine)


def in_own_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """An async test run on a loop of its own thread."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        run_in_own_loop(test(*args, **kwargs))  # type: ignore[arg-type]

    return run
