"""Bounded waits: every test waits for the fact it asserts, never for a fixed time.

Each helper polls a check a bounded number of times before a deadline::

    assert eventually(lambda: stats.startups >= 2, timeout=10)          # a fact that must become true
    wait_until(lambda: server.worker_pids(), timeout=10, what="workers")  # the same, raising TimeoutError
    assert stays(lambda: stats.startups == 2, seconds=0.3)              # a fact that must stay true

``stays`` is for the negative facts ("no second connect happens"): it watches the fact for the whole
window and fails as soon as it breaks, so a slow machine can only make it watch longer, never fail it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["eventually", "stays", "wait_until"]


def eventually(check: Callable[[], Any], *, timeout: float, step: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy and return that; after ``timeout`` seconds (and a
    bounded number of calls) return its last, falsy, result."""
    deadline = time.monotonic() + timeout
    result = None
    for _ in range(int(timeout / step) + 2):
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(step)
    return result


def wait_until(check: Callable[[], Any], *, timeout: float, step: float = 0.05, what: str = "condition") -> Any:
    """Call ``check`` until it returns something truthy; ``TimeoutError`` after ``timeout`` seconds."""
    result = eventually(check, timeout=timeout, step=step)
    if not result:
        raise TimeoutError(f"{what} not reached within {timeout:.1f} s")
    return result


def stays(check: Callable[[], Any], *, seconds: float, step: float = 0.05) -> bool:
    """``True`` if ``check`` stayed truthy for ``seconds`` (checked at least twice, bounded); ``False`` at
    the first falsy result."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / step) + 2):
        if not check():
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(step)
    return bool(check())
