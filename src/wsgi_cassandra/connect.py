"""One connect attempt: build a Cluster, connect a Session, and time the phases.

The holder calls a connector from its background thread; this module does the driver work and nothing
else, so the holder stays about state, threads and forks. Phase timings (milliseconds) end up in the
worker's "session ready" log line, the health endpoint and the ``check`` command.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cassandra.cluster import Cluster, Session

    from .driver import ClusterFactory


@dataclass(frozen=True)
class Connected:
    """A connected Cluster and Session, built in process ``pid``, with how long each phase took (ms)."""

    cluster: Cluster
    session: Session
    pid: int
    phases: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        return sum(self.phases.values())


class Connector:
    """Builds a Cluster with ``factory`` and connects it to ``keyspace``; callable, one attempt per call.

    On any failure the half-built Cluster is shut down before the exception propagates, so a failed
    attempt never leaks the driver's threads or sockets.
    """

    def __init__(self, factory: ClusterFactory, *, keyspace: str | None = None) -> None:
        self.factory = factory
        self.keyspace = keyspace

    def __call__(self, pid: int) -> Connected:
        started = time.perf_counter()
        cluster = self.factory()
        phases: dict[str, float] = {}
        try:
            session = cluster.connect(self.keyspace)
        except BaseException:
            cluster.shutdown()
            raise
        phases["connect"] = (time.perf_counter() - started) * 1000.0
        return Connected(cluster=cluster, session=session, pid=pid, phases=phases)
