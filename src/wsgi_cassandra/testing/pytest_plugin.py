"""pytest fixtures for the CQL test server (registered through the ``pytest11`` entry point).

* ``cql_server``: a fresh single node (Cassandra 4.1 behaviour) on 127.0.0.1 and a free port, per test.
* ``cql_cluster``: a fresh 3-node cluster on 127.0.0.1-3, per test.
* ``cql_server_session``: one node shared by the whole session; its faults are cleared and its stats
  reset before each test that uses it, but data written by earlier tests stays.

Every fixture stops what it started, even when the test fails. Nothing starts until a test asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .server import CQLCluster, CQLServer


@pytest.fixture
def cql_server() -> Iterator[CQLServer]:
    """A started single-node CQL test server, stopped after the test."""
    from .server import CQLServer

    with CQLServer() as server:
        yield server


@pytest.fixture
def cql_cluster() -> Iterator[CQLCluster]:
    """A started 3-node CQL test cluster (127.0.0.1-3, one port), stopped after the test."""
    from .server import CQLCluster

    with CQLCluster(nodes=3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def _cql_server_for_session() -> Iterator[CQLServer]:
    from .server import CQLServer

    with CQLServer() as server:
        yield server


@pytest.fixture
def cql_server_session(_cql_server_for_session: CQLServer) -> CQLServer:
    """The session-wide CQL test server, with faults cleared and stats reset for this test."""
    _cql_server_for_session.faults.clear()
    _cql_server_for_session.stats.reset()
    return _cql_server_for_session
