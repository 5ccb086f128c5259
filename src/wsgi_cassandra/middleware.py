"""``CassandraMiddleware``: every request finds the worker's ready Cassandra session in its environ.

::

    from wsgi_cassandra import CassandraMiddleware
    application = CassandraMiddleware(app, keyspace="shop")

    # in any handler, whatever the framework:
    session = environ["cassandra.session"]          # a cassandra.cluster.Session
    rows = session.execute("SELECT name FROM products LIMIT 10")

The session is built once per worker process, after the fork, at the moment the warmer chooses (see
:mod:`wsgi_cassandra.warmers`), and never shared across a fork (see :mod:`wsgi_cassandra.holder`). The
request path is flat: look up the ready session, set three environ keys, call the app; the response is
not wrapped. While no session is ready, routes that use it get a fast ``503`` (see
:mod:`wsgi_cassandra.unavailable`).
"""

from __future__ import annotations

import sys
from os import getpid
from typing import TYPE_CHECKING, Callable

from .config import Settings, arguments_doc, options
from .connect import Connector
from .driver import CLUSTER_SETTINGS, matching_connection_class
from .driver import cluster_factory as settings_cluster_factory
from .exceptions import ConfigurationError, SessionUnavailable
from .health import health_response
from .holder import Backoff, SessionHolder
from .prepare import as_statements
from .unavailable import no_host_error, respond_503_after_error, serve_unavailable
from .warmers import Warmer, get_warmer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from cassandra.cluster import Cluster, ExecutionProfile, Session

    from .config import OnUnavailable, SchemaMetadata, WarmerName
    from .cqlengine import CqlengineBinding
    from .metrics import Metrics
    from .prepare import StatementRegistry
    from .secret import Secret

__all__ = ["CassandraMiddleware"]


class CassandraMiddleware:
    """Wrap a WSGI app so that ``environ[environ_key]`` holds this worker's ready ``Session``.

    ``app`` is the WSGI application. Every other argument is keyword-only:

    - ``cluster_factory``: a callable returning an unconnected ``Cluster``; replaces the connection,
      TLS and execution-profile settings (``contact_points`` ... ``request_timeout``, ``execution_profiles``:
      ``driver.CLUSTER_SETTINGS``). Giving one of those as an argument next to it raises
      :class:`~wsgi_cassandra.exceptions.ConfigurationError`; their environment variables are ignored.
    - ``statements``: name -> CQL (prepared in each worker), or a ``StatementRegistry``.
    - ``environ``: a mapping read instead of ``os.environ``.
    - the settings listed below. A setting not given is read from its environment variable; an explicit
      argument beats the variable, which beats the default. ``warmer`` also takes a ``Warmer`` object.

    Bad settings raise :class:`~wsgi_cassandra.exceptions.ConfigurationError` here, not at the first request.
    """

    __slots__ = (
        "_app",
        "_cluster_key",
        "_convert",
        "_cqlengine",
        "_health",
        "_key",
        "_metrics",
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
        statements: Mapping[str, str] | StatementRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        # The settings: one line per row of the table in config.py (tests/test_config.py checks that they agree).
        contact_points: str | list[str] | tuple[str, ...] | None = None,
        port: int | None = None,
        keyspace: str | None = None,
        username: str | None = None,
        password: str | Secret | None = None,
        local_dc: str | None = None,
        protocol_version: int | None = None,
        connect_timeout: float | None = None,
        consistency: str | None = None,
        serial_consistency: str | None = None,
        request_timeout: float | None = None,
        ssl: bool | None = None,
        ssl_ca: str | None = None,
        ssl_cert: str | None = None,
        ssl_key: str | None = None,
        ssl_check_hostname: bool | None = None,
        warmer: WarmerName | str | Warmer | None = None,
        warm_timeout: float | None = None,
        retry_max: float | None = None,
        shutdown_timeout: float | None = None,
        health_path: str | None = None,
        fast_connect: bool | None = None,
        schema_metadata: SchemaMetadata | None = None,
        metadata_keyspaces: str | list[str] | tuple[str, ...] | None = None,
        warm_jitter: float | None = None,
        cqlengine: bool | None = None,
        metrics_path: str | None = None,
        metrics_requests: bool | None = None,
        on_unavailable: OnUnavailable | None = None,
        execution_profiles: Mapping[str, ExecutionProfile] | None = None,
        on_ready: Callable[[Session], object] | None = None,
        environ_key: str | None = None,
        cluster_environ_key: str | None = None,
        statements_environ_key: str | None = None,
    ) -> None:
        given = dict(locals())  # first line: exactly the arguments, which the settings table names
        if not callable(app):
            raise ConfigurationError(f"app = {app!r} is not a WSGI application (not callable)")
        if cluster_factory is not None and not callable(cluster_factory):
            raise ConfigurationError(f"cluster_factory = {cluster_factory!r} is not callable")
        explicit = {option.name: given[option.name] for option in options()}
        if cluster_factory is not None:
            _refuse_replaced_settings(explicit)
        if not isinstance(warmer, str):
            explicit["warmer"] = None  # a Warmer object: not a setting, used as it is
        self.settings = Settings.resolve(explicit, environ)
        if cluster_factory is not None:
            factory = matching_connection_class(cluster_factory)
        else:
            factory = settings_cluster_factory(self.settings)
        self._metrics = self._metrics_of()
        connector = Connector(
            factory,
            keyspace=self.settings.keyspace,
            statements=as_statements(statements),
            schema_metadata=self.settings.schema_metadata,
            metadata_keyspaces=self.settings.metadata_keyspaces,
            warm_jitter=self.settings.warm_jitter,
            setup=self._setup_steps(),
            on_ready=self.settings.on_ready,
        )
        self.holder = SessionHolder(
            connector if self._metrics is None else self._metrics.connector(connector),
            warm_timeout=self.settings.warm_timeout,
            shutdown_timeout=self.settings.shutdown_timeout,
            backoff=Backoff(maximum=self.settings.retry_max),
        )
        if self._metrics is not None:
            self._metrics.watch(self.holder)
        self.warmer = get_warmer(warmer if warmer is not None and not isinstance(warmer, str) else self.settings.warmer)
        self._app = app
        self._key = self.settings.environ_key
        self._cluster_key = self.settings.cluster_environ_key
        self._statements_key = self.settings.statements_environ_key
        self._convert = self.settings.on_unavailable == "503"
        self._health = self.settings.health_path
        self.warmer.install(self.holder)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._health is not None and environ.get("PATH_INFO") == self._health:
            return health_response(self.holder, start_response)
        if self._metrics is not None and environ.get("PATH_INFO") == self._metrics.path:
            return self._metrics.response(start_response)
        # The fast path, inlined (no call): this process's ready connection, checked against the pid that
        # built it, so that a forked child never uses its parent's session.
        state = self.holder.state
        live = state.live
        if live is None or state.pid != getpid():
            # Not ready in this process (first request, forked child, outage, shut down): connect or fail fast.
            live = self.holder.get()
            if live is None:
                if self._metrics is not None:
                    start_response = self._metrics.counting_503(start_response)
                return serve_unavailable(
                    self._app,
                    environ,
                    start_response,
                    self.holder.unavailable(),
                    session_key=self._key,
                    cluster_key=self._cluster_key,
                    statements_key=self._statements_key,
                    convert=self._convert,
                )
        environ[self._key] = live.session
        environ[self._cluster_key] = live.cluster
        environ[self._statements_key] = live.statements
        try:
            return self._app(environ, start_response)
        except Exception as exc:  # free when nothing is raised; see unavailable.no_host_error
            no_host = no_host_error(exc) if self._convert else None
            if no_host is None:
                raise
            if self._metrics is not None:
                start_response = self._metrics.counting_503(start_response)
            return respond_503_after_error(start_response, no_host, sys.exc_info())

    def session(self, timeout: float | None = None) -> Session:
        """This process's ready ``Session``, for code outside a request (a thread, a scheduler, a command).

        The same session requests get, with the same fork safety: called in a forked child, it builds the
        child's own. If none is ready it connects and waits up to ``timeout`` (default ``warm_timeout``);
        raises :class:`~wsgi_cassandra.exceptions.SessionUnavailable` if there is still none.
        """
        return self.holder.session(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Close this worker's Cluster, bounded by ``shutdown_timeout`` (see ``SessionHolder.shutdown``)."""
        if self._cqlengine is not None:
            self._cqlengine.close()
        stopped = self.holder.shutdown(timeout)
        if self._metrics is not None:
            self._metrics.publish()  # closed
        return stopped

    def _metrics_of(self) -> Metrics | None:
        if self.settings.metrics_path is None:
            return None
        from .metrics import Metrics

        return Metrics(self.settings)

    def _setup_steps(self) -> tuple[CqlengineBinding, ...]:
        """What the connector does after connecting and before ``on_ready``: cqlengine's registration."""
        self._cqlengine = None
        if self.settings.cqlengine:
            from .cqlengine import CqlengineBinding

            self._cqlengine = CqlengineBinding(self.settings.keyspace, self._why_unavailable)
        return () if self._cqlengine is None else (self._cqlengine,)

    def _why_unavailable(self) -> SessionUnavailable:
        """What cqlengine's model queries raise while no session is ready (the holder is built after them)."""
        self.holder.current()  # in a forked child: this process's own state (adopted), never the parent's
        return self.holder.unavailable()

    def __repr__(self) -> str:
        return f"<CassandraMiddleware {self.settings!r} warmer={self.warmer.name!r}>"


def _refuse_replaced_settings(explicit: Mapping[str, object]) -> None:
    """A ``cluster_factory`` builds the Cluster: the settings that would build it are not used. Only
    arguments are refused; their environment variables may be set for other processes and are ignored."""
    replaced = [name for name in CLUSTER_SETTINGS if explicit.get(name) is not None]
    if replaced:
        names = ", ".join(f"{name}=" for name in replaced)
        raise ConfigurationError(
            f"cluster_factory= builds the Cluster, so {names} would be ignored: set these on the Cluster "
            "(or its execution profiles) that cluster_factory returns, or drop cluster_factory="
        )


CassandraMiddleware.__doc__ = f"{CassandraMiddleware.__doc__}\n{arguments_doc()}\n"
