"""Bounded shutdown: close a Cluster within a deadline, also at interpreter exit, before the driver tries.

The driver's own exit handler calls ``Cluster.shutdown()`` without a bound, and that waits for a connect
still in progress (it holds the cluster's lock for up to ``connect_timeout`` per contact point: 15 s
against three black-holed nodes). Our handler runs first, closes what it can in time and takes whatever
is still busy out of the driver's list; the driver's threads are daemons and die with us. The holder
uses both halves::

    closed = close_within(cluster, 5.0)   # SessionHolder.shutdown()
    install_exit_hook(all_holders)        # once per process, when the first connect starts
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .holder import SessionHolder

__all__ = ["close_within", "install_exit_hook"]

# The holder's logger: shutting down is part of the session's story, and operators filter on that name.
log = logging.getLogger("wsgi_cassandra.holder")

_exit_hook_installed = False


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


def install_exit_hook(holders: Callable[[], Iterable[SessionHolder]]) -> None:
    """Register the bounded shutdown of ``holders()`` once per process tree, *after* the driver registered
    its own: ``atexit`` runs handlers last-in first-out, so ours runs before the driver's."""
    global _exit_hook_installed
    if _exit_hook_installed:
        return
    from .reactors import import_cluster_module

    import_cluster_module()  # the driver registers its exit handler on import

    atexit.register(_shutdown_at_exit, holders)
    _exit_hook_installed = True


def _shutdown_at_exit(holders: Callable[[], Iterable[SessionHolder]]) -> None:
    """At interpreter exit: close this process's clusters within their ``shutdown_timeout`` (see above)."""
    pid = os.getpid()
    mine = [holder for holder in holders() if holder.state.pid == pid]
    deadline = time.monotonic() + max((holder.shutdown_timeout for holder in mine), default=0.0)
    for holder in mine:
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
