"""The server runtime: nodes on loopback sockets, their connections, and what a test can do to them.

It joins the codec (:mod:`..protocol`) to the CQL engine (:mod:`..cql`): bytes come in on a connection,
are cut into frames and decoded, the dispatcher runs the handshake and hands statements to the engine,
and the engine's results and errors go back out as RESULT and ERROR messages.

* ``_node`` -- :class:`CQLServer`, one node: its thread, event loop and listening socket.
* ``_cluster`` -- :class:`CQLCluster`, N nodes on 127.0.0.1..N sharing one engine.
* ``_process`` -- :class:`ServerProcess`, ``python -m wsgi_cassandra.testing`` in a child process.
* ``_listener`` (accepting sockets), ``_connection`` (one client: frames in, answers out), ``_dispatch`` (the
  handshake state machine), ``_queries`` (QUERY/PREPARE/EXECUTE/BATCH to the engine and back), ``_hub``
  (events and prepared texts shared by a cluster's nodes), ``_faults`` (injected faults), ``_stats`` (counters).

Besides the servers: :data:`ERROR_NAMES` (what ``server.faults.error`` accepts), :func:`build_error` (the
ERROR message injected for a name) and :func:`engine_error` (the ERROR message for an engine error).
"""

from __future__ import annotations

from ._cluster import CQLCluster
from ._faults import ERROR_NAMES, build_error
from ._node import DEFAULT_RELEASE, CQLServer, CQLServerError
from ._process import ServerProcess
from ._queries import engine_error

__all__ = [
    "DEFAULT_RELEASE",
    "ERROR_NAMES",
    "CQLCluster",
    "CQLServer",
    "CQLServerError",
    "ServerProcess",
    "build_error",
    "engine_error",
]
