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
session *it* built, as the last step of its warm-up (before its first request), and a forked child drops
what it inherited without shutting it down (``unregister_connection()`` would call ``Cluster.shutdown()``
on the parent's Cluster).

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
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from cassandra.cluster import Session

__all__ = ["CONNECTION_NAME", "PROFILE", "CqlengineBinding"]

log = logging.getLogger(__name__)

#: The name of the worker's connection in cqlengine's registry (it is also made the default connection).
CONNECTION_NAME = "wsgi_cassandra"
#: The execution profile cqlengine's statements run with (``dict_factory`` rows).
PROFILE = "wsgi_cassandra.cqlengine"


class CqlengineBinding:
    """A set-up step of the connector: registers the worker's session with cqlengine, in that worker.

    ``keyspace`` becomes the models' default keyspace (``models.DEFAULT_KEYSPACE``) when set.
    """

    def __init__(self, keyspace: str | None) -> None:
        try:
            import cassandra.cqlengine.connection  # noqa: F401 - asked for by name: fail now, not in a worker
        except ImportError as exc:  # pragma: no cover - part of cassandra-driver
            raise ConfigurationError(f"cqlengine=True but cassandra.cqlengine cannot be imported: {exc}") from None
        self.keyspace = keyspace
        self._pid = 0
        self._connection: Any = None
        self._exit_hook_pid = 0

    def __call__(self, session: Session) -> None:
        """Register ``session``'s Cluster with cqlengine in this process (the connector's last step)."""
        from cassandra.cluster import EXEC_PROFILE_DEFAULT
        from cassandra.cqlengine import connection, models
        from cassandra.query import dict_factory

        pid = os.getpid()
        forget_inherited()
        cluster = session.cluster
        if PROFILE not in cluster.profile_manager.profiles:
            profile = session.execution_profile_clone_update(EXEC_PROFILE_DEFAULT, row_factory=dict_factory)
            cluster.add_execution_profile(PROFILE, profile)
        own = cluster.connect(session.keyspace)
        mapper = _connection_class().from_session(CONNECTION_NAME, ProfiledSession(own, PROFILE))
        # cqlengine has no public way to register a ready Connection without its setup_session(), which is
        # exactly the step that would change the shared default profile.
        connection._connections[CONNECTION_NAME] = mapper
        connection.set_default_connection(CONNECTION_NAME)
        if self.keyspace is not None:
            models.DEFAULT_KEYSPACE = self.keyspace
        self._pid, self._connection = pid, mapper
        if self._exit_hook_pid != pid:
            atexit.register(self.close)  # LIFO: before the holder's bounded shutdown, registered earlier
            self._exit_hook_pid = pid
        log.debug("pid %d: cqlengine connection %r registered (profile %s)", pid, CONNECTION_NAME, PROFILE)

    def close(self) -> None:
        """Unregister this process's connection and close its Session; the Cluster stays the holder's."""
        mapper, pid = self._connection, os.getpid()
        if mapper is None or self._pid != pid:
            return  # nothing registered here, or a parent's registration seen from a forked child
        self._connection = None
        from cassandra.cqlengine import connection

        if connection._connections.get(CONNECTION_NAME) is mapper:
            _unregister_without_shutdown(CONNECTION_NAME)
        mapper.session.shutdown()
        log.debug("pid %d: cqlengine connection %r unregistered", pid, CONNECTION_NAME)


class ProfiledSession:
    """A Session whose statements run with ``profile`` unless they name another; everything else delegates.

    What cqlengine gets as its connection's session: ``session.execute(query, params, timeout=...)``
    returns ``dict`` rows without touching the Cluster's default profile.
    """

    __slots__ = ("_profile", "_session")

    def __init__(self, session: Session, profile: str) -> None:
        self._session = session
        self._profile = profile

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("execution_profile", self._profile)
        return self._session.execute(*args, **kwargs)

    def execute_async(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("execution_profile", self._profile)
        return self._session.execute_async(*args, **kwargs)

    @property
    def session(self) -> Session:
        """The driver's Session underneath."""
        return self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


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


def forget_inherited() -> None:
    """Drop our entry if a forked child inherited it, without ``Cluster.shutdown()`` (it is the parent's)."""
    from cassandra.cqlengine import connection

    if CONNECTION_NAME in connection._connections:
        _unregister_without_shutdown(CONNECTION_NAME)


def _unregister_without_shutdown(name: str) -> None:
    from cassandra.cqlengine import connection

    conn = connection._connections.get(name)
    if conn is not None:
        conn.cluster = None  # unregister_connection() shuts down conn.cluster when it has one
    connection.unregister_connection(name)
