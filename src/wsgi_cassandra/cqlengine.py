"""cqlengine models on each worker's own session: registered after the fork, unregistered at exit.

::

    application = CassandraMiddleware(app, keyspace="shop", cqlengine=True)   # or WSGI_CASSANDRA_CQLENGINE=1

    class Product(Model):                      # no connection.setup() anywhere: the middleware does it
        category = columns.Text(partition_key=True)
        name = columns.Text(primary_key=True)

    Product.objects(category="books")           # in any request handler, in any worker

Calling ``cassandra.cqlengine.connection.setup()`` at import time is the known trap of pre-fork servers
(flask-cqlalchemy #27, django-cassandra-engine #50): the connection is made in the master and the
forked workers inherit a Cluster whose threads did not survive the fork. Here each worker registers the
session *it* built, as the last step of its warm-up (before its first request). Until then -- while the
worker connects, or keeps failing to -- a stand-in connection is registered whose queries raise
:class:`~wsgi_cassandra.exceptions.SessionUnavailable` (a 503 from the middleware, not cqlengine's "no
connection" error and a 500). A forked child puts the stand-in back right after the fork
(``os.register_at_fork``), dropping what it inherited without shutting it down
(``unregister_connection()`` would call ``Cluster.shutdown()`` on the parent's Cluster); and a parent's
session, seen in a child forked where that hook does not run (uWSGI forks in C), refuses every query.

The design choice: cqlengine gets **its own Session on the worker's Cluster and its own execution profile**
(``wsgi_cassandra.cqlengine``, a clone of the default profile with ``dict_factory``). cqlengine's own
``setup_session()`` would set ``dict_factory`` on the Cluster's *default* profile and change the session's
tuple encoding, silently changing what raw queries through ``environ["cassandra.session"]`` return; with
its own Session and profile, raw queries keep their named tuples and the mapper gets its dicts. The cost is
one more pool connection per host in each worker. The profile inherits the default's consistency, serial
consistency and request timeout.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .exceptions import ConfigurationError, SessionUnavailable
from .unavailable import mark_used

if TYPE_CHECKING:
    from cassandra.cluster import Session

__all__ = ["CONNECTION_NAME", "PROFILE", "CqlengineBinding", "ProfiledSession", "Unready"]

log = logging.getLogger(__name__)

#: The name of the worker's connection in cqlengine's registry (it is also made the default connection).
CONNECTION_NAME = "wsgi_cassandra"
#: The execution profile cqlengine's statements run with (``dict_factory`` rows).
PROFILE = "wsgi_cassandra.cqlengine"


class CqlengineBinding:
    """A set-up step of the connector: registers the worker's session with cqlengine, in that worker.

    ``keyspace`` becomes the models' default keyspace (``models.DEFAULT_KEYSPACE``) when set.
    ``unavailable()`` says why there is no session (the holder's :meth:`~SessionHolder.unavailable`): what
    model queries raise until this process's session is registered. Built once per middleware, in the
    process that loads the app: it registers the stand-in there at once.
    """

    def __init__(self, keyspace: str | None, unavailable: Callable[[], SessionUnavailable] | None = None) -> None:
        try:
            import cassandra.cqlengine.connection  # noqa: F401 - asked for by name: fail now, not in a worker
        except ImportError as exc:  # pragma: no cover - part of cassandra-driver
            raise ConfigurationError(f"cqlengine=True but cassandra.cqlengine cannot be imported: {exc}") from None
        self.keyspace = keyspace
        self.unavailable = unavailable or _not_ready
        self._pid = 0
        self._connection: Any = None
        self._exit_hook_pid = 0
        self._standin = _connection_class()(name=CONNECTION_NAME, hosts=[])
        self._standin.session = self._standin.cluster = Unready(self)
        _install_fork_hook(self)
        self._register(self._standin)
        if keyspace is not None:  # already now: a model query before the session is ready gets a 503, not
            from cassandra.cqlengine import models  # cqlengine's "no keyspace" error

            models.DEFAULT_KEYSPACE = keyspace

    def __call__(self, session: Session) -> None:
        """Register ``session``'s Cluster with cqlengine in this process (the connector's last step)."""
        from cassandra.cluster import EXEC_PROFILE_DEFAULT
        from cassandra.cqlengine import models
        from cassandra.query import dict_factory

        pid = os.getpid()
        cluster = session.cluster
        own = cluster.connect(session.keyspace)
        profile: str | None = PROFILE
        if _legacy_mode(cluster):
            # A user's Cluster in legacy mode (built with load_balancing_policy= or default_retry_policy=)
            # refuses execution profiles; there the row factory is the Session's own (and its defaults are
            # the driver's, as on the raw session, which nothing has changed yet: this step runs first).
            profile = None
            own.row_factory = dict_factory
        elif PROFILE not in cluster.profile_manager.profiles:
            clone = session.execution_profile_clone_update(EXEC_PROFILE_DEFAULT, row_factory=dict_factory)
            cluster.add_execution_profile(PROFILE, clone)
        mapper = _connection_class().from_session(CONNECTION_NAME, ProfiledSession(own, profile, self))
        self._register(mapper)  # replaces the stand-in (or an inherited entry) without any shutdown
        if self.keyspace is not None:
            models.DEFAULT_KEYSPACE = self.keyspace
        self._pid, self._connection = pid, mapper
        if self._exit_hook_pid != pid:
            atexit.register(self.close)  # LIFO: before the holder's bounded shutdown, registered earlier
            self._exit_hook_pid = pid
        log.debug("pid %d: cqlengine connection %r registered (profile %s)", pid, CONNECTION_NAME, PROFILE)

    def close(self) -> None:
        """Unregister this process's connection and close its Session; the Cluster stays the holder's."""
        from cassandra.cqlengine import connection

        _bindings.discard(self)  # closed for good: no fork hook registers its stand-in again
        if connection._connections.get(CONNECTION_NAME) is self._standin:
            _unregister_without_shutdown(CONNECTION_NAME)
        mapper, pid = self._connection, os.getpid()
        if mapper is None or self._pid != pid:
            return  # nothing registered here, or a parent's registration seen from a forked child
        self._connection = None
        if connection._connections.get(CONNECTION_NAME) is mapper:
            _unregister_without_shutdown(CONNECTION_NAME)
        mapper.session.shutdown()
        log.debug("pid %d: cqlengine connection %r unregistered", pid, CONNECTION_NAME)

    def _register(self, entry: Any) -> None:
        """Make ``entry`` cqlengine's connection and default connection, replacing what was there without
        ``unregister_connection()`` (which shuts the replaced Cluster down: the parent's, after a fork).
        cqlengine has no public way to register a ready Connection without its ``setup_session()``, which
        is exactly the step that would change the shared default profile."""
        from cassandra.cqlengine import connection

        connection._connections[CONNECTION_NAME] = entry
        connection.set_default_connection(CONNECTION_NAME)

    def _forked(self) -> None:
        """In a forked child, right after the fork: the parent's connection gives way to the stand-in."""
        from cassandra.cqlengine import connection

        entry = connection._connections.get(CONNECTION_NAME)
        if entry is None or entry is self._standin:
            return
        session = getattr(entry, "session", None)
        if isinstance(session, (ProfiledSession, Unready)) and session.pid != os.getpid():
            self._register(self._standin)


class ProfiledSession:
    """A Session whose statements run with ``profile`` unless they name another (``None``: a Cluster in
    legacy mode, where the Session's own row factory applies); everything else delegates.

    What cqlengine gets as its connection's session: ``session.execute(query, params, timeout=...)``
    returns ``dict`` rows without touching the Cluster's default profile. In a process other than the one
    that built it (a child forked where no fork hook runs) it refuses to run anything: the binding's
    ``unavailable()`` is raised instead.
    """

    __slots__ = ("_binding", "_profile", "_session", "pid")

    def __init__(self, session: Session, profile: str | None, binding: CqlengineBinding) -> None:
        self._session = session
        self._profile = profile
        self._binding = binding
        self.pid = os.getpid()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self.pid != os.getpid():
            raise self._refused()
        if self._profile is not None:
            kwargs.setdefault("execution_profile", self._profile)
        return self._session.execute(*args, **kwargs)

    def execute_async(self, *args: Any, **kwargs: Any) -> Any:
        if self.pid != os.getpid():
            raise self._refused()
        if self._profile is not None:
            kwargs.setdefault("execution_profile", self._profile)
        return self._session.execute_async(*args, **kwargs)

    def _refused(self) -> SessionUnavailable:
        error = self._binding.unavailable()
        mark_used(error)
        return error

    @property
    def session(self) -> Session:
        """The driver's Session underneath."""
        return self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class Unready:
    """The stand-in connection's session and Cluster, registered while this process has no ready session:
    any use (``execute``, ``protocol_version``, ``metadata``...) raises the binding's
    :class:`~wsgi_cassandra.exceptions.SessionUnavailable` (a 503)."""

    __slots__ = ("_binding", "pid")

    def __init__(self, binding: CqlengineBinding) -> None:
        self._binding = binding
        self.pid = os.getpid()

    def __getattr__(self, name: str) -> Any:
        error = self._binding.unavailable()
        mark_used(error)  # a framework that answers 500 for it gets the middleware's 503 instead
        raise error

    def __bool__(self) -> bool:
        return True  # cqlengine answers a falsy session or cluster with its own "call setup()" error: a 500

    def __repr__(self) -> str:
        return "<Unready: no Cassandra session is ready in this process>"


def _legacy_mode(cluster: Any) -> bool:
    """Whether ``cluster`` is in the driver's legacy mode (no execution profiles can be added)."""
    from cassandra.cluster import _ConfigMode

    return bool(getattr(cluster, "_config_mode", None) == _ConfigMode.LEGACY)


def _not_ready() -> SessionUnavailable:
    return SessionUnavailable("the Cassandra session is not ready in this process", retry_after=1)


_bindings: weakref.WeakSet[CqlengineBinding] = weakref.WeakSet()
_fork_hook_installed = False


def _install_fork_hook(binding: CqlengineBinding) -> None:
    """Once per process tree: in every forked child, right after the fork, each binding drops the parent's
    registration (registered before the warmers' hooks when the first middleware is built, so it runs
    before a child's connect starts)."""
    global _fork_hook_installed
    _bindings.add(binding)
    if _fork_hook_installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _fork_hook_installed = True


def _after_fork_in_child() -> None:
    for binding in list(_bindings):
        try:
            binding._forked()
        except Exception:  # a fork hook that raises is only printed by Python; never break the child
            log.exception("pid %d: dropping the inherited cqlengine connection failed", os.getpid())


@functools.cache
def _connection_class() -> Any:
    """cqlengine's ``Connection``, minus the change of the Cluster's default profile (see the module doc);
    built at first use, so that importing this module does not import cqlengine."""
    from cassandra.cqlengine import connection

    class Connection(connection.Connection):  # type: ignore[misc]
        def setup_session(self) -> None:
            encoder = self.session.encoder
            encoder.mapping[tuple] = encoder.cql_encode_tuple
            connection._register_known_types(self.cluster)

    return Connection


def _unregister_without_shutdown(name: str) -> None:
    """``connection.unregister_connection(name)`` minus its ``Cluster.shutdown()`` (a parent's Cluster, or
    the holder's), leaving the entry itself untouched."""
    from cassandra.cqlengine import connection

    conn = connection._connections.pop(name, None)
    if conn is not None and connection._connections.get(connection.DEFAULT_CONNECTION) is conn:
        del connection._connections[connection.DEFAULT_CONNECTION]
        connection.cluster = connection.session = None
