"""Shared fixtures: a Cassandra to talk to, real or embedded.

Integration tests take ``CASSANDRA_CONTACT_POINTS`` (and ``CASSANDRA_PORT``, credentials...) from the
environment when it is set, and start the project's CQL test server on 127.0.0.1 otherwise. Tests that
need the test server's counters or fault injection skip against a real cluster, saying so.
"""

from __future__ import annotations

import inspect
import os
import threading
import uuid
from typing import TYPE_CHECKING

import pytest

from tests.support.target import Target
from tests.support.wait import eventually
from wsgi_cassandra.fastconnect import METADATA_THREAD_PREFIX

if TYPE_CHECKING:
    from collections.abc import Iterator


# A test that uses one of these fixtures talks to a real server over sockets: it is an integration test,
# whether or not it says so (tests that start a server themselves carry the mark explicitly).
SERVER_FIXTURES = frozenset({"cassandra", "cql_server", "cql_cluster", "cql_server_session"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def cassandra(request: pytest.FixtureRequest) -> Target:
    """Where Cassandra is for this test: the plugin's fresh embedded CQL test server (``cql_server``), or
    the real cluster that ``CASSANDRA_CONTACT_POINTS`` names."""
    if os.environ.get("CASSANDRA_CONTACT_POINTS"):
        return Target.from_environment(os.environ)
    return Target.for_server(request.getfixturevalue("cql_server"))


@pytest.fixture
def keyspace(cassandra: Target) -> Iterator[str]:
    """A keyspace of its own for this test, created before and dropped after (also on a real cluster)."""
    name = "wsgi_cassandra_test_" + uuid.uuid4().hex[:12]
    with cassandra.cluster() as cluster:
        session = cluster.connect()
        session.execute(
            f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        session.execute(f"CREATE TABLE {name}.items (id int PRIMARY KEY, name text)")
        for i in range(3):
            session.execute(f"INSERT INTO {name}.items (id, name) VALUES (%s, %s)", (i, f"item-{i}"))
    try:
        yield name
    finally:
        with cassandra.cluster() as cluster:
            cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {name}")


def _default_shutdown_bound() -> float:
    """How long ``SessionHolder.shutdown()`` may take by default: the bound it documents (its
    ``shutdown_timeout`` argument's default), read from the public class so that the two never disagree."""
    from wsgi_cassandra import SessionHolder

    parameter = inspect.signature(SessionHolder).parameters.get("shutdown_timeout")
    if parameter is None or not isinstance(parameter.default, (int, float)):
        raise RuntimeError("SessionHolder no longer documents a default shutdown_timeout: update this guard")
    return float(parameter.default)


# A connect thread ends within the shutdown bound once its holder is shut down (SessionHolder.shutdown()
# stops an attempt in flight); on a busy machine the thread may then wait a little to be scheduled.
SCHEDULING_SLACK = 2.0


# The threads SessionHolder.shutdown() ends within its bound, by name: the connect thread (holder.py), the
# probe while every host is down (recovery.py), the background schema metadata fetch (fastconnect.py).
SHUTDOWN_THREAD_PREFIXES = ("wsgi-cassandra-connect-", "wsgi-cassandra-recovery-", METADATA_THREAD_PREFIX)


@pytest.fixture(autouse=True)
def no_connect_thread_left() -> Iterator[None]:
    """Every test shuts down what it connected: no connect, recovery or metadata thread of wsgi-cassandra
    outlives it by more than the shutdown bound (waited for, bounded: a thread still ending is not a leak)."""
    before = {t.ident for t in threading.enumerate()}
    yield

    def left() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if t.name.startswith(SHUTDOWN_THREAD_PREFIXES) and t.ident not in before and t.is_alive()
        ]

    bound = _default_shutdown_bound() + SCHEDULING_SLACK
    ended = eventually(lambda: not left(), timeout=bound, step=0.02)
    assert ended, (
        f"{len(left())} thread(s) still running {bound:.1f} s after the test "
        f"(the shutdown bound plus scheduling slack): {sorted(t.name for t in left())}; a holder was not shut down"
    )
