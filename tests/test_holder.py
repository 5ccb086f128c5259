"""The session lifecycle (wsgi_cassandra.holder): backoff, per-process state, host watch, shutdown, and the
holder's races -- with fake connectors (no driver, no sockets) except where a real attempt is the point."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import pytest

from wsgi_cassandra import holder as lifecycle
from wsgi_cassandra.config import Settings
from wsgi_cassandra.connect import Connected, Connector
from wsgi_cassandra.driver import cluster_factory
from wsgi_cassandra.exceptions import SessionUnavailable
from wsgi_cassandra.fastconnect import fetch_keyspaces_in_background
from wsgi_cassandra.holder import Backoff, HostWatch, ProcessState, SessionHolder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cassandra.cluster import Cluster

    from tests.support.target import Target
    from wsgi_cassandra.testing import CQLServer


class FakeHost:
    def __init__(self, name: str, up: bool) -> None:
        self.name, self.is_up = name, up

    def __repr__(self) -> str:
        return self.name


class FakeMetadata:
    def __init__(self, hosts: list[FakeHost]) -> None:
        self.hosts = hosts

    def all_hosts(self) -> list[FakeHost]:
        return list(self.hosts)


class FakeCluster:
    def __init__(self, hosts: list[FakeHost] | None = None) -> None:
        self.shutdowns = 0
        self.metadata = FakeMetadata(hosts if hosts is not None else [FakeHost("h1", True)])

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


def connected_to(cluster: FakeCluster) -> Connected:
    return Connected(cluster=cluster, session=object(), pid=os.getpid(), phases={"pools": 1.0})  # type: ignore[arg-type]


def refused(pid: int) -> Connected:
    raise ConnectionRefusedError("down")


# --- Backoff ---------------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_maximum() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0, jitter=False)
    assert [backoff.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0  # no overflow however long the outage


def test_backoff_permanent_errors_wait_the_maximum_at_once() -> None:
    assert Backoff(initial=0.5, maximum=30.0, jitter=False).delay(1, permanent=True) == 30.0


def test_backoff_jitter_stays_between_half_and_all_of_the_delay() -> None:
    backoff = Backoff(initial=1.0, maximum=60.0)
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(2.0 <= delay <= 4.0 for delay in delays)
    assert len(set(delays)) > 1  # workers failing together do not retry in lockstep


# --- ProcessState ----------------------------------------------------------------------------------------


def test_state_while_connecting() -> None:
    proc = ProcessState(4242)
    assert proc.status() == {"state": "connecting", "pid": 4242, "attempts": 0}
    error = proc.unavailable()
    assert "still connecting" in error.reason
    assert error.retry_after == 1


def test_state_after_a_failed_attempt_says_why_and_when_the_next_one_is() -> None:
    proc = ProcessState(4242)
    proc.attempts, proc.error, proc.next_attempt_at = 2, "connection refused", time.monotonic() + 7.5
    status = proc.status()
    assert (status["state"], status["attempts"], status["last_error"]) == ("unavailable", 2, "connection refused")
    assert 0 < status["retry_in_s"] <= 7.5
    error = proc.unavailable()
    assert "connection refused" in error.reason
    assert 1 <= error.retry_after <= 8


def test_state_ready_and_with_every_host_down() -> None:
    hosts = [FakeHost("h1", True), FakeHost("h2", False)]
    proc = ProcessState(4242)
    proc.connected = proc.live = connected_to(FakeCluster(hosts))
    status = proc.status()
    assert (status["state"], status["hosts_up"], status["hosts"]) == ("ready", 1, 2)
    assert status["warmup_ms"] == {"pools": 1.0}
    proc.live = None
    assert proc.status()["state"] == "hosts_down"
    assert "all 2 Cassandra host(s) are down" in proc.unavailable().reason


def test_a_host_back_between_the_check_and_the_answer_keeps_the_hosts_down_answer() -> None:
    """The middleware found no live session; a host came back (recovery.py) before it asked why."""
    proc = ProcessState(4242)
    proc.connected = proc.live = connected_to(FakeCluster([FakeHost("h1", True)]))
    error = proc.unavailable()
    assert "all 1 Cassandra host(s) are down" in error.reason  # not "still connecting"
    assert error.retry_after == 2


# --- HostWatch -------------------------------------------------------------------------------------------


def test_host_watch_takes_the_session_away_only_when_every_host_is_down() -> None:
    a, b = FakeHost("a", True), FakeHost("b", True)
    proc = ProcessState(os.getpid())
    proc.connected = proc.live = connected = connected_to(FakeCluster([a, b]))
    watch = HostWatch(proc, connected)
    a.is_up = False
    watch.on_down(a)
    assert proc.live is connected  # b is still up
    b.is_up = False
    watch.on_down(b)
    assert proc.live is None
    a.is_up = True
    watch.on_up(a)
    assert proc.live is connected


def test_host_watch_leaves_a_shut_down_state_alone() -> None:
    a = FakeHost("a", True)
    proc = ProcessState(os.getpid())
    connected = connected_to(FakeCluster([a]))
    watch = HostWatch(proc, connected)  # proc.connected is None: shut down (or replaced) meanwhile
    watch.on_up(a)
    assert proc.live is None


def test_host_watch_serialises_a_host_going_down_with_another_coming_up() -> None:
    """Without the lock, on_down(a) reads "none up", on_up(b) sets live, then on_down writes its stale None."""
    a, b = FakeHost("a", False), FakeHost("b", False)  # the driver marked a down, then calls on_down(a)
    inside, proceed = threading.Event(), threading.Event()

    class SlowMetadata(FakeMetadata):
        calls = 0

        def all_hosts(self) -> list[FakeHost]:
            hosts = super().all_hosts()
            SlowMetadata.calls += 1
            if SlowMetadata.calls == 1:  # on_down(a) has read "none up" and is about to write it
                inside.set()
                proceed.wait(10)
            return hosts

    cluster = FakeCluster([a, b])
    cluster.metadata = SlowMetadata([a, b])
    proc = ProcessState(os.getpid())
    proc.connected = proc.live = connected = connected_to(cluster)
    watch = HostWatch(proc, connected)
    down = threading.Thread(target=watch.on_down, args=(a,))
    down.start()
    assert inside.wait(10)
    b.is_up = True
    up = threading.Thread(target=watch.on_up, args=(b,))
    up.start()
    up.join(0.3)  # with the lock, on_up waits for on_down; without it, it finishes now (and is overwritten)
    proceed.set()
    down.join(10)
    up.join(10)
    assert not down.is_alive()
    assert not up.is_alive()
    assert proc.live is connected  # b is up: the session is live


class ObservedLock:
    """A lock that tells whether an acquirer had to wait (``contended``) and when it was released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.contended, self.released, self.moved = threading.Event(), threading.Event(), threading.Event()

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.contended.set()
            self.moved.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        self.released.set()
        self.moved.set()


def test_a_host_event_racing_shutdown_never_hands_the_closed_cluster_back() -> None:
    """``on_up`` has checked that the state is still connected; ``shutdown()`` runs before it writes ``live``.

    Forced: reading ``live`` (between the check and the write) runs ``shutdown()`` in another thread and
    waits until it either finished taking the session away or is waiting for the watch to finish."""
    a = FakeHost("a", True)
    connected = connected_to(FakeCluster([a]))
    watching = threading.current_thread()
    closers: list[threading.Thread] = []

    class RaceOnRead(ProcessState):
        _live: Connected | None = None

        @property  # type: ignore[override]
        def live(self) -> Connected | None:
            if threading.current_thread() is watching and not closers:
                closers.append(threading.Thread(target=holder.shutdown, args=(10,)))
                closers[0].start()
                assert lock.moved.wait(10)  # shutdown() has run, or waits for our lock
            return self._live

        @live.setter
        def live(self, value: Connected | None) -> None:
            self._live = value

    holder = SessionHolder(refused)
    proc = holder.state = RaceOnRead(os.getpid())
    proc.lock = lock = ObservedLock()  # type: ignore[assignment]
    proc.connected = connected
    watch = HostWatch(proc, connected)
    watch.on_up(a)
    assert closers
    closers[0].join(10)
    assert not closers[0].is_alive()
    assert proc.live is None
    assert holder.current() is None  # the middleware answers 503, not a request on a closed Cluster
    assert connected.cluster.shutdowns == 1  # type: ignore[attr-defined]
    assert lock.contended.is_set()  # shutdown() waited for the watch's check-and-write, then cleared it


def test_host_watch_never_hands_the_session_out_once_stopping() -> None:
    """The exit hook stopped the holder (``stop`` set, the session left up): a host coming back changes
    nothing; a host going down still takes the session away."""
    a = FakeHost("a", False)
    proc = ProcessState(os.getpid())
    proc.connected = connected = connected_to(FakeCluster([a]))
    watch = HostWatch(proc, connected)
    proc.stop.set()
    a.is_up = True
    watch.on_up(a)
    assert proc.live is None
    proc.live = connected
    a.is_up = False
    watch.on_down(a)
    assert proc.live is None


# --- shutdown: closed means closed -----------------------------------------------------------------------


def connect_threads() -> list[threading.Thread]:
    name = f"wsgi-cassandra-connect-{os.getpid()}"
    return [thread for thread in threading.enumerate() if thread.name == name and thread.is_alive()]


def test_after_shutdown_nothing_starts_a_connect_thread() -> None:
    attempts: list[int] = []

    def counting(pid: int) -> Connected:
        attempts.append(pid)
        raise ConnectionRefusedError("down")

    holder = SessionHolder(counting)
    before = connect_threads()
    assert holder.shutdown() is True
    assert holder.get(timeout=5) is None
    assert holder.connect(timeout=5) is False
    holder.start()
    with pytest.raises(SessionUnavailable, match="shut down"):
        holder.session(timeout=5)
    assert holder.status()["state"] == "closed"
    assert holder.state.thread is None
    assert connect_threads() == before
    assert attempts == []


def test_shutdown_ends_a_retry_loop_waiting_for_its_next_attempt() -> None:
    holder = SessionHolder(refused, backoff=Backoff(initial=60.0, maximum=60.0, jitter=False))
    assert holder.get(timeout=10) is None  # the first attempt failed; the loop now waits 60 s
    thread = holder.state.thread
    assert thread is not None
    assert thread.is_alive()
    assert holder.shutdown(timeout=10) is True
    assert not thread.is_alive()
    assert holder.unavailable().reason.startswith("the Cassandra session was shut down")


class BlockingConnector:
    """A connect attempt that lasts until released, or until ``abort`` (like a black-holed connect)."""

    def __init__(self, abortable: bool) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.cluster = FakeCluster()
        if abortable:
            self.abort = lambda pid: self.release.set()

    def __call__(self, pid: int) -> Connected:
        self.entered.set()
        self.release.wait(30)
        return connected_to(self.cluster)


def test_shutdown_stops_an_attempt_in_flight_within_its_bound(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsgi_cassandra.holder")
    connector = BlockingConnector(abortable=True)
    holder = SessionHolder(connector)
    holder.start()
    assert connector.entered.wait(10)
    thread = holder.state.thread
    assert thread is not None
    assert holder.shutdown(timeout=10) is True
    assert not thread.is_alive()
    assert connector.cluster.shutdowns == 1  # what the stopped attempt built is closed, not kept
    assert holder.current() is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_shutdown_reports_an_attempt_it_could_not_stop() -> None:
    connector = BlockingConnector(abortable=False)
    holder = SessionHolder(connector)
    holder.start()
    assert connector.entered.wait(10)
    thread = holder.state.thread
    assert thread is not None
    try:
        assert holder.shutdown(timeout=0.2) is False  # a user's connector without abort(): it runs on
    finally:
        connector.release.set()
        thread.join(10)
    assert not thread.is_alive()
    assert connector.cluster.shutdowns == 1  # and closes what it built when it ends
    assert holder.current() is None


def test_requests_racing_shutdown_never_start_a_thread_after_it() -> None:
    holder = SessionHolder(refused, backoff=Backoff(initial=60.0, maximum=60.0, jitter=False))
    go = threading.Barrier(9)

    def request() -> None:
        go.wait(10)
        for _ in range(50):
            holder.get(timeout=0.01)

    requests = [threading.Thread(target=request) for _ in range(8)]
    for thread in requests:
        thread.start()
    go.wait(10)
    holder.shutdown(timeout=10)
    for thread in requests:
        thread.join(10)
    started = holder.state.thread
    assert started is None or not started.is_alive()
    holder.get(timeout=0.01)
    assert holder.state.thread is started  # nothing new after shutdown returned


def test_the_exit_hook_closes_every_holder(monkeypatch: pytest.MonkeyPatch) -> None:
    holder = SessionHolder(refused, backoff=Backoff(initial=60.0, maximum=60.0, jitter=False))
    assert holder.get(timeout=10) is None
    thread = holder.state.thread
    assert thread is not None
    monkeypatch.setattr(lifecycle, "all_holders", lambda: [holder])
    lifecycle._shutdown_at_exit()
    assert holder.closed
    assert not thread.is_alive()
    assert holder.get(timeout=0.01) is None
    assert holder.state.thread is thread


class SchemaReadCluster(FakeCluster):
    """A background keyspace read waits for its answer until ``shutdown()`` closes the control connection
    (``cut_short``, what the driver does) -- or, not cut short, until the test releases it."""

    def __init__(self, *, cut_short: bool) -> None:
        super().__init__()
        self.cut_short, self.is_shutdown = cut_short, False
        self.reading, self.answer = threading.Event(), threading.Event()

    def refresh_keyspace_metadata(self, name: str) -> None:
        self.reading.set()
        self.answer.wait(30)
        raise ConnectionError("the control connection was closed")

    def shutdown(self) -> None:
        super().shutdown()
        self.is_shutdown = True
        if self.cut_short:
            self.answer.set()


def fetching_in_background(cluster: SchemaReadCluster) -> Callable[[int], Connected]:
    """A connector that, like Connector with ``schema_metadata="background"``, leaves a fetch running."""

    def connect(pid: int) -> Connected:
        connected = connected_to(cluster)
        connected.extras["metadata_fetch"] = fetch_keyspaces_in_background(cluster, ["shop"], pid)  # type: ignore[arg-type]
        return connected

    return connect


def test_shutdown_waits_for_the_background_metadata_fetch_it_cut_short() -> None:
    cluster = SchemaReadCluster(cut_short=True)
    holder = SessionHolder(fetching_in_background(cluster))
    connected = holder.get(timeout=10)
    assert connected is not None
    assert cluster.reading.wait(10)
    fetch = connected.extras["metadata_fetch"]
    assert holder.shutdown(timeout=10) is True
    assert not fetch.is_alive()  # ended before shutdown() returned, not some time after


def test_shutdown_reports_a_background_metadata_fetch_it_could_not_stop(caplog: pytest.LogCaptureFixture) -> None:
    cluster = SchemaReadCluster(cut_short=False)
    holder = SessionHolder(fetching_in_background(cluster))
    connected = holder.get(timeout=10)
    assert connected is not None
    assert cluster.reading.wait(10)
    fetch = connected.extras["metadata_fetch"]
    try:
        assert holder.shutdown(timeout=0.2) is False  # waited for it, within the bound, and says so
        assert "schema fetch was still running" in caplog.text
    finally:
        cluster.answer.set()
        fetch.join(10)
    assert not fetch.is_alive()
    assert cluster.shutdowns == 1


@pytest.fixture
def black_holed(cql_server: CQLServer) -> Iterator[CQLServer]:
    cql_server.faults.black_hole()
    yield cql_server
    cql_server.faults.clear()


@pytest.mark.integration
def test_shutdown_during_a_black_holed_connect_leaves_no_thread(black_holed: CQLServer) -> None:
    """The driver would wait connect_timeout (60 s here) for an answer; shutdown() closes its connections."""
    settings = Settings.resolve(
        {"contact_points": black_holed.host, "port": black_holed.port, "connect_timeout": 60, "protocol_version": 5},
        {},
    )
    holder = SessionHolder(Connector(cluster_factory(settings)), shutdown_timeout=5)
    holder.start()
    black_holed.stats.wait_for("connections_opened", 1, timeout=10, compare=lambda now, wanted: now >= wanted)
    thread = holder.state.thread
    assert thread is not None
    assert holder.shutdown() is True
    assert not thread.is_alive()
    assert holder.state.error is None  # stopped, not "failed": nothing to report
    black_holed.stats.wait_for("connections_open", 0, timeout=10)


def test_at_exit_a_holder_that_never_connected_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    holder = SessionHolder(refused)
    monkeypatch.setattr(lifecycle, "all_holders", lambda: [holder])
    lifecycle._close_all_at_exit()
    assert holder.get(timeout=0.01) is None
    assert holder.state.thread is None
