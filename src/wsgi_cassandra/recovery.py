"""Recovery within seconds after a full outage: while every host is down, probe them and tell the driver.

Why it exists: with every host down the driver has no connection left on which to hear that a node is
back (Cassandra announces it with a ``STATUS_CHANGE`` event on the control connection, which is down
too), so it waits for each host's next scheduled reconnection. Those are exponential -- up to 60 s apart
with our policy, 10 minutes with the driver's default, and given up for good after 64 attempts -- so
after an outage of a few minutes a worker could serve again only a minute after the cluster was back.

While -- and only while -- every host is down, one thread per process opens a plain TCP connection to
each of the cluster's own hosts (the addresses the driver knows, nothing else) every 0.5 to 1 s, with
jitter, all hosts at once, 1 s timeout. A refused connect costs the cluster nothing, so there is no
reconnect storm however long the outage lasts. When a host accepts, it is handed to the driver exactly
as if a live node had announced it: ``Cluster.on_up(host)`` through the driver's own scheduler, which
opens the pools and marks the host up (or, if the host cannot serve after all, marks it down again and
restarts its reconnection); the same host is handed over again only after 2, 4, then 8 s. As soon as any
host is up the thread reconnects the control connection (so that events and the other nodes come back
too; again every 1 to 2 s while that fails, at most 30 times) and ends::

    recovery = Recovery(cluster, pid=os.getpid())
    recovery.start()        # every host is down (the holder's host listener): probe until one answers
    recovery.host_up()      # a host is up again: the thread looks at once, and ends
    recovery.stop(5.0)      # at shutdown: no thread left after the bound; start() does nothing after

It logs one line when an outage begins and one when it ends, with how long it lasted.
"""

from __future__ import annotations

import errno
import logging
import random
import selectors
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cassandra.cluster import Cluster

__all__ = ["Recovery", "probe"]

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between probe rounds: drawn between half and all of it
PROBE_TIMEOUT = 1.0  # seconds a round waits for hosts to accept
HANDOFF_GAPS = (2.0, 4.0, 8.0)  # seconds before the same host is handed to the driver again
CONTROL_ATTEMPTS = 30  # after recovery: how many times (1 to 2 s apart) to reconnect the control connection
_SLICE = 0.1  # seconds: how often a round looks at the stop flag
_PENDING = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY}


def probe(addresses: Sequence[tuple[str, int]], timeout: float, stop: threading.Event | None = None) -> set[int]:
    """The indices of ``addresses`` that accept a TCP connection within ``timeout`` (all tried at once).

    The connection is closed at once without sending a byte. Returns early, with what answered so far,
    when ``stop`` is set.
    """
    answered: set[int] = set()
    pending: dict[int, socket.socket] = {}
    selector = selectors.DefaultSelector()
    try:
        for index, (host, port) in enumerate(addresses):
            try:
                family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
                sock = socket.socket(family, kind, proto)
            except OSError:
                continue
            sock.setblocking(False)
            code = sock.connect_ex(sockaddr)
            if code in _PENDING:
                pending[index] = sock
                selector.register(sock, selectors.EVENT_WRITE, index)
                continue
            if code == 0:
                answered.add(index)
            sock.close()
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / _SLICE) + 2):
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0 or (stop is not None and stop.is_set()):
                break
            for key, _events in selector.select(min(remaining, _SLICE)):
                sock = pending.pop(key.data)
                selector.unregister(sock)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    answered.add(key.data)
                sock.close()
    finally:
        for sock in pending.values():
            sock.close()
        selector.close()
    return answered


class Recovery:
    """Probe ``cluster``'s hosts while every one is down and hand those that answer to the driver.

    See the module docstring. ``pid`` only names the thread and the log lines.
    """

    def __init__(
        self, cluster: Cluster, *, pid: int, interval: float = INTERVAL, probe_timeout: float = PROBE_TIMEOUT
    ) -> None:
        self.cluster, self.pid = cluster, pid
        self.interval, self.probe_timeout = interval, probe_timeout
        self.outages = 0  # how many outages (probing threads) this cluster went through
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # the one probing now
        self._threads: list[threading.Thread] = []  # those that may still run (one may be finishing): stop() joins them
        self._stop = threading.Event()
        self._wake = threading.Event()

    @property
    def probing(self) -> bool:
        """``True`` while the probe thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Every host is down: start probing, unless already probing or stopped for good."""
        with self._lock:
            if self._stop.is_set() or self._thread is not None:
                return
            self.outages += 1
            self._wake.clear()
            thread = threading.Thread(
                target=self._run, args=(time.monotonic(),), name=f"wsgi-cassandra-recovery-{self.pid}", daemon=True
            )
            self._thread = thread
            self._threads = [*(old for old in self._threads if old.is_alive()), thread]
            thread.start()

    def host_up(self) -> None:
        """A host is up: the thread checks at once (and ends if one still is)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop probing for good and wait, at most ``timeout``, for the thread; ``False`` if it still runs.

        A round never blocks in the driver (hand-overs go through its scheduler), so this takes about 0.1 s.
        """
        with self._lock:
            self._stop.set()
            threads = [thread for thread in self._threads if thread is not threading.current_thread()]
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    # --- the thread ------------------------------------------------------------------------------------

    def _run(self, began: float) -> None:
        try:
            self._probe_until_up(began)
        except Exception:  # a driver without what we use: its own reconnection schedule still applies
            log.warning(
                "pid %d: probing the Cassandra hosts failed; the driver reconnects alone", self.pid, exc_info=True
            )
        finally:
            self._forget_thread()

    def _forget_thread(self) -> None:
        """From now on, a new outage starts a new thread."""
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None

    def _probe_until_up(self, began: float) -> None:
        handed: dict[Any, tuple[float, int]] = {}  # host -> (not again before, hand-overs so far)
        rounds = 0
        log.info(
            "pid %d: every Cassandra host is down; probing %d host(s) every %.1f s until one answers",
            self.pid,
            len(self._targets()),
            self.interval,
        )
        while not self._stop.is_set():
            if self._finish_if_up(began, rounds, handed):
                return
            targets = self._targets()
            answered = probe([address for _, address in targets], self.probe_timeout, self._stop)
            rounds += 1
            now = time.monotonic()
            for index in sorted(answered):
                host = targets[index][0]
                not_before, count = handed.get(host, (0.0, 0))
                if now >= not_before and not self._stop.is_set():
                    handed[host] = (now + HANDOFF_GAPS[min(count, len(HANDOFF_GAPS) - 1)], count + 1)
                    log.debug("pid %d: Cassandra host %s answers; asking the driver to reconnect now", self.pid, host)
                    # What the driver does itself when a node announces it is up: on its scheduler thread,
                    # on_up opens the pools and marks the host up, or marks it down and reconnects later.
                    self.cluster.scheduler.schedule_unique(0.0, self.cluster.on_up, host)
            self._wake.wait(random.uniform(self.interval / 2, self.interval))
            self._wake.clear()

    def _finish_if_up(self, began: float, rounds: int, handed: dict[Any, tuple[float, int]]) -> bool:
        up = [host for host in self.cluster.metadata.all_hosts() if host.is_up]
        if not up:
            return False
        self._forget_thread()
        log.info(
            "pid %d: Cassandra host(s) %s up again after %.1f s with every host down (%s)",
            self.pid,
            ", ".join(str(host) for host in up),
            time.monotonic() - began,
            f"reconnected when the probe found it answering, round {rounds}"
            if any(host in handed for host in up)
            else "reconnected by the driver itself",
        )
        self._restore_control_connection()
        return True

    def _restore_control_connection(self) -> None:
        """Reconnect the control connection now, and again while it stays down (a first try can fail on a
        busy host), rather than at its next scheduled attempt: up to a minute away, or never once its
        schedule ran out. It brings back events, and through them the other nodes. Bounded; ends early
        when stopped or when every host is down again (the next outage's thread takes over)."""
        for _ in range(CONTROL_ATTEMPTS):
            if self._stop.is_set() or not _control_connection_down(self.cluster):
                return
            if not any(host.is_up for host in self.cluster.metadata.all_hosts()):
                return
            _reconnect_control_connection(self.cluster)
            self._stop.wait(random.uniform(self.interval, 2 * self.interval))

    def _targets(self) -> list[tuple[Any, tuple[str, int]]]:
        """The cluster's own hosts that the driver would connect to, with their address and port."""
        targets = []
        for host in self.cluster.metadata.all_hosts():
            if _ignored(self.cluster, host):
                continue
            try:
                address, port = host.endpoint.resolve()
            except Exception:  # an endpoint we cannot resolve now: the driver's own reconnection covers it
                continue
            if isinstance(port, int):
                targets.append((host, (str(address), port)))
        return targets


def _ignored(cluster: Cluster, host: Any) -> bool:
    """Hosts the load-balancing policy never uses (remote data centres): not worth probing."""
    from cassandra.policies import HostDistance

    try:
        return bool(cluster.profile_manager.distance(host) == HostDistance.IGNORED)
    except Exception:
        return False


def _control_connection_down(cluster: Cluster) -> bool:
    """Whether the driver's control connection has no working connection (``False`` if we cannot tell)."""
    control = getattr(cluster, "control_connection", None)
    if control is None or not hasattr(control, "_connection"):
        return False
    connection: Any = control._connection
    return connection is None or bool(connection.is_closed or connection.is_defunct)


def _reconnect_control_connection(cluster: Cluster) -> None:
    """Start a reconnection of the control connection now, unless one is already running."""
    control: Any = getattr(cluster, "control_connection", None)
    if control is not None and _cancel_scheduled_attempt(control):
        control.reconnect()


def _cancel_scheduled_attempt(control: Any) -> bool:
    """Cancel and clear the control connection's scheduled reconnection; ``False`` when an attempt is running
    right now (if it fails, it schedules the next one) or the driver is one we do not know.

    Left set, it would replace the new connection when due (and keep the driver from reconnecting the next
    time its host goes down). The two drivers keep it differently: cassandra-driver swaps it out with
    ``_get_and_set_reconnection_handler``; scylla-driver (3.29+) guards it with ``_reconnection_lock``, and
    its ``reconnect()`` does nothing while it is set.
    """
    swap = getattr(control, "_get_and_set_reconnection_handler", None)
    if swap is not None:  # cassandra-driver
        pending = swap(None)
        if pending is None:
            return False
        pending.cancel()
        return True
    lock = getattr(control, "_reconnection_lock", None)
    if lock is None or not hasattr(control, "_reconnection_handler"):
        return False
    with lock:
        pending = control._reconnection_handler
        if pending is not None:
            if getattr(pending, "_is_running", False):
                return False
            pending.cancel()
            control._reconnection_handler = None
    return True
