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

Around it, one job each: ``state.py`` (one process's state and its status), ``backoff.py`` (retry
delays), ``hostwatch.py`` (every host down: 503, not 500) and ``shutdown.py`` (bounded, at exit too).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .backoff import Backoff
from .diagnose import describe_error, is_permanent
from .hostwatch import HostWatch
from .shutdown import close_within, install_exit_hook
from .state import ProcessState

if TYPE_CHECKING:
    from cassandra.cluster import Session

    from .connect import Connected
    from .errors import SessionUnavailable

__all__ = ["Backoff", "SessionHolder", "all_holders"]

log = logging.getLogger(__name__)

_holders: weakref.WeakSet[SessionHolder] = weakref.WeakSet()
_fork_hook_installed = False


def all_holders() -> list[SessionHolder]:
    """Every live holder in this process: warmers warm them all after a fork."""
    return list(_holders)


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
        self.state = ProcessState(os.getpid())
        self._adopt_lock = threading.Lock()
        self.closed = False  # shut down on purpose: warmers leave it alone (a request may still reconnect)
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
        """Start connecting now and wait (bounded) for the first attempt; ``True`` when ready.

        What warmers call; like :meth:`start`, it leaves a holder that was shut down alone.
        """
        if self.closed:
            return False
        return self.get(timeout) is not None

    def start(self) -> None:
        """Start connecting in the background without waiting (what the ``fork`` warmer does).

        Does nothing for a holder that was :meth:`shutdown` -- also in a forked child, which inherits the
        flag: an app object its parent closed must not come back to life and retry in the background.
        """
        if self.closed:
            return
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
        return self.state.unavailable()

    def status(self) -> dict[str, Any]:
        """A small, secret-free summary for health checks and logs."""
        proc = self.state if self.state.pid == os.getpid() else self._adopt()
        return proc.status()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def shutdown(self, timeout: float | None = None) -> bool:
        """Close this process's Cluster within ``timeout`` (default ``shutdown_timeout``).

        Stops any retry loop first. Returns ``False`` if the driver did not finish in time (for example
        a black-holed node); the worker can exit anyway, the driver's threads are daemons. Inherited
        objects of a parent process are never touched. A later request may connect again.
        """
        self.closed = True
        proc = self.state
        if proc.pid != os.getpid():
            self._adopt()
            return True
        with proc.lock:  # against the connect thread storing what it just built (see _run)
            proc.stop.set()
            connected = proc.connected
        self.state = ProcessState(proc.pid)
        if connected is None:
            return True
        bound = self.shutdown_timeout if timeout is None else timeout
        if not close_within(connected.cluster, bound):
            log.warning(
                "pid %d: Cassandra cluster shutdown did not finish within %.1f s; exiting anyway", proc.pid, bound
            )
            return False
        log.debug("pid %d: Cassandra cluster shut down", proc.pid)
        return True

    # --- internals ---------------------------------------------------------------------------------------

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

    def _start(self, proc: ProcessState) -> None:
        if proc.thread is not None:
            return
        with proc.lock:
            if proc.thread is None:
                thread = threading.Thread(
                    target=self._run, args=(proc,), name=f"wsgi-cassandra-connect-{proc.pid}", daemon=True
                )
                thread.start()
                proc.thread = thread

    def _run(self, proc: ProcessState) -> None:
        install_exit_hook(all_holders)
        while not proc.stop.is_set():
            proc.attempts += 1
            started = time.perf_counter()
            try:
                connected = self._connector(proc.pid)
            except Exception as exc:
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
                    proc.error,
                    delay,
                )
                proc.attempted.set()  # after the log line: whoever waited may read the log next
                proc.stop.wait(delay)
                continue
            with proc.lock:  # checked and stored at once, or a shutdown in between would never close it
                stopped = proc.stop.is_set()
                if not stopped:
                    proc.connected = proc.live = connected
            if stopped:  # shut down while we were connecting: do not keep what we built
                connected.cluster.shutdown()
                return
            proc.error = None
            connected.cluster.register_listener(HostWatch(proc, connected))
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


def _after_fork_in_child() -> None:
    # A lock held by another thread of the parent at fork time would stay locked forever in the child.
    for holder in all_holders():
        holder._adopt_lock = threading.Lock()


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True
