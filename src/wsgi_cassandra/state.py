"""One process's share of a :class:`~wsgi_cassandra.holder.SessionHolder`, and what it says about itself.

The holder keeps one ``ProcessState`` per process and replaces it after a fork, so that a child never
reads the parent's. The connect thread and :class:`~wsgi_cassandra.hostwatch.HostWatch` write it; the
middleware's fast path reads ``pid`` and ``live`` directly; health checks and 503 answers read it through
:meth:`ProcessState.status` and :meth:`ProcessState.unavailable`::

    state.live or state.unavailable()   # the session for a request, or why there is none
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Any

from .errors import SessionUnavailable

if TYPE_CHECKING:
    from .connect import Connected

__all__ = ["ProcessState"]


class ProcessState:
    """The state of one process. After a fork the child makes a new one and leaves the parent's alone."""

    __slots__ = (
        "attempted",
        "attempts",
        "connected",
        "error",
        "live",
        "lock",
        "next_attempt_at",
        "pid",
        "stop",
        "thread",
    )

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.lock = threading.Lock()
        self.connected: Connected | None = None  # built in this process (until shutdown)
        self.live: Connected | None = None  # what requests get: ``connected`` while at least one host is up
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.attempted = threading.Event()  # set when this process's first attempt has ended, either way
        self.attempts = 0
        self.error: str | None = None
        self.next_attempt_at = 0.0

    def unavailable(self) -> SessionUnavailable:
        """The error describing why there is no session now, with a ``Retry-After`` hint."""
        if self.connected is not None and self.live is None:
            hosts = len(self.connected.cluster.metadata.all_hosts())
            return SessionUnavailable(
                f"all {hosts} Cassandra host(s) are down; the driver is reconnecting in the background",
                retry_after=2,
            )
        if self.error is None:
            return SessionUnavailable("the Cassandra session is still connecting", retry_after=1)
        wait = max(1, math.ceil(self.next_attempt_at - time.monotonic()))
        return SessionUnavailable(f"Cassandra is unavailable: {self.error}", retry_after=wait)

    def status(self) -> dict[str, Any]:
        """A small, secret-free summary for health checks and logs."""
        connected = self.connected
        if self.live is not None:
            state = "ready"
        elif connected is not None:
            state = "hosts_down"
        else:
            state = "unavailable" if self.error else "connecting"
        status: dict[str, Any] = {"state": state, "pid": self.pid, "attempts": self.attempts}
        if connected is not None:
            hosts = connected.cluster.metadata.all_hosts()
            status["hosts_up"] = sum(1 for host in hosts if host.is_up)
            status["hosts"] = len(hosts)
            status["warmup_ms"] = {name: round(ms, 1) for name, ms in connected.phases.items()}
            status["warmup_total_ms"] = round(connected.total_ms, 1)
        if self.error is not None:
            status["last_error"] = self.error
            status["retry_in_s"] = round(max(0.0, self.next_attempt_at - time.monotonic()), 1)
        return status
