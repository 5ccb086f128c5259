"""The worker's Cluster and Session: built once per process, never shared across a fork.

Fork safety lives here and nowhere else. The holder remembers the pid that owns its state; a process
whose pid differs (a forked child) never uses and never shuts down what it inherited -- the driver's
event loop and scheduler threads did not survive the fork and the sockets belong to the parent -- and
builds a whole new Cluster of its own (the pattern of redis-py's ``ConnectionPool._checkpid``).

Connecting happens in one background thread per process, so that 50 request threads arriving at once
cause exactly one connect, a warm-up can be bounded by a deadline, and a failed attempt is retried with
exponential backoff and jitter while requests get a fast "unavailable" instead of a connect timeout::

    holder = SessionHolder(Connector(factory, keyspace="shop"))
    holder.warm(timeout=10)            # in each worker, after the fork (what warmers do)
    session = holder.session()         # anywhere: the ready Session, or SessionUnavailable
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .diagnose import describe_error, is_permanent
from .errors import SessionUnavailable

if TYPE_CHECKING:
    from cassandra.cluster import Session

    from .connect import Connected

__all__ = ["Backoff", "SessionHolder", "all_holders"]

log = logging.getLogger(__name__)

_holders: weakref.WeakSet[SessionHolder] = weakref.WeakSet()
_fork_hook_installed = False
_exit_hook_installed = False


def all_holders() -> list[SessionHolder]:
    """Every live holder in this process: warmers warm them all after a fork."""
    return list(_holders)


class Backoff:
    """Delay before retry ``attempt`` (1-based): exponential, capped, with "equal jitter" so that many
    workers failing together do not retry in lockstep. Permanent errors (bad credentials, missing
    keyspace) wait the maximum at once: no retry storm against the cluster."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: bool = True) -> None:
        self.initial, self.maximum, self.jitter = initial, maximum, jitter

    def delay(self, attempt: int, *, permanent: bool = False) -> float:
        base = self.maximum if permanent else min(self.maximum, self.initial * 2 ** min(attempt - 1, 30))
        return random.uniform(base / 2, base) if self.jitter else base


class _Process:
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


class SessionHolder:
    """Owns one process's Cluster and Session; see the module docstring.

    ``connector(pid)`` makes one connect attempt and returns a :class:`~wsgi_cassandra.connect.Connected`.
    """

    def __init__(
        self,
        connector: Callable[[int], Connected],
        *,
        warm_timeout: float = 10.0,
        shutdown_timeout: float = 5.0,
        backoff: Backoff | None = None,
        describe: Callable[[BaseException], str] = describe_error,
    ) -> None:
        self._connector = connector
        self.warm_timeout = warm_timeout
        self.shutdown_timeout = shutdown_timeout
        self._backoff = backoff or Backoff()
        self._describe = describe
        # This process's state. The middleware's fast path reads ``state.pid`` and ``state.live`` directly
        # (two attribute loads, no call); everything else goes through the methods below.
        self.state = _Process(os.getpid())
        self._adopt_lock = threading.Lock()
        _holders.add(self)
        _install_fork_hook()

    # --- the request path: a pid check and an attribute read -------------------------------------------

    def current(self) -> Connected | None:
        """The ready connection of *this* process, or ``None``. Never blocks, never connects."""
        proc = self.state
        if proc.pid != os.getpid():
            proc = self._adopt()
        return proc.live

    def get(self, timeout: float | None = None) -> Connected | None:
        """The ready connection; if there is none, start connecting and wait for this process's *first*
        attempt (at most ``timeout``, default ``warm_timeout``). After a failed attempt it returns
        ``None`` at once: retries go on in the background and callers answer "unavailable" fast."""
        proc = self.state
        if proc.pid != os.getpid():
            proc = self._adopt()
        if proc.live is not None:
            return proc.live
        if proc.connected is not None:
            return None  # connected, but every host is down: the driver reconnects, callers answer fast
        self._start(proc)
        if not proc.attempted.is_set():
            proc.attempted.wait(self.warm_timeout if timeout is None else timeout)
        return proc.live

    def warm(self, timeout: float | None = None) -> bool:
        """Start connecting now and wait (bounded) for the first attempt; ``True`` when ready."""
        return self.get(timeout) is not None

    def start(self) -> None:
        """Start connecting in the background without waiting (what the ``fork`` warmer does)."""
        proc = self.state if self.state.pid == os.getpid() else self._adopt()
        self._start(proc)

    def session(self, timeout: float | None = None) -> Session:
        """The ready ``Session`` for code outside a request; raises :class:`SessionUnavailable`."""
        connected = self.get(timeout)
        if connected is None:
            raise self.unavailable()
        return connected.session

    def unavailable(self) -> SessionUnavailable:
        """The error describing why there is no session now, with a ``Retry-After`` hint."""
        proc = self.state
        if proc.connected is not None and proc.live is None:
            hosts = len(proc.connected.cluster.metadata.all_hosts())
            return SessionUnavailable(
                f"all {hosts} Cassandra host(s) are down; the driver is reconnecting in the background",
                retry_after=2,
            )
        if proc.error is None:
            return SessionUnavailable("the Cassandra session is still connecting", retry_after=1)
        wait = max(1, math.ceil(proc.next_attempt_at - time.monotonic()))
        return SessionUnavailable(f"Cassandra is unavailable: {proc.error}", retry_after=wait)

    def status(self) -> dict[str, Any]:
        """A small, secret-free summary for health checks and logs."""
        proc = self.state if self.state.pid == os.getpid() else self._adopt()
        connected = proc.connected
        if proc.live is not None:
            state = "ready"
        elif connected is not None:
            state = "hosts_down"
        else:
            state = "unavailable" if proc.error else "connecting"
        status: dict[str, Any] = {"state": state, "pid": proc.pid, "attempts": proc.attempts}
        if connected is not None:
            hosts = connected.cluster.metadata.all_hosts()
            status["hosts_up"] = sum(1 for host in hosts if host.is_up)
            status["hosts"] = len(hosts)
            status["warmup_ms"] = {name: round(ms, 1) for name, ms in connected.phases.items()}
            status["warmup_total_ms"] = round(connected.total_ms, 1)
        if proc.error is not None:
            status["last_error"] = proc.error
            status["retry_in_s"] = round(max(0.0, proc.next_attempt_at - time.monotonic()), 1)
        return status

    # --- lifecycle ---------------------------------------------------------------------------------------

    def shutdown(self, timeout: float | None = None) -> bool:
        """Close this process's Cluster within ``timeout`` (default ``shutdown_timeout``).

        Stops any retry loop first. Returns ``False`` if the driver did not finish in time (for example
        a black-holed node); the worker can exit anyway, the driver's threads are daemons. Inherited
        objects of a parent process are never touched. A later request may connect again.
        """
        proc = self.state
        if proc.pid != os.getpid():
            self._adopt()
            return True
        proc.stop.set()
        self.state = _Process(proc.pid)
        connected = proc.connected
        if connected is None:
            return True
        closer = threading.Thread(target=connected.cluster.shutdown, name="wsgi-cassandra-shutdown", daemon=True)
        closer.start()
        closer.join(self.shutdown_timeout if timeout is None else timeout)
        if closer.is_alive():
            _forget_in_driver(connected.cluster)
            log.warning(
                "pid %d: Cassandra cluster shutdown did not finish within %.1f s; exiting anyway",
                proc.pid,
                self.shutdown_timeout if timeout is None else timeout,
            )
            return False
        log.debug("pid %d: Cassandra cluster shut down", proc.pid)
        return True

    # --- internals ---------------------------------------------------------------------------------------

    def _adopt(self) -> _Process:
        """Called in a forked child: replace the inherited state with a fresh one, exactly once."""
        with self._adopt_lock:
            proc = self.state
            pid = os.getpid()
            if proc.pid != pid:
                log.debug("pid %d: forked from pid %d; the inherited Cassandra session is left alone", pid, proc.pid)
                proc = _Process(pid)
                self.state = proc
            return proc

    def _start(self, proc: _Process) -> None:
        if proc.thread is not None:
            return
        with proc.lock:
            if proc.thread is None:
                thread = threading.Thread(
                    target=self._run, args=(proc,), name=f"wsgi-cassandra-connect-{proc.pid}", daemon=True
                )
                thread.start()
                proc.thread = thread

    def _run(self, proc: _Process) -> None:
        _install_exit_hook()
        while not proc.stop.is_set():
            proc.attempts += 1
            started = time.perf_counter()
            try:
                connected = self._connector(proc.pid)
            except Exception as exc:
                permanent = is_permanent(exc)
                delay = self._backoff.delay(proc.attempts, permanent=permanent)
                proc.error = self._describe(exc)
                proc.next_attempt_at = time.monotonic() + delay
                log.warning(
                    "pid %d: Cassandra connect attempt %d failed after %.0f ms: %s; retrying in %.1f s",
                    proc.pid,
                    proc.attempts,
                    (time.perf_counter() - started) * 1000.0,
                    proc.error,
                    delay,
                )
                proc.attempted.set()  # after the log line: whoever waited may read the log next
                proc.stop.wait(delay)
                continue
            if proc.stop.is_set():  # shut down while we were connecting: do not keep what we built
                connected.cluster.shutdown()
                return
            proc.connected = proc.live = connected
            proc.error = None
            connected.cluster.register_listener(_HostWatch(proc, connected))
            phases = ", ".join(f"{name} {ms:.0f} ms" for name, ms in connected.phases.items())
            log.info(
                "pid %d: Cassandra session ready in %.0f ms (attempt %d; %s)",
                proc.pid,
                connected.total_ms,
                proc.attempts,
                phases,
            )
            proc.attempted.set()
            return


class _HostWatch:
    """A driver ``HostStateListener``: hide the session from requests while *every* host is down.

    The driver raises ``NoHostAvailable`` at once in that state, but frameworks turn it into a 500; with
    no live session the middleware answers a clean 503 instead, until the driver's own reconnection
    brings a host back up and ``on_up`` makes the session live again -- no worker restart.
    """

    def __init__(self, proc: _Process, connected: Connected) -> None:
        self.state, self._connected = proc, connected

    def _refresh(self, changed: Any, up: bool) -> None:
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


def _shutdown_at_exit() -> None:
    """At interpreter exit: close this process's clusters within their ``shutdown_timeout``.

    The driver's own exit handler calls ``Cluster.shutdown()`` without a bound, and that waits for a connect
    still in progress (it holds the cluster's lock for up to ``connect_timeout`` per contact point: 15 s
    against three black-holed nodes). This handler runs first, closes what it can in time and takes
    whatever is still busy out of the driver's list; the driver's threads are daemons and die with us.
    """
    pid = os.getpid()
    holders = [holder for holder in all_holders() if holder.state.pid == pid]
    deadline = time.monotonic() + max((holder.shutdown_timeout for holder in holders), default=0.0)
    for holder in holders:
        holder.shutdown(max(0.05, deadline - time.monotonic()))
    _forget_busy_clusters()


def _forget_in_driver(cluster: Any) -> None:
    """Take ``cluster`` out of the set the driver shuts down, unbounded, at exit (a private driver detail)."""
    try:
        from cassandra import cluster as driver
    except ImportError:  # pragma: no cover - the driver is a dependency
        return
    registered = getattr(driver, "_clusters_for_shutdown", None)
    if isinstance(registered, set):
        registered.discard(cluster)


def _forget_busy_clusters() -> None:
    """Forget clusters whose lock another thread holds: a ``connect()`` in progress (or a shutdown stuck)."""
    try:
        from cassandra import cluster as driver
    except ImportError:  # pragma: no cover
        return
    for cluster in list(getattr(driver, "_clusters_for_shutdown", ())):
        lock = getattr(cluster, "_lock", None)
        if lock is None:
            continue
        if lock.acquire(blocking=False):
            lock.release()
        else:
            _forget_in_driver(cluster)
            log.debug("pid %d: not waiting at exit for a Cassandra connect still in progress", os.getpid())


def _install_exit_hook() -> None:
    """Register :func:`_shutdown_at_exit` once per process tree, *after* the driver registered its own:
    ``atexit`` runs handlers last-in first-out, so ours runs before the driver's."""
    global _exit_hook_installed
    if _exit_hook_installed:
        return
    import cassandra.cluster  # noqa: F401 - the driver registers its exit handler on import

    atexit.register(_shutdown_at_exit)
    _exit_hook_installed = True


def _after_fork_in_child() -> None:
    # A lock held by another thread of the parent at fork time would stay locked forever in the child.
    for holder in all_holders():
        holder._adopt_lock = threading.Lock()


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True
