"""Celery's prefork pool: every pool process its own Cassandra session, built after the fork, closed at exit.

The worker's main process loads the tasks module and forks its pool processes (billiard); a Cluster built
in the main process would be broken in every child, exactly as in a pre-fork web server. Celery's own
signals are the idiomatic place, and the only complete one:

- ``worker_process_init`` runs in each pool process right after the fork: the session starts connecting
  there, in the background (Celery kills a pool process whose init handlers block for more than 4 s,
  and a Cassandra outage must not do that). The first task waits for it, bounded by ``warm_timeout``;
- ``worker_process_shutdown`` runs in each pool process before it exits: the session is closed there,
  bounded by ``shutdown_timeout``. Pool processes end with ``os._exit()``, so ``atexit`` handlers (and
  the ``fork`` warmer, which only connects) would leave the connections to be dropped by the OS.

::

    from celery import Celery
    from wsgi_cassandra.celery import CeleryCassandra

    app = Celery("tasks")
    cassandra = CeleryCassandra(app)        # same settings and environment variables as the middleware

    @app.task
    def names():
        return [row.name for row in cassandra.session().execute("SELECT name FROM items")]

Nothing connects in the main process (nor when the module is imported by a client that only sends
tasks). This module imports ``celery`` only when :class:`CeleryCassandra` is built.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from .middleware import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from cassandra.cluster import Session

    from .holder import SessionHolder

__all__ = ["CeleryCassandra"]

log = logging.getLogger(__name__)


def _no_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Length", "0")])
    return []


class CeleryCassandra:
    """A session per Celery pool process; see the module docstring.

    ``settings`` are the keyword arguments of :class:`~wsgi_cassandra.CassandraMiddleware` (``keyspace``,
    ``statements``, ``contact_points``...), read from the same environment variables when not given.
    ``app`` is the Celery app (its signals are process-wide; it is kept for symmetry and future use).
    """

    def __init__(self, app: Any = None, **settings: Any) -> None:
        from celery import signals

        # The middleware's settings, validation and holder, with no web app: nothing connects until a
        # pool process starts (or a task asks for the session in a process without a pool).
        self._middleware = CassandraMiddleware(_no_app, warmer="lazy", **settings)
        self.app = app
        self.holder: SessionHolder = self._middleware.holder
        signals.worker_process_init.connect(self._process_started, weak=False)
        signals.worker_process_shutdown.connect(self._process_exiting, weak=False)

    def session(self, timeout: float | None = None) -> Session:
        """This process's ready ``Session``; waits for the first connect (bounded), else raises
        :class:`~wsgi_cassandra.exceptions.SessionUnavailable` (let Celery retry the task)."""
        return self.holder.session(timeout)

    def statements(self) -> Any:
        """The prepared statements declared with ``statements=``, prepared by this process's Cluster."""
        connected = self.holder.get()
        if connected is None:
            raise self.holder.unavailable()
        return connected.statements

    def _process_started(self, **_: Any) -> None:
        self.holder.start()
        log.debug("pid %d: Celery pool process started; connecting to Cassandra", os.getpid())

    def _process_exiting(self, **_: Any) -> None:
        try:
            self.holder.shutdown()
        except Exception:
            log.exception("pid %d: shutting down the Cassandra session failed", os.getpid())
