"""The driver listener that takes the session away from requests while *every* host is down.

The driver raises ``NoHostAvailable`` at once in that state, but frameworks turn it into a 500; with no
live session the middleware answers a clean 503 instead, until the driver's own reconnection brings a
host back up and ``on_up`` makes the session live again -- no worker restart. The holder registers one
per connected Cluster::

    connected.cluster.register_listener(HostWatch(state, connected))
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connect import Connected
    from .state import ProcessState

__all__ = ["HostWatch"]

# The holder's logger: these lines are part of the story it tells about the session (ready, down, back).
log = logging.getLogger("wsgi_cassandra.holder")


class HostWatch:
    """A driver ``HostStateListener`` that sets ``state.live`` to the session or ``None``; see above."""

    def __init__(self, proc: ProcessState, connected: Connected) -> None:
        self.state, self._connected = proc, connected
        # The driver calls listeners from several threads: one host going down while another comes up
        # must not interleave a stale "none up" read with the write of the other's "live".
        self._lock = threading.Lock()

    def _refresh(self, changed: Any, up: bool) -> None:
        with self._lock:
            hosts = self._connected.cluster.metadata.all_hosts()
            any_up = up or any(host.is_up for host in hosts if host is not changed)
            if self.state.connected is not self._connected:
                return  # shut down or replaced meanwhile
            was_live = self.state.live is not None
            self.state.live = self._connected if any_up else None
        if was_live and not any_up:
            log.warning(
                "pid %d: all %d Cassandra host(s) are down; answering 503 until one is back", self.state.pid, len(hosts)
            )
        elif any_up and not was_live:
            log.info("pid %d: Cassandra host %s is back up; serving again", self.state.pid, changed)

    def on_up(self, host: Any) -> None:
        self._refresh(host, True)

    def on_down(self, host: Any) -> None:
        self._refresh(host, False)

    def on_add(self, host: Any) -> None:
        """New hosts come up through ``on_up``."""

    def on_remove(self, host: Any) -> None:
        self._refresh(host, False)
