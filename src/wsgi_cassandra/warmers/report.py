"""Warm a holder and say, once per worker, what happened when it is not ready.

Several warmers may warm the same holder in one worker (Gunicorn's warmer while the app loads, then
the ``post_worker_init`` hook): only the first that finds it not ready logs, and the line says what
actually happened -- the first connect attempt failed (and when the next one is), every host is down, or
the attempt was still running when the wait ended -- instead of a "not ready within N s" that is wrong
when the wait ended early on a refused connection::

    warm_and_report(holder, log)   # True when ready
"""

from __future__ import annotations

import os
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from ..holder import SessionHolder

__all__ = ["not_ready_reason", "warm_and_report"]

_reported: weakref.WeakKeyDictionary[SessionHolder, int] = weakref.WeakKeyDictionary()  # holder -> pid


def warm_and_report(holder: SessionHolder, log: logging.Logger, timeout: float | None = None) -> bool:
    """``holder.warm(timeout)``; when it is not ready, one warning per holder and process (never raises)."""
    if holder.warm(timeout):
        return True
    pid = os.getpid()
    if holder.closed or _reported.get(holder) == pid:
        return False
    _reported[holder] = pid
    waited = holder.warm_timeout if timeout is None else timeout
    log.warning("pid %d: serving without a Cassandra session for now: %s", pid, not_ready_reason(holder, waited))
    return False


def not_ready_reason(holder: SessionHolder, waited: float) -> str:
    """Why ``holder`` has no ready session after a warm-up that waited at most ``waited`` seconds."""
    state = holder.state
    if state.connected is not None:
        return "connected, but every host is down; the driver reconnects in the background (503 until then)"
    if state.attempted.is_set() and state.error is not None:
        retry = max(0.0, state.next_attempt_at - time.monotonic())
        return (
            f"connect attempt {state.attempts} failed ({state.error}); retrying in {retry:.1f} s in the "
            "background (503 until ready)"
        )
    return (
        f"not ready after {waited:.1f} s (WSGI_CASSANDRA_WARM_TIMEOUT), the first connect attempt is still "
        "running in the background (503 until ready)"
    )
