"""Waiting in tests: poll a check until it holds, or fail after a deadline. Never sleep and hope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(check: Callable[[], Any], within: float = 30.0, what: str = "") -> Any:
    """Call `check()` until it returns something truthy, and return that; fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {within:g} s waiting for {what or check}")
        time.sleep(0.05)


async def wait_for_async(check: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    """`wait_for` inside an event loop: the loop keeps running between checks."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {within:g} s waiting for {what or check}")
        await asyncio.sleep(0.05)
