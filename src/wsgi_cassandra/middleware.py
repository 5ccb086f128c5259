"""``CassandraMiddleware``: every request finds the worker's ready Cassandra session in its environ.

::

    from wsgi_cassandra import CassandraMiddleware
    application = CassandraMiddleware(app, keyspace="shop")

    # in any handler, whatever the framework:
    session = environ["cassandra.session"]          # a cassandra.cluster.Session
    rows = session.execute("SELECT name FROM products LIMIT 10")

The session is built once per worker process, after the fork, at the moment the warmer chooses (see
:mod:`wsgi_cassandra.warmers`), and never shared across a fork (see :mod:`wsgi_cassandra.holder`). The
request path is flat: look up the ready session, set two environ keys, call the app; the response is
not wrapped. While no session is ready, routes that use it get a fast ``503`` (see
:mod:`wsgi_cassandra.unavailable`).
"""

from __future__ import annotations

import sys
from os import getpid
from typing import TYPE_CHECKING, Callable

from .config import Settings
from .connect import Connector
from .driver import cluster_factory as settings_cluster_factory
from .driver import matching_connection_class
from .errors import ConfigurationError
from .health import health_response
from .holder import Backoff, SessionHolder
from .statements import UnavailableStatements, as_statements
from .unavailable import no_host_error, respond_503_after_error, serve_unavailable
from .warmers import Warmer, get_warmer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from cassandra.cluster import Cluster

    from .config import Secret
    from .statements import Statements

__all__ = ["CassandraMiddleware"]

ON_UNAVAILABLE = ("503", "app")


class CassandraMiddleware:
    """Wrap a WSGI app so that ``environ[environ_key]`` holds this worker's ready ``Session``.

    Settings not given as keyword arguments come from the environment variables in the README
    (``CASSANDRA_CONTACT_POINTS``, ``CASSANDRA_KEYSPACE``, ``WSGI_CASSANDRA_WARMER``, ...); an explicit
    argument beats the variable. ``cluster_factory`` (a callable returning an unconnected ``Cluster``)
    replaces the connection settings entirely. ``on_unavailable="503"`` (default) answers
    ``503 Service Unavailable`` when the app touches the session while none is ready; ``"app"`` lets the
    app handle :class:`~wsgi_cassandra.errors.SessionUnavailable` itself.
    Bad settings raise :class:`~wsgi_cassandra.errors.ConfigurationError` here, not at the first request.
    """

    __slots__ = (
        "_app",
        "_cluster_key",
        "_convert",
        "_health",
        "_key",
        "_statements_key",
        "holder",
        "settings",
        "warmer",
    )

    def __init__(
        self,
        app: WSGIApplication,
        *,
        cluster_factory: Callable[[], Cluster] | None = None,
        keyspace: str | None = None,
        warmer: str | Warmer | None = None,
        environ_key: str = "cassandra.session",
        cluster_environ_key: str = "cassandra.cluster",
        on_unavailable: str = "503",
        contact_points: str | list[str] | tuple[str, ...] | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | Secret | None = None,
        local_dc: str | None = None,
        protocol_version: int | None = None,
        connect_timeout: float | None = None,
        warm_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        retry_max: float | None = None,
        health_path: str | None = None,
        ssl: bool | None = None,
        ssl_ca: str | None = None,
        ssl_cert: str | None = None,
        ssl_key: str | None = None,
        ssl_check_hostname: bool | None = None,
        fast_connect: bool | None = None,
        schema_metadata: str | None = None,
        metadata_keyspaces: str | list[str] | tuple[str, ...] | None = None,
        warm_jitter: float | None = None,
        statements: Mapping[str, str] | Statements | None = None,
        statements_environ_key: str = "cassandra.statements",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not callable(app):
            raise ConfigurationError(f"app = {app!r} is not a WSGI application (not callable)")
        if on_unavailable not in ON_UNAVAILABLE:
            raise ConfigurationError(f"on_unavailable = {on_unavailable!r}; accepted: {', '.join(ON_UNAVAILABLE)}")
        if cluster_factory is not None and not callable(cluster_factory):
            raise ConfigurationError(f"cluster_factory = {cluster_factory!r} is not callable")
        self.settings = Settings.resolve(
            {
                "contact_points": contact_points,
                "port": port,
                "keyspace": keyspace,
                "username": username,
                "password": password,
                "local_dc": local_dc,
                "protocol_version": protocol_version,
                "connect_timeout": connect_timeout,
                "warmer": warmer if isinstance(warmer, str) else None,
                "warm_timeout": warm_timeout,
                "shutdown_timeout": shutdown_timeout,
                "retry_max": retry_max,
                "health_path": health_path,
                "ssl": ssl,
                "ssl_ca": ssl_ca,
                "ssl_cert": ssl_cert,
                "ssl_key": ssl_key,
                "ssl_check_hostname": ssl_check_hostname,
                "fast_connect": fast_connect,
                "schema_metadata": schema_metadata,
                "metadata_keyspaces": metadata_keyspaces,
                "warm_jitter": warm_jitter,
            },
            environ,
        )
        if cluster_factory is not None:
            factory = matching_connection_class(cluster_factory)
        else:
            factory = settings_cluster_factory(self.settings)
        self.holder = SessionHolder(
            Connector(
                factory,
                keyspace=self.settings.keyspace,
                statements=as_statements(statements),
                schema_metadata=self.settings.schema_metadata,
                metadata_keyspaces=self.settings.metadata_keyspaces,
                warm_jitter=self.settings.warm_jitter,
            ),
            warm_timeout=self.settings.warm_timeout,
            shutdown_timeout=self.settings.shutdown_timeout,
            backoff=Backoff(maximum=self.settings.retry_max),
        )
        self.warmer = get_warmer(warmer if warmer is not None and not isinstance(warmer, str) else self.settings.warmer)
        self._app = app
        self._key = environ_key
        self._cluster_key = cluster_environ_key
        self._statements_key = statements_environ_key
        self._convert = on_unavailable == "503"
        self._health = self.settings.health_path
        self.warmer.install(self.holder)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._health is not None and environ.get("PATH_INFO") == self._health:
            return health_response(self.holder, start_response)
        # The fast path, inlined (no call): this process's ready connection, checked against the pid that
        # built it, so that a forked child never uses its parent's session.
        state = self.holder.state
        live = state.live
        if live is None or state.pid != getpid():
            return self._not_ready(environ, start_response)
        environ[self._key] = live.session
        environ[self._cluster_key] = live.cluster
        environ[self._statements_key] = live.statements
        try:
            return self._app(environ, start_response)
        except Exception as exc:  # free when nothing is raised; see unavailable.no_host_error
            no_host = no_host_error(exc) if self._convert else None
            if no_host is None:
                raise
            return respond_503_after_error(start_response, no_host, sys.exc_info())

    def _not_ready(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """No ready session in this process yet (first request, forked child, outage): connect or fail fast."""
        if self.holder.get() is not None:
            return self(environ, start_response)  # ready now: serve through the fast path
        error = self.holder.unavailable()
        environ[self._statements_key] = UnavailableStatements(error, environ)
        return serve_unavailable(
            self._app,
            environ,
            start_response,
            error,
            session_key=self._key,
            cluster_key=self._cluster_key,
            convert=self._convert,
        )

    def shutdown(self, timeout: float | None = None) -> bool:
        """Close this worker's Cluster, bounded by ``shutdown_timeout`` (see ``SessionHolder.shutdown``)."""
        return self.holder.shutdown(timeout)

    def __repr__(self) -> str:
        return f"<CassandraMiddleware {self.settings!r} warmer={self.warmer.name!r}>"
