"""A cluster that black-holes connections while a worker serves never holds up the worker's shutdown nor the
interpreter's exit (wsgi_cassandra.holder's bounded shutdown and exit hooks, wsgi_cassandra.connect's
connection tracking): with the real driver against the CQL test server, in this process and in a child
interpreter that exits; and, without a server, what the early exit hook does and when it runs.

The black hole: the node accepts TCP connections and reads, but never answers. After the server drops the
connections the driver reconnects on its executor threads, and each attempt waits ``connect_timeout`` (60 s
here) for the handshake; ``Cluster.shutdown()`` and, at exit, ``concurrent.futures`` wait for those threads.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pytest

from tests.support.servers import server_env
from tests.support.wait import eventually
from wsgi_cassandra import holder as lifecycle
from wsgi_cassandra.config import Settings
from wsgi_cassandra.connect import Connected, Connector
from wsgi_cassandra.driver import cluster_factory
from wsgi_cassandra.holder import Backoff, SessionHolder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cassandra.cluster import Session

    from wsgi_cassandra.testing import CQLServer

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


@pytest.mark.integration
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


@contextlib.contextmanager
def dropping_packets(server: CQLServer) -> Iterator[None]:
    """The server's address stops answering TCP handshakes, like a node that drops packets: its listener is
    closed and one that never accepts takes its place, with its accept queue full (Linux then drops SYNs)."""
    server.faults.refuse_connections()
    listener = socket.socket()
    queued: list[socket.socket] = []
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((server.host, server.port))
        listener.listen(0)
        for _ in range(5):
            client = socket.socket()
            client.settimeout(2.0)  # a loopback connect with room in the queue takes microseconds
            try:
                client.connect((server.host, server.port))
            except OSError:  # no SYN-ACK: the queue is full
                client.close()
                break
            queued.append(client)
        else:
            pytest.skip("needs a kernel that drops SYNs to a listener whose accept queue is full (Linux)")
        yield
    finally:
        for client in queued:
            client.close()
        listener.close()
        server.faults.clear()


def connects_waiting_for(port: int) -> int:
    """TCP connects to ``port`` on this machine still waiting for the SYN-ACK (SYN_SENT in /proc/net/tcp)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[3] == "02" and int(line.split()[2].split(":")[1], 16) == port)


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp (Linux) to see a TCP connect wait")
def test_shutdown_ends_a_reconnection_stuck_in_a_tcp_connect_to_a_node_that_drops_packets(
    cql_server: CQLServer,
) -> None:
    settings = Settings.resolve(
        {"contact_points": cql_server.host, "port": cql_server.port, "connect_timeout": CONNECT_TIMEOUT}, {}
    )
    holder = SessionHolder(Connector(cluster_factory(settings)), shutdown_timeout=SHUTDOWN_TIMEOUT)
    try:
        assert holder.connect(timeout=20)
        connected = holder.current()
        assert connected is not None
        executor_threads = list(connected.cluster.executor._threads)
        with dropping_packets(cql_server):
            assert cql_server.faults.close_connections() >= 1

            def reconnecting() -> bool:  # the driver's reconnection waits for a SYN-ACK that never comes
                query_once(connected.session)
                return connects_waiting_for(cql_server.port) > 0

            assert eventually(reconnecting, timeout=20, step=0.1)
            started = time.monotonic()
            assert holder.shutdown() is True
            assert time.monotonic() - started < SHUTDOWN_TIMEOUT + SLACK
            assert not any(thread.is_alive() for thread in executor_threads)
            assert connects_waiting_for(cql_server.port) == 0
    finally:
        holder.shutdown()


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


@pytest.mark.integration
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


def test_the_early_exit_hook_stops_connecting_and_leaves_the_session_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """What runs before concurrent.futures joins the driver's threads: every holder stops connecting -- its
    cluster fails the connections still opening -- but non-daemon threads may still use the session."""
    stops: list[int] = []

    class Cluster:
        def register_listener(self, listener: object) -> None:
            pass

        def shutdown(self) -> None:
            pass

    def stop_connecting() -> int:
        stops.append(1)
        return 1

    connected = Connected(cluster=Cluster(), session=object(), pid=os.getpid(), stop_connecting=stop_connecting)  # type: ignore[arg-type]
    serving = SessionHolder(lambda pid: connected)
    assert serving.connect(timeout=10)
    retrying = SessionHolder(refused, backoff=Backoff(initial=60.0, maximum=60.0, jitter=False))
    assert retrying.get(timeout=10) is None  # the first attempt failed; the loop now waits 60 s
    thread = retrying.state.thread
    assert thread is not None

    monkeypatch.setattr(lifecycle, "all_holders", lambda: [serving, retrying])
    lifecycle._stop_connecting_at_exit()
    assert stops == [1]
    assert serving.current() is connected  # still usable until the atexit handler shuts it down
    assert serving.closed
    assert retrying.closed
    thread.join(10)
    assert not thread.is_alive()
    serving.shutdown()


def test_the_early_exit_hook_runs_before_concurrent_futures_joins_its_threads() -> None:
    """``threading._register_atexit`` callbacks run last-in first-out: ours must come after concurrent.futures'."""
    import concurrent.futures.thread

    lifecycle._install_exit_hook()
    callbacks = getattr(threading, "_threading_atexits", None)
    python_exit = getattr(concurrent.futures.thread, "_python_exit", None)
    if callbacks is None or python_exit is None:
        pytest.skip("needs CPython 3.9+'s threading._threading_atexits and concurrent.futures' _python_exit")
    functions = [getattr(callback, "func", callback) for callback in callbacks]  # functools.partial objects
    assert functions.index(lifecycle._stop_connecting_at_exit) > functions.index(python_exit)


FORKED_CHILD_EXIT_BOUND = 30.0  # the child exits in milliseconds; without the fix it never does

FORK_WHILE_LOCKED = textwrap.dedent(
    """
    import os, signal, sys, threading
    from wsgi_cassandra import holder as lifecycle

    def refused(pid):
        raise ConnectionRefusedError("down")

    holder = lifecycle.SessionHolder(refused)  # installs the fork hook and _close_all_at_exit
    lifecycle._install_exit_hook()  # and the two hooks a connect thread installs
    held, release = threading.Event(), threading.Event()

    def hold():
        with holder.state.lock:
            held.set()
            release.wait(60)

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(10)
    child = os.fork()
    if child == 0:
        sys.exit(0)  # a normal interpreter exit: every exit hook runs, in the child
    release.set()
    statuses = []
    waiter = threading.Thread(target=lambda: statuses.append(os.waitpid(child, 0)[1]))
    waiter.start()
    waiter.join(float(sys.argv[1]))
    if not statuses:
        os.kill(child, signal.SIGKILL)
        waiter.join(10)
        print("hung")
    else:
        print("exit", os.waitstatus_to_exitcode(statuses[0]))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_a_forked_child_exits_although_the_parent_held_the_state_lock_at_the_fork() -> None:
    """The child inherits the state's lock as it was at the fork: held, for good. The exit hooks (the
    early one, atexit's shutdown and close) must not take it: the child's exit status comes, bounded."""
    result = subprocess.run(
        [sys.executable, "-c", FORK_WHILE_LOCKED, str(FORKED_CHILD_EXIT_BOUND)],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=FORKED_CHILD_EXIT_BOUND + 60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exit 0", result.stderr


def refused(pid: int) -> Connected:
    raise ConnectionRefusedError("down")
