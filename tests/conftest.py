"""Shared fixtures: a Cassandra to talk to, real or embedded.

Integration tests take ``CASSANDRA_CONTACT_POINTS`` (and ``CASSANDRA_PORT``, credentials...) from the
environment when it is set, and start the project's CQL test server on 127.0.0.1 otherwise. Tests that
need the test server's counters or fault injection skip against a real cluster, saying so.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from tests.support.target import Target

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def cassandra() -> Iterator[Target]:
    """Where Cassandra is for this test: a fresh embedded CQL test server, or the real cluster."""
    if os.environ.get("CASSANDRA_CONTACT_POINTS"):
        yield Target.from_environment(os.environ)
        return
    from wsgi_cassandra.testing import CQLServer

    with CQLServer() as server:
        yield Target.for_server(server)


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


@pytest.fixture(autouse=True)
def no_connect_thread_left() -> Iterator[None]:
    """Every test shuts down what it connected: no wsgi-cassandra connect thread of this process outlives it."""
    before = {t.ident for t in threading.enumerate()}
    yield
    prefix = f"wsgi-cassandra-connect-{os.getpid()}"
    deadline = time.monotonic() + 3.0
    for _ in range(300):
        left = [t for t in threading.enumerate() if t.name == prefix and t.ident not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not left, f"{len(left)} connect thread(s) still running after the test: a holder was not shut down"
