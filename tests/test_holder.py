"""SessionHolder's lifecycle races, with a fake connector (no driver, no sockets)."""

from __future__ import annotations

import threading
from typing import Any

from wsgi_cassandra.connect import Connected
from wsgi_cassandra.holder import SessionHolder


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
