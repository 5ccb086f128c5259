"""A cluster that black-holes connections while a worker serves never holds up the worker's shutdown nor the
interpreter's exit (wsgi_cassandra.holder's bounded shutdown and exit hooks, wsgi_cassandra.connect's
connection tracking), with the real driver against the CQL test server.

The black hole: the node accepts TCP connections and reads, but never answers. After the server drops the
connections the driver reconnects on its executor threads, and each attempt waits ``connect_timeout`` (60 s
here) for the handshake; ``Cluster.shutdown()`` and, at exit, ``concurrent.futures`` wait for those threads.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Callable

import pytest

from tests.support.servers import server_env
from tests.support.wait import eventually
from wsgi_cassandra.config import Settings
from wsgi_cassandra.connect import Connector
from wsgi_cassandra.driver import cluster_factory
from wsgi_cassandra.holder import SessionHolder

if TYPE_CHECKING:
    from cassandra.cluster import Session

    from wsgi_cassandra.testing import CQLServer

pytestmark = pytest.mark.integration

CONNECT_TIMEOUT = 60
SHUTDOWN_TIMEOUT = 2.0
# How much longer than its bound a shutdown or an exit may take on a busy machine (the reconnections it
# must not wait for take CONNECT_TIMEOUT).
SLACK = 5.0


def black_hole_the_reconnections(server: CQLServer, query: Callable[[], None]) -> None:
    """Black-hole the server, drop every connection, and ``query`` until the driver, finding its connections
    gone, reconnects into the hole."""
    server.faults.black_hole()
    opened = server.stats.snapshot().connections_opened
    assert server.faults.close_connections() >= 1

    def reconnecting() -> bool:
        query()
        return server.stats.snapshot().connections_opened > opened

    assert eventually(reconnecting, timeout=20, step=0.1)


def query_once(session: Session) -> None:
    with contextlib.suppress(Exception):  # the point is the driver noticing, not the answer
        session.execute("SELECT release_version FROM system.local", timeout=1)


def test_shutdown_while_the_driver_reconnects_into_a_black_hole_frees_its_threads(cql_server: CQLServer) -> None:
    settings = Settings.resolve(
        {"contact_points": cql_server.host, "port": cql_server.port, "connect_timeout": CONNECT_TIMEOUT}, {}
    )
    holder = SessionHolder(Connector(cluster_factory(settings)), shutdown_timeout=SHUTDOWN_TIMEOUT)
    try:
        assert holder.connect(timeout=20)
        connected = holder.current()
        assert connected is not None
        executor_threads = list(connected.cluster.executor._threads)
        black_hole_the_reconnections(cql_server, lambda: query_once(connected.session))

        started = time.monotonic()
        assert holder.shutdown() is True  # the cluster closed within the bound, not after CONNECT_TIMEOUT
        assert time.monotonic() - started < SHUTDOWN_TIMEOUT + SLACK
        assert not any(thread.is_alive() for thread in executor_threads)  # nothing left for the exit to join
        assert connected.cluster.is_shutdown
        cql_server.stats.wait_for("connections_open", 0, timeout=10)
    finally:
        holder.shutdown()
        cql_server.faults.clear()


CHILD = textwrap.dedent(
    """
    import sys
    from wsgi_cassandra.config import Settings
    from wsgi_cassandra.connect import Connector
    from wsgi_cassandra.driver import cluster_factory
    from wsgi_cassandra.holder import SessionHolder

    host, port, connect_timeout, shutdown_timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    settings = Settings.resolve({"contact_points": host, "port": port, "connect_timeout": connect_timeout}, {})
    holder = SessionHolder(Connector(cluster_factory(settings)), shutdown_timeout=shutdown_timeout)
    print("ready" if holder.connect(timeout=20) else "not ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            break
        try:
            holder.session().execute("SELECT release_version FROM system.local", timeout=1)
        except Exception:
            pass
        print("queried", flush=True)
    print("exiting", flush=True)
    # No shutdown(): the interpreter's exit must be bounded all the same (a server without our warmers).
    """
)


def test_interpreter_exit_while_the_driver_reconnects_into_a_black_hole_is_bounded(cql_server: CQLServer) -> None:
    """What bounds it: our hook registered with ``threading._register_atexit`` runs before concurrent.futures
    joins the driver's executor threads (and before any ``atexit`` handler), and stops their reconnections."""
    args = [cql_server.host, str(cql_server.port), str(CONNECT_TIMEOUT), str(SHUTDOWN_TIMEOUT)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(),
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "ready"

        def query() -> None:
            child.stdin.write("query\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "queried"

        black_hole_the_reconnections(cql_server, query)
        child.stdin.write("exit\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "exiting"
        started = time.monotonic()
        child.wait(timeout=CONNECT_TIMEOUT + 30)
        took = time.monotonic() - started
        assert child.returncode == 0, child.stderr.read() if child.stderr else ""
        assert took < SHUTDOWN_TIMEOUT + SLACK, took
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        cql_server.faults.clear()
