"""The session lifecycle, whole: one worker's Cluster and Session, built once per process, never shared
across a fork, retried with backoff, watched while every host is down, and shut down within a bound.

Fork safety lives here and nowhere else. The holder remembers the pid that owns its state; a process
whose pid differs (a forked child) never uses and never shuts down what it inherited -- the driver's
event loop and scheduler threads did not survive the fork and the sockets belong to the parent -- and
builds a whole new Cluster of its own (the pattern of redis-py's ``ConnectionPool._checkpid``).

Connecting happens in one background thread per process, so that 50 request threads arriving at once
cause exactly one connect, a warm-up can be bounded by a deadline, and a failed attempt is retried with
exponential backoff and jitter while requests get a fast "unavailable" instead of a connect timeout::

    holder = SessionHolder(Connector(factory, keyspace="shop"))
    holder.connect(timeout=10)         # in each worker, after the fork (what warmers do)
    session = holder.session()         # anywhere: the ready Session, or SessionUnavailable
    holder.shutdown()                  # when the worker exits: closed for good, within shutdown_timeout

The parts, in the order a worker meets them:

- :class:`Backoff`: how long the connect loop waits before the next attempt;
- :class:`ProcessState`: one process's share of the holder (replaced after a fork) and its :class:`Status`;
- :class:`SessionHolder`: the connect thread, the request-side accessors, :meth:`SessionHolder.shutdown`;
- :class:`HostWatch`: the driver listener that takes the session away from requests while *every* host
  is down (a clean 503, not the framework's 500) and gives it back when one returns; meanwhile
  :class:`~wsgi_cassandra.recovery.Recovery` probes the hosts, so that one back is used within a second;
- bounded shutdown: :func:`close_within` and the exit hooks, so that neither a worker's exit nor the
  interpreter's waits, unbounded, for a black-holed cluster -- neither for a connect in flight nor for
  the driver's reconnections.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Literal, TypedDict

from .diagnose import describe_error, is_permanent
from .exceptions import SessionUnavailable
from .recovery import Recovery

if TYPE_CHECKING:
    from cassandra.cluster import Session

    from .connect import Connected

__all__ = ["Backoff", "HostWatch", "ProcessState", "SessionHolder", "Status", "all_holders", "close_within"]

log = logging.getLogger(__name__)

_holders: weakref.WeakSet[SessionHolder] = weakref.WeakSet()
_process_hooks_installed = False
_exit_hook_installed = False


def all_holders() -> list[SessionHolder]:
    """Every live holder in this process: warmers connect them all after a fork."""
    return list(_holders)


# --- backoff ---------------------------------------------------------------------------------------------


class Backoff:
    """Delay before retry ``attempt`` (1-based): exponential, capped, with "equal jitter" so that many
    workers failing together do not retry in lockstep. Permanent errors (bad credentials, missing
    keyspace) wait the maximum at once: no retry storm against the cluster::

        Backoff(initial=0.5, maximum=30.0).delay(3)  # 1.0 to 2.0 s: 0.5 * 2**2, with jitter
    """

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: bool = True) -> None:
        self.initial, self.maximum, self.jitter = initial, maximum, jitter

    def delay(self, attempt: int, *, permanent: bool = False) -> float:
        base = self.maximum if permanent else min(self.maximum, self.initial * 2 ** min(attempt - 1, 30))
        return random.uniform(base / 2, base) if self.jitter else base


# --- one process's state, and what it says about itself --------------------------------------------------

#: ``ready``; ``connecting`` (no attempt ended yet); ``unavailable`` (the last attempt failed);
#: ``hosts_down`` (connected, but every host is down: the driver reconnects); ``closed`` (shut down).
State = Literal["ready", "connecting", "unavailable", "hosts_down", "closed"]


class _StatusKeys(TypedDict):
    state: State
    pid: int
    attempts: int


class Status(_StatusKeys, total=False):
    """The health endpoint's JSON body (:mod:`wsgi_cassandra.health`): never a secret."""

    hosts_up: int  # while connected
    hosts: int
    warmup_ms: dict[str, float]  # connect time by phase (see wsgi_cassandra.connect)
    warmup_total_ms: float
    last_error: str  # after a failed attempt: why, naming the setting to check
    retry_in_s: float  # and when the next attempt starts


class ProcessState:
    """The state of one process. After a fork the child makes a new one and leaves the parent's alone.

    The connect thread and :class:`HostWatch` write it; the middleware's fast path reads ``pid`` and
    ``live`` directly (two attribute loads, no call).
    """

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
        # Connected: the caller found no live session, so every host was down a moment ago (a host coming
        # back in between, e.g. through recovery.py, must not turn this into "still connecting").
        if self.connected is not None:
            hosts = len(self.connected.cluster.metadata.all_hosts())
            return SessionUnavailable(
                f"all {hosts} Cassandra host(s) are down; the driver is reconnecting in the background",
                retry_after=2,
            )
        if self.error is None:
            return SessionUnavailable("the Cassandra session is still connecting", retry_after=1)
        wait = max(1, math.ceil(self.next_attempt_at - time.monotonic()))
        return SessionUnavailable(f"Cassandra is unavailable: {self.error}", retry_after=wait)

    def status(self) -> Status:
        """A small, secret-free summary for health checks and logs."""
        connected = self.connected
        state: State
        if self.live is not None:
            state = "ready"
        elif connected is not None:
            state = "hosts_down"
        else:
            state = "unavailable" if self.error else "connecting"
        status: Status = {"state": state, "pid": self.pid, "attempts": self.attempts}
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


# --- the holder ------------------------------------------------------------------------------------------


class SessionHolder:
    """Owns one process's Cluster and Session; see the module docstring.

    ``connector(pid)`` makes one connect attempt and returns a :class:`~wsgi_cassandra.connect.Connected`.
    A connector with an ``abort(pid)`` method (:class:`~wsgi_cassandra.connect.Connector` has one) lets
    :meth:`shutdown` stop an attempt in flight.
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
        self.state = ProcessState(os.getpid())
        self._adopt_lock = threading.Lock()
        # Shut down on purpose, for good: no request, warmer or exit handler starts a connect thread again,
        # in this process or in a forked child (which inherits the flag). Written under ``state.lock``.
        self.closed = False
        _holders.add(self)
        _install_process_hooks()

    # --- the request side: a pid check and an attribute read -------------------------------------------

    def current(self) -> Connected | None:
        """The ready connection of *this* process, or ``None``. Never blocks, never connects."""
        proc = self.state
        if proc.pid != os.getpid():
            proc = self._adopt()
        return proc.live

    def get(self, timeout: float | None = None) -> Connected | None:
        """The ready connection; if there is none, start connecting and wait for this process's *first*
        attempt (at most ``timeout``, default ``warm_timeout``). After a failed attempt it returns
        ``None`` at once: retries go on in the background and callers answer "unavailable" fast.
        A closed holder returns ``None`` at once and starts nothing."""
        proc = self.state
        if proc.pid != os.getpid():
            proc = self._adopt()
        if proc.live is not None:
            return proc.live
        if proc.connected is not None:
            return None  # connected, but every host is down: the driver reconnects, callers answer fast
        if not self._start(proc):
            return None  # closed
        if not proc.attempted.is_set():
            proc.attempted.wait(self.warm_timeout if timeout is None else timeout)
        return proc.live

    def connect(self, timeout: float | None = None) -> bool:
        """Start connecting now and wait (bounded) for the first attempt; ``True`` when ready.

        What warmers call in each worker; a closed holder stays closed (``False``).
        """
        return self.get(timeout) is not None

    def warm(self, timeout: float | None = None) -> bool:
        """The former name of :meth:`connect` (kept for callers of 0.1)."""
        return self.connect(timeout)

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
        if self.closed:
            return SessionUnavailable("the Cassandra session was shut down (the worker is stopping)", retry_after=1)
        return self.state.unavailable()

    def status(self) -> Status:
        """A small, secret-free summary for health checks and logs (see :class:`Status`)."""
        proc = self.state if self.state.pid == os.getpid() else self._adopt()
        status = proc.status()
        if self.closed:
            status["state"] = "closed"
        return status

    # --- shutdown ----------------------------------------------------------------------------------------

    def shutdown(self, timeout: float | None = None) -> bool:
        """Close this process's Cluster, for good, within ``timeout`` (default ``shutdown_timeout``).

        What it guarantees, whatever state the holder is in:

        - from the moment it is called, requests get ``None`` / :class:`SessionUnavailable` (a 503 from
          the middleware), and no request, warmer, forked child or exit handler starts a connect thread;
        - an attempt in flight is stopped: its connections are closed (with :class:`Connector`), the
          connect thread ends and shuts down what it built; a retry loop waiting for its next attempt
          ends at once;
        - the driver's reconnections in flight are stopped too: the connections the Cluster is still
          opening (a node that accepted the TCP connection but never answers holds each one for up to
          ``connect_timeout``; on Linux also a TCP connect to a node that drops packets) are closed and it
          opens no new one, so the driver's executor threads are free at once -- ``Cluster.shutdown()``
          and the interpreter's exit both wait for those threads;
        - the background schema metadata fetch (``schema_metadata="background"``) ends too: closing the
          Cluster cuts its read short, and it is waited for within the same bound;
        - it returns within the bound: ``True`` when the connect thread and the fetch have ended and the
          Cluster is closed, ``False`` when one was still busy at the deadline (the driver's threads and
          ours are daemons: the worker can exit anyway);
        - objects inherited from a parent process are never touched.

        So a worker's exit is bounded by ``shutdown_timeout`` even against a black-holed cluster,
        whether it was connecting or serving.
        """
        bound = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + bound
        proc = self.state
        if proc.pid != os.getpid():
            self.closed = True
            self._adopt()
            return True
        with proc.lock:  # against the connect thread storing what it just built (see _run)
            self.closed = True
            proc.stop.set()
            connected, thread = proc.connected, proc.thread
            proc.connected = proc.live = None
        stopped = self._stop_attempt(proc, thread, deadline)
        if connected is None:
            return stopped
        if "recovery" in connected.extras:  # the probe thread (recovery.py) ends first, in about 0.1 s
            connected.extras["recovery"].stop(max(0.0, deadline - time.monotonic()))
        _fail_opening_connections(proc, connected)
        if not close_within(connected.cluster, max(0.0, deadline - time.monotonic())):
            log.warning(
                "pid %d: Cassandra cluster shutdown did not finish within %.1f s; exiting anyway", proc.pid, bound
            )
            return False
        log.debug("pid %d: Cassandra cluster shut down", proc.pid)
        return _background_fetch_ended(proc, connected, deadline) and stopped

    def _stop_attempt(self, proc: ProcessState, thread: threading.Thread | None, deadline: float) -> bool:
        """Make the connect thread end before ``deadline``: abort the attempt in flight, then wait."""
        if thread is None or not self._abort_attempt(proc, thread):
            return True
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("pid %d: a Cassandra connect attempt was still running at the shutdown deadline", proc.pid)
            return False
        return True

    def _abort_attempt(self, proc: ProcessState, thread: threading.Thread | None) -> bool:
        """Abort the connect thread's attempt in flight; ``False`` when there is no thread to wait for."""
        if thread is None or thread is threading.current_thread() or not thread.is_alive():
            return False
        abort = getattr(self._connector, "abort", None)
        if callable(abort):
            abort(proc.pid)
        return True

    def _stop_connecting(self) -> None:
        """Close for good and stop every connect of this process -- the attempt in flight, the driver's
        reconnections -- without waiting and without shutting the session down (see the exit hooks)."""
        proc = self._own_state()  # never an inherited state's lock (see _own_state)
        with proc.lock:
            self.closed = True
            proc.stop.set()
            connected, thread = proc.connected, proc.thread
        self._abort_attempt(proc, thread)
        if connected is not None:
            if "recovery" in connected.extras:  # no more hand-offs to a driver that is going away
                connected.extras["recovery"].stop(0.0)
            _fail_opening_connections(proc, connected)

    # --- internals ---------------------------------------------------------------------------------------

    def _own_state(self) -> ProcessState:
        """This process's state, adopted if need be. In a forked child the inherited state's lock is the
        parent's: another thread of the parent may have held it at the fork, and then it stays locked for
        good in the child -- so whatever takes a state's lock takes this one's, never the inherited one's."""
        proc = self.state
        return proc if proc.pid == os.getpid() else self._adopt()

    def _adopt(self) -> ProcessState:
        """Called in a forked child: replace the inherited state with a fresh one, exactly once."""
        with self._adopt_lock:
            proc = self.state
            pid = os.getpid()
            if proc.pid != pid:
                log.debug("pid %d: forked from pid %d; the inherited Cassandra session is left alone", pid, proc.pid)
                proc = ProcessState(pid)
                self.state = proc
            return proc

    def _start(self, proc: ProcessState) -> bool:
        """Start this process's connect thread unless there is one; ``False`` when the holder is closed."""
        if proc.thread is not None:
            return True
        with proc.lock:
            if self.closed:  # read under the lock that shutdown() writes it under: no thread after it
                return False
            if proc.thread is None:
                thread = threading.Thread(
                    target=self._run, args=(proc,), name=f"wsgi-cassandra-connect-{proc.pid}", daemon=True
                )
                thread.start()
                proc.thread = thread
        return True

    def _run(self, proc: ProcessState) -> None:
        _install_exit_hook()
        while not proc.stop.is_set():
            proc.attempts += 1
            started = time.perf_counter()
            try:
                connected = self._connector(proc.pid)
            except Exception as exc:
                self._failed(proc, exc, started)
                continue
            with proc.lock:  # checked and stored at once, or a shutdown in between would never close it
                stopped = proc.stop.is_set()
                if not stopped:
                    proc.connected = proc.live = connected
            if stopped:  # shut down while we were connecting: do not keep what we built
                connected.cluster.shutdown()
                _background_fetch_ended(proc, connected, time.monotonic() + self.shutdown_timeout)
                proc.attempted.set()
                return
            proc.error = None
            recovery = connected.extras["recovery"] = Recovery(connected.cluster, pid=proc.pid)
            connected.cluster.register_listener(HostWatch(proc, connected, recovery))
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
        proc.attempted.set()

    def _failed(self, proc: ProcessState, exc: Exception, started: float) -> None:
        """One attempt failed: record why, log it, wake the waiters, and wait for the next (or the stop)."""
        if proc.stop.is_set():
            log.debug("pid %d: Cassandra connect attempt stopped by shutdown (%s)", proc.pid, type(exc).__name__)
            proc.attempted.set()
            return
        try:
            permanent, error = is_permanent(exc), self._describe(exc)
        except Exception:  # describing must never kill the retry loop (waiters would hang)
            permanent, error = False, type(exc).__name__
        delay = self._backoff.delay(proc.attempts, permanent=permanent)
        proc.error = error
        proc.next_attempt_at = time.monotonic() + delay
        log.warning(
            "pid %d: Cassandra connect attempt %d failed after %.0f ms: %s; retrying in %.1f s",
            proc.pid,
            proc.attempts,
            (time.perf_counter() - started) * 1000.0,
            error,
            delay,
        )
        proc.attempted.set()  # after the log line: whoever waited may read the log next
        proc.stop.wait(delay)


# --- every host down: a 503, not a 500 -------------------------------------------------------------------


class HostWatch:
    """A driver ``HostStateListener`` that sets ``state.live`` to the session while any host is up, else
    ``None``; the holder registers one per connected Cluster.

    The driver raises ``NoHostAvailable`` at once while every host is down, but frameworks turn it into a
    500; with no live session the middleware answers a clean 503 instead, until the driver's own
    reconnection brings a host back up and ``on_up`` makes the session live again -- no worker restart.
    """

    def __init__(self, proc: ProcessState, connected: Connected, recovery: Recovery | None = None) -> None:
        self.state, self._connected, self._recovery = proc, connected, recovery
        # The driver calls listeners from several threads: one host going down while another comes up
        # must not interleave a stale "none up" read with the write of the other's "live".
        self._lock = threading.Lock()

    def _refresh(self, changed: Any, up: bool) -> None:
        proc = self.state
        with self._lock:
            hosts = self._connected.cluster.metadata.all_hosts()
            any_up = up or any(host.is_up for host in hosts if host is not changed)
            # Checked and written under the lock that shutdown() clears ``live`` under: otherwise a host event
            # racing shutdown() would hand a closing Cluster back to requests (a 500 instead of a 503).
            with proc.lock:
                if proc.connected is not self._connected:
                    return  # shut down or replaced meanwhile
                if any_up and proc.stop.is_set():
                    return  # stopping (shutdown, or the exit hook): the session is never handed out again
                was_live = proc.live is not None
                proc.live = self._connected if any_up else None
        if self._recovery is not None and any_up:
            self._recovery.host_up()  # recovery.py: stop probing
        elif self._recovery is not None:
            self._recovery.start()  # recovery.py: every host is down, probe them until one answers
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


# --- bounded shutdown, also at interpreter exit ----------------------------------------------------------
#
# When the main thread ends, Python first runs the callbacks registered with ``threading._register_atexit``
# (last-in first-out), among them the one of ``concurrent.futures`` that joins every thread of every
# ThreadPoolExecutor -- the driver's ``Cluster.executor`` included, where its reconnections wait up to
# ``connect_timeout`` per host for a node that never answers -- then joins the non-daemon threads, and only
# then runs the ``atexit`` handlers. So the library has two exit hooks:
#
# - ``_stop_connecting_at_exit`` is registered with ``threading._register_atexit`` *after* concurrent.futures
#   registered its own, so it runs first: every holder of this process stops connecting (the attempt in
#   flight is aborted; the connections its Cluster is still opening are closed and it opens no new one), so
#   that join is quick. It leaves the sessions up for any non-daemon thread still using them.
# - ``_shutdown_at_exit`` is registered with ``atexit`` after the driver's own, so it runs before it: the
#   driver's calls ``Cluster.shutdown()`` without a bound, and that waits for a connect still in progress (it
#   holds the cluster's lock for up to ``connect_timeout`` per contact point: 15 s against three black-holed
#   nodes). Ours closes what it can in time and takes whatever is still busy out of the driver's list; the
#   driver's threads are daemons and die with us.


def _fail_opening_connections(proc: ProcessState, connected: Connected) -> None:
    """Fail the connections ``connected``'s Cluster is still opening and make it refuse new ones."""
    failed = connected.stop_connecting()
    if failed:
        log.debug("pid %d: closed %d Cassandra connection(s) still waiting for an answer", proc.pid, failed)


def _background_fetch_ended(proc: ProcessState, connected: Connected, deadline: float) -> bool:
    """Wait until ``deadline`` for the background schema metadata fetch (fastconnect.py) of a Cluster just
    shut down, which cut its read in flight short; ``False`` if it still runs."""
    fetch = connected.extras.get("metadata_fetch")
    if fetch is None or fetch is threading.current_thread():
        return True
    fetch.join(max(0.0, deadline - time.monotonic()))
    if fetch.is_alive():
        log.warning(
            "pid %d: the background Cassandra schema fetch was still running at the shutdown deadline", proc.pid
        )
        return False
    return True


def close_within(cluster: Any, timeout: float) -> bool:
    """``cluster.shutdown()`` in a daemon thread, waiting at most ``timeout``; ``False`` if it did not finish,
    and then the driver forgets the cluster (it would wait for it, unbounded, at exit)."""
    closer = threading.Thread(target=cluster.shutdown, name="wsgi-cassandra-shutdown", daemon=True)
    closer.start()
    closer.join(timeout)
    if closer.is_alive():
        _forget_in_driver(cluster)
        return False
    return True


def _install_exit_hook() -> None:
    """Register both exit hooks (see above) once per process tree, after the driver and concurrent.futures
    registered theirs: called by the connect thread, which imports the driver anyway."""
    global _exit_hook_installed
    if _exit_hook_installed:
        return
    import concurrent.futures.thread  # noqa: F401 - registers the join of every pool thread on import

    from .reactors import import_cluster_module

    import_cluster_module()  # the driver registers its exit handler on import

    register_early = getattr(threading, "_register_atexit", None)  # Python 3.9+ (what concurrent.futures uses)
    if callable(register_early):
        with contextlib.suppress(RuntimeError):  # "can't register atexit after shutdown": too late anyway
            register_early(_stop_connecting_at_exit)
    atexit.register(_shutdown_at_exit)
    _exit_hook_installed = True


def _stop_connecting_at_exit() -> None:
    """When the main thread has ended, before Python joins the pool threads: no holder of this process
    connects any more, and its Cluster stops waiting for nodes that never answer (see above)."""
    for holder in all_holders():
        try:
            holder._stop_connecting()
        except Exception:  # an exception here would keep Python from running the callbacks after ours
            log.debug("pid %d: stopping a holder's connects at exit failed", os.getpid(), exc_info=True)


def _shutdown_at_exit() -> None:
    """At interpreter exit: close every holder (no connect thread starts after this), this process's
    clusters within their ``shutdown_timeout``."""
    pid = os.getpid()
    holders = all_holders()
    mine = [holder for holder in holders if holder.state.pid == pid]
    deadline = time.monotonic() + max((holder.shutdown_timeout for holder in mine), default=0.0)
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


def _close_all_at_exit() -> None:
    """At interpreter exit, even in a process where no connect ever started (so :func:`_shutdown_at_exit`
    was never registered): no request arriving while the interpreter exits starts a connect thread."""
    for holder in all_holders():
        with holder._own_state().lock:  # in a forked child, not the parent's lock (it may be held for good)
            holder.closed = True


# --- fork ------------------------------------------------------------------------------------------------


def _after_fork_in_child() -> None:
    # A lock held by another thread of the parent at fork time would stay locked forever in the child.
    for holder in all_holders():
        holder._adopt_lock = threading.Lock()


def _install_process_hooks() -> None:
    """Once per process tree, when the first holder is built: the fork hook, and closing at exit."""
    global _process_hooks_installed
    if _process_hooks_installed:
        return
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(_close_all_at_exit)
    _process_hooks_installed = True
