"""One connect attempt: build a Cluster, connect a Session, prepare the app's statements, time the phases.

The holder calls a connector from its background thread; this module does the driver work and nothing
else, so the holder stays about state, threads and forks. Phase timings (milliseconds) end up in the
worker's "session ready" log line, the health endpoint (``warmup_ms``) and the ``check`` command:

- ``jitter``: the random start-up delay (``WSGI_CASSANDRA_WARM_JITTER``), only when set;
- ``control_connection``: TCP, protocol negotiation (and any step down), STARTUP/auth of the control
  connection;
- ``topology``: REGISTER for events, ``system.local``/``system.peers``, the token ring;
- ``schema``: the full schema download (driver default), or just the app's keyspaces
  (``schema_metadata="keyspaces"``), or nearly nothing (``background``/``none``);
- ``pools``: the connection pool(s) of the session, ``USE <keyspace>`` on each connection;
- ``prepare``: the declared statements (see :mod:`wsgi_cassandra.prepare`);
- ``routing``: the token -> replicas maps of the app's keyspaces, which the driver would otherwise build on
  the first request routed to each (see :mod:`wsgi_cassandra.replica_maps`); only when there are any;
- ``ready``: the set-up steps (cqlengine) and the app's ``on_ready`` hook, the last step of an attempt, so
  that they run once the session is warm and before the holder hands it to a first request.

The split between the first four comes from timing hooks put on this one Cluster for the duration of
``connect()`` and removed afterwards; should a driver version not have those methods, the whole connect is
reported as one ``connect`` phase instead.

An attempt can be stopped from another thread (:meth:`Connector.abort`, what ``SessionHolder.shutdown()``
calls): every connection the attempt opened is closed, which fails the driver's waits at once instead of
after ``connect_timeout``, and it opens no new one -- also a TCP connect still waiting for a host that
drops packets, on Linux (its socket is shut down; elsewhere that one socket ends after ``connect_timeout``).

The same tracking stays on the Cluster for the rest of its life, because the driver keeps opening
connections after the connect: its reconnections (``ControlConnection`` and ``_HostReconnectionHandler``)
run on the Cluster's executor threads, each waiting up to ``connect_timeout`` per host for a node that
accepted the TCP connection but never answers. ``concurrent.futures`` joins those threads when the
interpreter exits, and ``Cluster.shutdown()`` waits for them, so :meth:`Connected.stop_connecting` (what
the holder calls before shutting the Cluster down) fails the connections still opening and refuses new
ones: the reconnections end at once.

It also hears a pool's connection close -- a node hangs up when it stops -- and then, if that was the
pool's last open connection, hands it back to its pool right away, the driver's own path for a broken
connection a request returns (``HostConnection.return_connection``): the driver marks the host down (or
replaces the connection) now rather than on the next request, so an idle worker's health and the fast
503 follow the node at once. (scylla-driver also makes that next request wait 2 s for a usable
connection per host before it gives up on a closed one.)
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .exceptions import SessionUnavailable
from .fastconnect import fetch_keyspaces, fetch_keyspaces_in_background, keyspaces_used
from .prepare import EMPTY, StatementRegistry, prepare_all
from .replica_maps import build_replica_maps

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from cassandra.cluster import Cluster, Session
    from cassandra.query import PreparedStatement

    from .config import SchemaMetadata
    from .driver import ClusterFactory

__all__ = ["Connected", "Connector"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connected:
    """A connected Cluster and Session, built in process ``pid``, with how long each phase took (ms).

    ``statements`` maps each declared name to its ``PreparedStatement`` (prepared by this Cluster).
    ``stop_connecting()`` fails the connections this Cluster is still opening (the driver's reconnections,
    stuck for up to ``connect_timeout`` against a node that never answers) and makes it refuse new ones,
    for good; it returns how many it failed. Established connections are left to ``cluster.shutdown()``.
    """

    cluster: Cluster
    session: Session
    pid: int
    phases: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    statements: Mapping[str, PreparedStatement] = field(default_factory=lambda: EMPTY)
    stop_connecting: Callable[[], int] = field(default=lambda: 0, repr=False, compare=False)

    @property
    def total_ms(self) -> float:
        return sum(self.phases.values())


class Connector:
    """Builds a Cluster with ``factory``, connects it to ``keyspace`` and prepares ``statements``; callable,
    one attempt per call.

    ``schema_metadata`` is one of ``full``, ``keyspaces``, ``background``, ``none`` (see
    :mod:`wsgi_cassandra.fastconnect`); ``warm_jitter`` delays the first attempt of each process by a
    random 0..``warm_jitter`` seconds, so that a boot storm of workers does not hit the cluster at once.
    ``setup`` callables (cqlengine's registration) are part of the attempt: one that raises fails it, and it
    is retried. ``on_ready`` (the app's hook) is then called with the Session; what it raises is logged and
    the session is used anyway.
    On any failure the half-built Cluster is shut down before the exception propagates, so a failed
    attempt never leaks the driver's threads or sockets.
    """

    def __init__(
        self,
        factory: ClusterFactory,
        *,
        keyspace: str | None = None,
        statements: StatementRegistry | None = None,
        schema_metadata: SchemaMetadata = "full",
        metadata_keyspaces: Iterable[str] = (),
        warm_jitter: float = 0.0,
        setup: Iterable[Callable[[Session], object]] = (),
        on_ready: Callable[[Session], object] | None = None,
    ) -> None:
        self.factory = factory
        self.keyspace = keyspace
        self.statements = statements if statements is not None else StatementRegistry()
        self.schema_metadata = schema_metadata
        self.metadata_keyspaces = tuple(metadata_keyspaces)
        self.warm_jitter = warm_jitter
        self.setup = tuple(setup)
        self.on_ready = on_ready
        self._jittered_pid = 0
        self._attempt: _Attempt | None = None  # the attempt in flight (one per process at a time)

    def abort(self, pid: int) -> None:
        """Stop process ``pid``'s attempt in flight, if any, from another thread: it raises soon after."""
        attempt = self._attempt
        if attempt is not None and attempt.pid == pid:  # never an attempt inherited from a parent process
            attempt.abort()

    def __call__(self, pid: int) -> Connected:
        attempt = self._attempt = _Attempt(pid)
        try:
            return self._connect(pid, attempt)
        finally:
            self._attempt = None

    def _connect(self, pid: int, attempt: _Attempt) -> Connected:
        phases: dict[str, float] = {}
        if self.warm_jitter > 0 and self._jittered_pid != pid:  # first attempt of this process only
            self._jittered_pid = pid
            delay = random.uniform(0.0, self.warm_jitter)
            attempt.stopped.wait(delay)
            phases["jitter"] = delay * 1000.0
        attempt.check()
        cluster = self.factory()
        if self.schema_metadata != "full":
            cluster.schema_metadata_enabled = False
        connections = _Connections.install(cluster)
        attempt.watch(connections)
        try:
            with _timed_connect(cluster, phases):
                session = cluster.connect(self.keyspace)
                attempt.check()
            started = time.perf_counter()
            prepared = prepare_all(session, self.statements)
            if self.statements:
                phases["prepare"] = _ms_since(started)
            keyspaces = self._keyspaces(prepared)
            if self.schema_metadata == "keyspaces":
                started = time.perf_counter()
                fetch_keyspaces(cluster, keyspaces)
                phases["schema"] = phases.get("schema", 0.0) + _ms_since(started)
            started = time.perf_counter()
            if build_replica_maps(cluster, keyspaces_used(self.keyspace, prepared, self.metadata_keyspaces)):
                phases["routing"] = _ms_since(started)
            attempt.check()
            if self.setup or self.on_ready is not None:
                started = time.perf_counter()
                self._ready(session, pid)
                phases["ready"] = _ms_since(started)
        except BaseException:
            cluster.shutdown()
            raise
        connected = Connected(
            cluster=cluster,
            session=session,
            pid=pid,
            phases=phases,
            statements=prepared,
            stop_connecting=lambda: connections.refuse(_SHUTTING_DOWN, opening_only=True),
        )
        if self.schema_metadata == "background":
            fetch = fetch_keyspaces_in_background(cluster, keyspaces, pid)
            if fetch is not None:  # the holder's shutdown() joins it (closing the Cluster cuts it short)
                connected.extras["metadata_fetch"] = fetch
        return connected

    def _ready(self, session: Session, pid: int) -> None:
        for step in self.setup:
            step(session)
        if self.on_ready is not None:
            try:
                self.on_ready(session)
            except Exception:  # the app's hook never costs the worker its session, nor the server its boot
                log.exception("pid %d: the on_ready hook %r raised; the session is used anyway", pid, self.on_ready)

    def _keyspaces(self, prepared: Mapping[str, PreparedStatement]) -> list[str]:
        if self.schema_metadata in ("full", "none"):
            return []
        return keyspaces_used(self.keyspace, prepared, self.metadata_keyspaces)


_STOPPED = "the connect attempt was stopped by shutdown()"
_SHUTTING_DOWN = "the Cluster is being shut down (wsgi_cassandra): no new connection"


class _Attempt:
    """One connect attempt in flight: whether it was told to stop, and the connections of its Cluster."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._connections: _Connections | None = None

    def check(self) -> None:
        if self.stopped.is_set():
            raise SessionUnavailable(_STOPPED)

    def abort(self) -> None:
        with self._lock:
            self.stopped.set()
            connections = self._connections
        if connections is not None:
            connections.refuse(_STOPPED, opening_only=False)

    def watch(self, connections: _Connections) -> None:
        """From now on, stopping this attempt fails every connection of its Cluster (and refuses new ones)."""
        with self._lock:
            self._connections = connections
            stopped = self.stopped.is_set()
        if stopped:
            connections.refuse(_STOPPED, opening_only=False)


class _Connections:
    """Every connection one Cluster opens, from its connect to its shutdown.

    :meth:`install` sets, on that Cluster instance and for good, a subclass of its connection class that
    reports each connection here as its TCP connect starts (the driver's private ``_connect_socket``; else
    once the socket is connected) -- before the driver waits up to ``connect_timeout`` for the node's
    answer -- and that refuses to start once :meth:`refuse` was called.
    The driver builds every connection through ``cluster.connection_class``: the connect's, the pools'
    and its reconnections' (``_make_connection_factory`` reads it when a reconnection handler starts).
    """

    def __init__(self, cluster: Cluster | None = None) -> None:
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[Any] = weakref.WeakSet()
        self._refused: str | None = None
        self._cluster = weakref.ref(cluster) if cluster is not None else None

    @classmethod
    def install(cls, cluster: Cluster) -> _Connections:
        connections = cls(cluster)
        base = getattr(cluster, "connection_class", None)
        if isinstance(base, type):  # else not the driver's Cluster: nothing to track
            cluster.connection_class = connections._tracked(base)
        return connections

    def _tracked(self, base: type) -> type:
        connections = self
        # The driver's connect() initialises the reactor's class-level state (timers, event loop) on the class
        # it finds, which would be the subclass below: do it on the real class first, so that the state lives
        # where other users of the real class look for it (gevent's timers, for one).
        initialize = getattr(base, "initialize_reactor", None)
        if callable(initialize):
            initialize()

        class Tracked(base):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                connections.check()
                super().__init__(*args, **kwargs)
                connections._opened(self)

            def _connect_socket(self, *args: Any, **kwargs: Any) -> Any:
                # Reported before the TCP connect, which a socket shutdown() from another thread can end.
                connections.check()
                self._wsgi_cassandra_connecting = True  # _fail() leaves the rest to this thread meanwhile
                connections._opened(self)
                try:
                    return super()._connect_socket(*args, **kwargs)
                except BaseException:
                    # Refused or cut short: the driver closed the socket and drops this connection; failing
                    # it later would ``close()`` a connection without a socket (scylla-driver's libev loop
                    # then calls ``None.close()`` in its thread).
                    connections._forget(self)
                    raise
                finally:
                    self._wsgi_cassandra_connecting = False

            def close(self) -> None:
                was_closed = bool(getattr(self, "is_closed", True))
                super().close()
                if not was_closed:
                    connections._closed(self)

        if not callable(getattr(base, "_connect_socket", None)):  # a reactor without it: reported after
            del Tracked._connect_socket
        Tracked.__name__ = Tracked.__qualname__ = base.__name__
        return Tracked

    def check(self) -> None:
        reason = self._refused
        if reason is not None:
            raise SessionUnavailable(reason)

    def _opened(self, connection: Any) -> None:
        with self._lock:
            reason = self._refused
            if reason is None:
                self._open.add(connection)
                return
        _fail(connection, reason)

    def _forget(self, connection: Any) -> None:
        with self._lock:
            self._open.discard(connection)

    def _closed(self, connection: Any) -> None:
        """A connection closed (the node hung up, an error, or the driver itself): unless we are shutting
        down, have the driver's scheduler look whether a pool lost its last one. Never in the reactor's own
        thread or greenlet, and nothing that can block there: the scheduler only queues it (starting an
        executor thread from gevent's reactor blocked the connect)."""
        cluster = self._cluster() if self._cluster is not None else None
        if self._refused is not None or cluster is None or cluster.is_shutdown:
            return
        with contextlib.suppress(Exception):  # never raise into the driver's close()
            cluster.scheduler.schedule(0.0, _report_closed, cluster, connection)

    def refuse(self, reason: str, *, opening_only: bool) -> int:
        """Refuse new connections from now on and fail the open ones -- only those still waiting for the
        node's answer when ``opening_only`` -- so that whoever waits on them fails at once; how many."""
        with self._lock:
            self._refused = reason
            doomed = [connection for connection in self._open if not (opening_only and _established(connection))]
            for connection in doomed:
                self._open.discard(connection)
        for connection in doomed:
            _fail(connection, reason)
        return len(doomed)


def _report_closed(cluster: Cluster, connection: Any) -> None:
    """Hand a closed connection back to the pool that holds it, as a request would, when it was that pool's
    last open one (scylla-driver keeps one per shard; one shard's closing is not the node's). Nothing when
    no live pool holds it (the control connection, one being replaced or trashed) or the driver already
    heard of it (``signaled_error``)."""
    with contextlib.suppress(Exception):  # a driver without these internals: it finds out on the next request
        if cluster.is_shutdown or connection.signaled_error:
            return
        for session in tuple(cluster.sessions):
            for pool in tuple(session._pools.values()):
                held = _pool_connections(pool)
                if not any(candidate is connection for candidate in held):
                    continue
                if not pool.is_shutdown and all(c.is_closed or c.is_defunct for c in held):
                    log.debug("a connection to %s closed, the last of its pool: telling the driver", pool.host)
                    pool.return_connection(connection, stream_was_orphaned=True)
                return


def _pool_connections(pool: Any) -> list[Any]:
    """The connections a ``HostConnection`` holds: scylla-driver's one per shard, or cassandra-driver's one."""
    shards = getattr(pool, "_connections", None)
    if isinstance(shards, dict):
        return list(shards.values())
    single = getattr(pool, "_connection", None)
    return [single] if single is not None else []


def _established(connection: Any) -> bool:
    """The driver sets ``connected_event`` when the handshake ended, either way (a failed one is defunct)."""
    event = getattr(connection, "connected_event", None)
    return event is None or event.is_set()


def _fail(connection: Any, reason: str) -> None:
    """Close a driver connection so that whoever waits on it (its TCP connect, its handshake, its requests)
    fails at once: ``shutdown()`` of its socket ends a TCP connect blocked in another thread (on Linux, a
    socket still in SYN_SENT is disconnected: what a node that drops packets leaves hanging), which a
    ``close()`` does not; ``defunct`` closes it, and the error and ``connected_event`` end the handshake's
    wait (``Connection.factory`` raises the error)."""
    from cassandra.connection import ConnectionShutdown

    error = ConnectionShutdown(reason)
    with contextlib.suppress(Exception):
        # The error first: the driver's event loop may close a connection whose socket was shut down before
        # ``defunct`` runs, and then ``defunct`` does nothing -- the handshake's waiter must still see why.
        if getattr(connection, "last_error", None) is None:
            connection.last_error = error
    sock = getattr(connection, "_socket", None)
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.shutdown(socket.SHUT_RDWR)
    if getattr(connection, "_socket", None) is None or getattr(connection, "_wsgi_cassandra_connecting", False):
        # Its TCP connect failed, or the shutdown above ends it: the driver closes the socket, drops it to
        # None and raises to whoever waits, in the connecting thread. Closing it here too would race that
        # (scylla-driver's libev loop would then call ``None.close()``); if the connect won the race, the
        # handshake's first write fails on the shut-down socket and the driver defuncts it.
        return
    with contextlib.suppress(Exception):
        connection.defunct(error)
    event = getattr(connection, "connected_event", None)
    if event is not None:  # the libev reactor's close() does not wake the handshake's waiter, defunct() does
        event.set()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


@contextlib.contextmanager
def _timed_connect(cluster: Cluster, phases: dict[str, float]) -> Iterator[None]:
    """Time ``cluster.connect()`` by phase, with hooks on this Cluster's instance only, removed after.

    Marks: the control connection is open (its ``connection_factory`` returned), the schema refresh
    starts and ends; the rest of ``connect()`` is the session's pools.
    """
    marks: dict[str, float] = {}
    control = getattr(cluster, "control_connection", None)
    hookable = callable(getattr(cluster, "connection_factory", None)) and callable(
        getattr(control, "_refresh_schema", None)
    )
    if hookable:
        make_connection, refresh_schema = cluster.connection_factory, control._refresh_schema  # type: ignore[union-attr]
        own_factory = "connection_factory" in vars(cluster)  # set on the instance by a user's cluster_factory

        def timed_factory(*args: Any, **kwargs: Any) -> Any:
            connection = make_connection(*args, **kwargs)
            if kwargs.get("is_control_connection"):
                marks.setdefault("control_open", time.perf_counter())
            return connection

        def timed_refresh(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault("schema_start", time.perf_counter())
            try:
                return refresh_schema(*args, **kwargs)
            finally:
                marks.setdefault("schema_end", time.perf_counter())

        cluster.connection_factory = timed_factory
        control._refresh_schema = timed_refresh  # type: ignore[union-attr]
    started = time.perf_counter()
    try:
        yield
    finally:
        ended = time.perf_counter()
        if hookable:
            if own_factory:
                cluster.connection_factory = make_connection  # the user's, as it was
            else:
                del cluster.connection_factory  # the class's method again
            with contextlib.suppress(AttributeError):
                del control._refresh_schema  # type: ignore[union-attr]
    if {"control_open", "schema_start", "schema_end"} <= marks.keys():
        phases["control_connection"] = (marks["control_open"] - started) * 1000.0
        phases["topology"] = (marks["schema_start"] - marks["control_open"]) * 1000.0
        phases["schema"] = (marks["schema_end"] - marks["schema_start"]) * 1000.0
        phases["pools"] = (ended - marks["schema_end"]) * 1000.0
    else:
        phases["connect"] = (ended - started) * 1000.0
