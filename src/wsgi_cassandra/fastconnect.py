"""The fast-connect profile: the parts of a driver connect that a web worker can skip or defer.

``WSGI_CASSANDRA_FAST_CONNECT=1`` (or ``fast_connect=True``) turns on two parts, each also settable alone
(docs/performance.md measures what each saves):

- **Protocol**: the driver starts negotiating at its newest version, DSE's private v66, and on Apache
  Cassandra pays one refused connection per step down (66 -> 65 -> 5). The profile starts at the newest
  stable version instead, still stepping down if the server is older. ``CASSANDRA_PROTOCOL_VERSION``
  pins a version outright (no step down at all: a server that lacks it is an error).
- **Schema**: the driver downloads the whole schema (every keyspace, table, column, type, function) on
  the control connection before ``connect()`` returns, and keeps it up to date. Token-aware routing only
  needs the *replication settings* of the keyspaces a query touches (the partition key of a prepared
  statement comes back with its PREPARE). ``WSGI_CASSANDRA_SCHEMA_METADATA`` = ``keyspaces`` skips the
  download and fetches just the app's keyspaces during the warm-up; ``background`` (the profile's
  choice) fetches them right after the session is ready, so the warm-up never waits for a schema read;
  ``none`` never fetches (token-aware routing then falls back to data-centre-aware round robin).

The app's keyspaces are the session keyspace, the keyspaces of the prepared statements and
``WSGI_CASSANDRA_METADATA_KEYSPACES``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from cassandra.cluster import Cluster
    from cassandra.query import PreparedStatement

__all__ = ["fetch_keyspaces", "fetch_keyspaces_in_background", "keyspaces_used", "newest_stable_protocol"]

log = logging.getLogger(__name__)

#: The background fetch thread's name, followed by the pid (the tests' thread guard looks for it).
METADATA_THREAD_PREFIX = "wsgi-cassandra-metadata-"


def newest_stable_protocol() -> int:
    """The newest Apache Cassandra protocol version this driver supports outside beta (5 for 3.25+)."""
    from cassandra import ProtocolVersion

    newest: int = max(
        version
        for version in ProtocolVersion.SUPPORTED_VERSIONS
        if version not in ProtocolVersion.BETA_VERSIONS and version < ProtocolVersion.DSE_V1
    )
    return newest


def start_at_newest_stable(cluster: Cluster) -> None:
    """Make an unconnected Cluster begin negotiating at :func:`newest_stable_protocol`.

    Setting the attribute (rather than the ``protocol_version=`` argument) leaves the version
    un-pinned, so the driver can still step down against an older server.
    """
    cluster.protocol_version = min(cluster.protocol_version, newest_stable_protocol())


def keyspaces_used(
    keyspace: str | None, prepared: Mapping[str, PreparedStatement], extra: Iterable[str] = ()
) -> list[str]:
    """The keyspaces whose metadata token-aware routing needs, in a stable order, without duplicates."""
    names = [keyspace, *(_routing_keyspace(ps) for ps in prepared.values()), *extra]
    return list(dict.fromkeys(name for name in names if name))


def _routing_keyspace(prepared: PreparedStatement) -> str | None:
    # What BoundStatement routes by: the keyspace of the first bound column (the statement's own
    # ``keyspace`` is only set when it was prepared with an explicit keyspace).
    columns = getattr(prepared, "column_metadata", None)
    if columns:
        return getattr(columns[0], "keyspace_name", None)
    return getattr(prepared, "keyspace", None)


def fetch_keyspaces(cluster: Cluster, keyspaces: Iterable[str]) -> list[str]:
    """Load the metadata of just these keyspaces (replication settings, not their tables).

    ``refresh_keyspace_metadata`` forces the read even with ``schema_metadata_enabled=False``, and the
    token map builds the keyspace's replica map from it on first use. Returns the keyspaces that failed.
    """
    failed = []
    for name in keyspaces:
        if getattr(cluster, "is_shutdown", False):
            return [name]  # the worker shut down meanwhile: nothing to route any more
        try:
            cluster.refresh_keyspace_metadata(name)
        except Exception as exc:  # a routing optimisation: never fail the worker over it
            if getattr(cluster, "is_shutdown", False):
                return [name]  # the worker shut down meanwhile: nothing to route any more
            log.warning("could not load metadata of keyspace %r (token-aware routing falls back): %s", name, exc)
            failed.append(name)
    return failed


def fetch_keyspaces_in_background(cluster: Cluster, keyspaces: list[str], pid: int) -> threading.Thread | None:
    """:func:`fetch_keyspaces` in a daemon thread, off the warm-up path; requests meanwhile are routed by
    the child policy (correct, possibly one extra hop), token-aware as soon as the fetch lands.

    The thread is the caller's to wait for: shutting the Cluster down cuts a schema read in flight short
    (the control connection closes) and the thread then ends; ``SessionHolder.shutdown()`` joins it."""
    if not keyspaces:
        return None

    def fetch_and_route() -> None:
        from .replica_maps import build_replica_maps

        fetch_keyspaces(cluster, keyspaces)
        if not getattr(cluster, "is_shutdown", False):
            build_replica_maps(cluster, keyspaces)

    thread = threading.Thread(target=fetch_and_route, name=f"{METADATA_THREAD_PREFIX}{pid}", daemon=True)
    thread.start()
    return thread
