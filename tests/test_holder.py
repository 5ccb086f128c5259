"""SessionHolder's lifecycle races, with a fake connector (no driver, no sockets)."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from wsgi_cassandra.connect import Connected, Connector
from wsgi_cassandra.holder import SessionHolder

if TYPE_CHECKING:
    from cassandra.cluster import Cluster

    from tests.support.target import Target


class FakeCluster:
    def __init__(self) -> None:
        self.shutdowns = 0

    def register_listener(self, listener: Any) -> None:
        pass

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_shutdown_racing_the_end_of_a_connect_never_leaks_the_cluster() -> None:
    """``shutdown()`` lands between the connect thread's "stopped?" check and its storing the result."""
    cluster = FakeCluster()
    holder = SessionHolder(lambda pid: Connected(cluster=cluster, session=object(), pid=pid), shutdown_timeout=2)  # type: ignore[arg-type]
    closer: list[threading.Thread] = []

    class ShutdownJustAfterTheCheck(threading.Event):
        calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            if self.calls == 2:  # the check right after the connect returned
                closer.append(threading.Thread(target=holder.shutdown))
                closer[0].start()
                closer[0].join(0.3)  # shutdown runs now, unless it has to wait for the connect thread
                return False
            return super().is_set()

    proc = holder.state
    proc.stop = ShutdownJustAfterTheCheck()
    holder.start()
    assert proc.thread is not None
    proc.thread.join(5)
    closer[0].join(5)
    assert not proc.thread.is_alive()
    assert not closer[0].is_alive()
    assert cluster.shutdowns == 1  # whoever came last closed what the connect built


def test_a_describe_that_raises_does_not_kill_the_retry_loop() -> None:
    """If explaining a failure itself fails, waiters must still be told the attempt ended (not wait it out)."""

    def refused(pid: int) -> Connected:
        raise ConnectionRefusedError("down")

    def broken_describe(exc: BaseException) -> str:
        raise RuntimeError("bug in describe")

    holder = SessionHolder(refused, warm_timeout=30, describe=broken_describe)
    try:
        started = time.monotonic()
        assert holder.get(timeout=30) is None
        assert time.monotonic() - started < 5  # told at once, not after warm_timeout
        assert holder.state.error == "ConnectionRefusedError"
        assert holder.state.thread is not None
        assert holder.state.thread.is_alive()  # still retrying in the background
    finally:
        holder.shutdown()


def test_a_users_connection_factory_survives_the_phase_timing(cassandra: Target) -> None:

    calls: list[int] = []

    def build() -> Cluster:
        cluster = cassandra.cluster()
        default = cluster.connection_factory

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return default(*args, **kwargs)

        cluster.connection_factory = counting  # set on the instance, as a custom factory may
        built.append((cluster, counting))
        return cluster

    built: list[tuple[Cluster, Any]] = []
    connected = Connector(build)(pid=os.getpid())
    try:
        cluster, counting = built[0]
        assert calls  # the user's factory was used for the connect
        assert vars(cluster)["connection_factory"] is counting  # and is still there afterwards
        assert set(connected.phases) >= {"control_connection", "pools"}
    finally:
        connected.cluster.shutdown()
